#!/usr/bin/env python3
"""Writes reference.safetensors: a small PyTorch model's state dict, an input, and what PyTorch
computes from them (train-mode forward, loss, gradients, one Adam step, BatchNorm running stats).
PyTorchCompatibilityTest loads it into the same Ember model and compares.

Run with Debian's python3-torch: /usr/bin/python3 make_fixture.py   (PyTorch 1.13 was used)
The safetensors file is written by hand (the format is a length-prefixed JSON header plus raw
little-endian data) so that no extra Python package is needed.
"""
import json
import struct

import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 4, 3, padding=1),  # 0
    nn.BatchNorm2d(4),  # 1
    nn.ReLU(),  # 2
    nn.MaxPool2d(2),  # 3
    nn.Flatten(),  # 4
    nn.Linear(4 * 4 * 4, 16),  # 5
    nn.GELU(),  # 6
    nn.Linear(16, 5),  # 7
).double()
x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
y = torch.tensor([0, 3, 1, 4, 2, 3])

out = {}
for k, v in model.state_dict().items():
    out["state." + k] = v.clone()
out["input"] = x
out["target"] = y

model.train()
logits = model(x)
loss = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, y)
opt = torch.optim.Adam(model.parameters(), lr=0.01)
opt.zero_grad()
loss.backward()
out["logits"] = logits.detach()
out["loss"] = loss.detach().reshape(())
for k, p in model.named_parameters():
    out["grad." + k] = p.grad.clone()
opt.step()
for k, v in model.state_dict().items():
    out["after." + k] = v.clone()

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64"}
header, blobs, offset = {}, [], 0
for k, v in out.items():
    data = v.contiguous().numpy().tobytes()
    header[k] = {"dtype": DTYPES[v.dtype], "shape": list(v.shape),
                 "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open("reference.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for b in blobs:
        f.write(b)
print("wrote reference.safetensors:", len(out), "tensors, torch", torch.__version__)
