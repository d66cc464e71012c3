#!/usr/bin/env python3
"""Trains a small MLP on Fashion-MNIST with PyTorch and exports it to ONNX, for the import and
fine-tuning checks (OnnxFashionMnistTest).

Writes, into the fixture folder:
  fashion_mlp.onnx          (N, 784) float in [0, 1] -> (N, 10) logits, dynamic batch
  fashion_mlp.safetensors   "input": the first 8 test images, "output": PyTorch's logits for
                            them; metadata "test_correct": PyTorch's correct count on the
                            10000 test images

Run (Debian's python3-torch 1.13 and dataset-fashion-mnist):
  /usr/bin/python3 onnx/src/test/python/make_fashion_mlp.py [DATA_DIR] [OUTPUT_DIR]
DATA_DIR defaults to /usr/share/datasets/fashion-mnist.
"""

import gzip
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import DEFAULT_OUT, write_safetensors  # noqa: E402


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">i", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "i" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load(data_dir, split):
    images = read_idx(os.path.join(data_dir, split + "-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, split + "-labels-idx1-ubyte.gz"))
    return images.reshape(-1, 784).float() / 255.0, labels.long()


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    out_dir = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT)
    torch.manual_seed(0)
    x_train, y_train = load(data_dir, "train")
    x_test, y_test = load(data_dir, "t10k")
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    for epoch in range(2):
        order = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        correct = int((model(x_test).argmax(1) == y_test).sum())
        sample = x_test[:8]
        logits = model(sample)
    onnx_path = os.path.join(out_dir, "fashion_mlp.onnx")
    torch.onnx.export(model, (sample,), onnx_path, input_names=["input"],
                      output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      opset_version=13)
    write_safetensors(os.path.join(out_dir, "fashion_mlp.safetensors"),
                      {"input": sample, "output": logits},
                      {"format": "pt", "producer": "make_fashion_mlp.py",
                       "test_correct": str(correct), "torch": torch.__version__})
    print("fashion_mlp ->", onnx_path, os.path.getsize(onnx_path), "bytes; test accuracy",
          correct / len(y_test))


if __name__ == "__main__":
    main()
