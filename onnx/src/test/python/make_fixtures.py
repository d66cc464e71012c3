#!/usr/bin/env python3
"""Writes the PyTorch-made ONNX fixtures that OnnxFixtureTest imports.

For each model NAME it writes, into the fixture folder:
  NAME.onnx          the model, exported by torch.onnx.export (dynamic batch dimension)
  NAME.safetensors   float32 tensors: "input", "output" (PyTorch's output for input),
                     "output_weight" (fixed random weights W shaped like output) and
                     "input_grad" (d sum(output * W) / d input, computed by PyTorch autograd)

The .safetensors file is written by hand here (8-byte little-endian header length, a JSON
header, raw little-endian data) so that the script needs nothing beyond torch; Ember's own
Safetensors reader loads it.

Run (Debian's python3-torch 1.13; the onnx Python package is not needed):
  /usr/bin/python3 onnx/src/test/python/make_fixtures.py [OUTPUT_DIR]
OUTPUT_DIR defaults to onnx/src/test/resources/org/emberdl/onnx/fixtures beside this script.
Everything is seeded, so reruns give the same tensors (the .onnx bytes may differ across torch
versions).
"""

import json
import os
import struct
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "resources", "org", "emberdl", "onnx", "fixtures")


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)  # align the data to 8 bytes, as safetensors does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


class Mlp(nn.Module):
    """Flatten -> Linear -> ReLU -> Linear -> Tanh -> Linear -> LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(12, 16)
        self.fc2 = nn.Linear(16, 8)
        self.fc3 = nn.Linear(8, 4)

    def forward(self, x):
        x = self.flatten(x)
        x = torch.relu(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return torch.log_softmax(self.fc3(x), dim=1)


class BasicBlock(nn.Module):
    """ResNet's basic block: conv-bn-relu-conv-bn plus a (projected) skip, then relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.down is None else self.down(x)
        return torch.relu(y + skip)


class SmallResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.block1 = BasicBlock(8, 8, 1)
        self.block2 = BasicBlock(8, 12, 2)
        self.avg = nn.AvgPool2d(2, stride=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.stem(x))))
        x = self.block2(self.block1(x))
        x = self.gap(self.avg(x))
        return self.fc(torch.flatten(x, 1))


def warm_batchnorm(model, shape, gen):
    """A few training steps' forward passes give the running statistics non-trivial values."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(shape, generator=gen) * 1.5 + 0.3)
    model.eval()


def make(out_dir, name, model, x, opset, dynamic_names, **export_kwargs):
    model.eval()
    gen = torch.Generator().manual_seed(1000 + len(name))
    onnx_path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(
        model,
        (x,),
        onnx_path,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_names else None,
        opset_version=opset,
        **export_kwargs,
    )
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    w = torch.randn(out.shape, generator=gen)
    (out * w).sum().backward()
    write_safetensors(
        os.path.join(out_dir, name + ".safetensors"),
        {"input": x, "output": out, "output_weight": w, "input_grad": xg.grad},
        {"format": "pt", "producer": "make_fixtures.py", "torch": torch.__version__,
         "opset": str(opset)},
    )
    ops = {}
    print(name, "->", onnx_path, os.path.getsize(onnx_path), "bytes", list(out.shape))
    return ops


def main():
    out_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(42)

    mlp = Mlp()
    make(out_dir, "mlp", mlp, torch.randn(3, 3, 4, generator=gen), 13, True)

    cnn = SmallResNet()
    warm_batchnorm(cnn, (4, 3, 10, 10), gen)
    # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into the convolutions)
    make(out_dir, "resnet", cnn, torch.randn(2, 3, 10, 10, generator=gen), 13, True,
         training=torch.onnx.TrainingMode.PRESERVE)

    enc = nn.TransformerEncoderLayer(
        d_model=16, nhead=2, dim_feedforward=32, dropout=0.1, activation="gelu",
        batch_first=True)
    # LayerNorm's default ones and zeros would be de-duplicated into one initializer by the
    # exporter; perturbed values keep one initializer per parameter and test the affine part
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    x = torch.randn(2, 5, 16, generator=gen)
    # opset 13: LayerNorm decomposed (ReduceMean, Sub, Pow, Sqrt, Div); weights folded
    make(out_dir, "encoder_opset13", enc, x, 13, True)
    # opset 17: LayerNormalization; no folding, so initializers keep PyTorch's names and the
    # graph slices and transposes them itself
    make(out_dir, "encoder_opset17", enc, x, 17, True, do_constant_folding=False)


if __name__ == "__main__":
    main()
