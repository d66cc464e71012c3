#!/usr/bin/env python3
"""Writes the PyTorch-made ONNX fixtures that OnnxFixtureTest imports.

For each model NAME it writes, into the fixture folder:
  NAME.onnx          the model, exported by torch.onnx.export (dynamic batch dimension)
  NAME.safetensors   tensors: "input", "output" (PyTorch's output for input),
                     "output_weight" (fixed random weights W shaped like output),
                     "input_grad" (d sum(output * W) / d input, computed by PyTorch autograd;
                     absent for integer inputs) and "grad.P" for each parameter P
                     (d sum(output * W) / d P)

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
        if t.dtype == torch.int64:
            data, dtype = t.detach().contiguous().numpy().astype("<i8").tobytes(), "I64"
        else:
            data, dtype = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes(), "F32"
        header[name] = {
            "dtype": dtype,
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


class ElementwiseMix(nn.Module):
    """Elementwise, shape and reduction ops whose ONNX form changes across opsets 11 and 13."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, 5))

    def forward(self, x):  # x (2, 3, 4, 5)
        a = torch.where(x > 0, x, 0.1 * x) * self.scale  # Greater, Where, Mul
        b = torch.nn.functional.leaky_relu(x, 0.2) + torch.sigmoid(x) - torch.tanh(x)
        c = torch.nn.functional.gelu(x) / (x.pow(2) + 2).sqrt()  # Erf, Pow, Sqrt, Div
        d = torch.softmax(x, dim=1) + torch.log_softmax(x, dim=-1)  # Softmax on a middle axis
        e = x[:, 1:, ::2, 1:4]  # Slice with steps
        f = torch.flip(x, dims=[3])[:, :, :, :2]  # Slice with step -1
        g = x.mean(dim=-1, keepdim=True) + x.sum(dim=2, keepdim=True).unsqueeze(0).squeeze(0)
        h = torch.exp(-x.abs()) + torch.log(x.abs() + 1) + (x > 0.5).float()  # Cast
        parts = [a, b, c, d, e, f, g, h]
        return torch.cat([p.reshape(x.shape[0], -1) for p in parts], dim=1)


class ConvMix(nn.Module):
    """Conv and pooling variants: 1-D, grouped, dilated, asymmetric padding, ceil mode, pads
    excluded from averages; LayerNorm over channels; Transpose."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 3, padding=2, dilation=2)
        self.c2 = nn.Conv2d(6, 6, 3, padding=1, groups=2)
        self.c3 = nn.Conv2d(6, 4, 2, stride=2, dilation=1)
        self.ln = nn.LayerNorm(4)

    def forward(self, x):  # x (2, 4, 12)
        y = torch.relu(self.c1(x))  # (2, 6, 12)
        y1 = torch.nn.functional.max_pool1d(y, 3, stride=2, padding=1)  # (2, 6, 6)
        z = y.reshape(2, 6, 3, 4)
        z = self.c2(z)
        z = torch.nn.functional.pad(z, (0, 1, 1, 0))  # asymmetric: Pad
        z = self.c3(z)  # (2, 4, 2, 2)
        p = torch.nn.functional.avg_pool2d(y.reshape(2, 6, 3, 4), 3, stride=2, padding=1,
                                           count_include_pad=False)
        q = torch.nn.functional.max_pool2d(y.reshape(2, 6, 3, 4), 2, stride=2, ceil_mode=True)
        t = self.ln(z.permute(0, 2, 3, 1))  # LayerNorm over the channel dim
        return torch.cat([y1.flatten(1), z.flatten(1), p.flatten(1), q.flatten(1),
                          t.flatten(1)], dim=1)


class EmbeddingBag(nn.Module):
    """Gather of an embedding table by int64 token ids, mean over the sequence, a linear head."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, ids):  # ids (2, 5) int64
        return self.head(self.emb(ids).mean(dim=1))


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
    floating = x.dtype.is_floating_point
    xg = x.clone().requires_grad_(floating)
    model.zero_grad()
    out = model(xg)
    w = torch.randn(out.shape, generator=gen)
    (out * w).sum().backward()
    tensors = {"input": x, "output": out, "output_weight": w}
    if floating:
        tensors["input_grad"] = xg.grad
    for pname, p in model.named_parameters():
        if p.grad is not None:
            tensors["grad." + pname] = p.grad
    write_safetensors(
        os.path.join(out_dir, name + ".safetensors"),
        tensors,
        {"format": "pt", "producer": "make_fixtures.py", "torch": torch.__version__,
         "opset": str(opset)},
    )
    print(name, "->", onnx_path, os.path.getsize(onnx_path), "bytes", list(out.shape))


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

    mix = ElementwiseMix()
    xm = torch.randn(2, 3, 4, 5, generator=gen)
    make(out_dir, "ops_opset11", mix, xm, 11, True)
    make(out_dir, "ops_opset13", mix, xm, 13, True)
    make(out_dir, "conv_mix", ConvMix(), torch.randn(2, 4, 12, generator=gen), 13, False)
    ids = torch.randint(0, 11, (2, 5), generator=gen)
    make(out_dir, "embedding", EmbeddingBag(), ids, 13, True)


if __name__ == "__main__":
    main()
