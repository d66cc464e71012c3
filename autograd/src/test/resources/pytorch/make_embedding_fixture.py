#!/usr/bin/env python3
"""Writes embedding.safetensors: for each case below, an nn.Embedding state dict under PyTorch's
own keys (as initialized by PyTorch: N(0, 1) with the padding row zeroed), then a nonzero padding
row set by hand (to show that it still gets no gradient and is looked up as it is), the indices,
what PyTorch computes (output) and the gradient of L = sum(output * v_output) with respect to the
weight. EmbeddingPyTorchTest runs the same cases (keep the CASES table of both in step).

Run with Debian's python3-torch: /usr/bin/python3 make_embedding_fixture.py (PyTorch 1.13 was used)
The safetensors file is written by hand, as in make_fixture.py.
"""
import json
import struct

import torch
import torch.nn as nn

NUM, DIM = 6, 3
# the padding row (2 and 5 among them) is used several times, other rows repeat too
INDICES = [[2, 0, 5, 5], [1, 2, 2, 0], [5, 4, 3, 2]]
# name: padding_idx as given to PyTorch (None, positive, negative)
CASES = {"nopad": None, "pad2": 2, "padneg1": -1}

out = {}
torch.manual_seed(0)
for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
    for name, pad in CASES.items():
        key = f"{name}_{suffix}."
        m = nn.Embedding(NUM, DIM, padding_idx=pad).to(dtype)
        if pad is not None:
            # PyTorch zeroed the row at init; the init check below reads this first copy
            out[key + "init_pad_row"] = m.weight.detach()[pad].clone()
            with torch.no_grad():
                m.weight[pad] = torch.tensor([0.5, -1.5, 2.0], dtype=dtype)
        idx = torch.tensor(INDICES, dtype=torch.int64)
        y = m(idx)
        v = torch.randn(y.shape, dtype=dtype)
        (y * v).sum().backward()
        for k, t in m.state_dict().items():
            out[key + "state." + k] = t.clone()
        out[key + "indices"] = idx
        out[key + "v_output"] = v
        out[key + "output"] = y.detach()
        out[key + "grad.weight"] = m.weight.grad.clone()

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
with open("embedding.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for b in blobs:
        f.write(b)
print("wrote embedding.safetensors:", len(out), "tensors, torch", torch.__version__)
