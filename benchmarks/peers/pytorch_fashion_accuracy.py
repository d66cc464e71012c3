#!/usr/bin/env python3
"""Fashion-MNIST accuracy of the same recipes in PyTorch, for comparison with Ember's
FashionMnistTraining (same models, Adam 1e-3, batch 128, pixels / 255, shuffled every epoch).

Usage: /usr/bin/python3 pytorch_fashion_accuracy.py [--lr X] [--schedule constant|cosine]
           {mlp|cnn|lstm|vit} EPOCHS SEED [SEED ...]
(--lr: Adam's learning rate, default 1e-3; --schedule cosine: cosine annealing to 0 over all
steps, stepped after every batch, as FashionMnistTraining's --schedule cosine)
(lstm: each image as 28 steps of one 28-pixel row, LSTM(128) batch_first, last step, linear(10),
as Ember's RowLstm; vit: the patch transformer of peer_models.py, as Ember's PatchTransformer)
Needs Debian's python3-torch; reads /usr/share/datasets/fashion-mnist (dataset-fashion-mnist).
"""
import gzip
import struct
import sys

import torch
import torch.nn as nn

import peer_models  # beside this script

DIR = "/usr/share/datasets/fashion-mnist/"


def idx(name):
    with gzip.open(DIR + name) as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def model(kind):
    if kind == "vit":
        return peer_models.PatchTransformer()
    if kind == "lstm":
        return peer_models.RowLstm()
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                             nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def main():
    args = sys.argv[1:]
    lr, schedule = 1e-3, "constant"
    while args and args[0].startswith("--"):
        if args[0] == "--lr":
            lr = float(args[1])
        elif args[0] == "--schedule":
            schedule = args[1]
        else:
            raise SystemExit(f"unknown option {args[0]}")
        args = args[2:]
    kind, epochs, seeds = args[0], int(args[1]), [int(s) for s in args[2:]]
    xtr = idx("train-images-idx3-ubyte.gz").float().div(255).unsqueeze(1)
    ytr = idx("train-labels-idx1-ubyte.gz").long()
    xte = idx("t10k-images-idx3-ubyte.gz").float().div(255).unsqueeze(1)
    yte = idx("t10k-labels-idx1-ubyte.gz").long()
    for seed in seeds:
        torch.manual_seed(seed)
        net = model(kind)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        steps = epochs * ((len(xtr) + 127) // 128)
        sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, 0)
                 if schedule == "cosine" else None)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(epochs):
            net.train()
            perm = torch.randperm(len(xtr))
            for i in range(0, len(xtr), 128):
                b = perm[i:i + 128]
                opt.zero_grad()
                loss = loss_fn(net(xtr[b]), ytr[b])
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
        net.eval()
        with torch.no_grad():
            acc = (net(xte).argmax(1) == yte).float().mean().item()
        print(f"{kind} epochs={epochs} lr={lr} schedule={schedule} seed={seed}"
              f" test accuracy {100 * acc:.2f}%", flush=True)


if __name__ == "__main__":
    main()
