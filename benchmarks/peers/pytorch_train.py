#!/usr/bin/env python3
"""PyTorch side of Ember's training-throughput comparison (see benchmarks/README.md).

Same networks, data pool, step and timing as org.emberdl.benchmarks.TrainingThroughput, same
options and output lines. Run it with Debian's interpreter, which sees python3-torch:

    /usr/bin/python3 benchmarks/peers/pytorch_train.py --threads 1
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
        /usr/bin/python3 benchmarks/peers/pytorch_train.py --threads 2 --label pytorch-omp

Data: a fixed pool of synthetic Fashion-MNIST-shaped inputs (standard normal) and uniform labels
in [0, 10); step i trains on the contiguous slice i of the pool (a view). A step: zero_grad,
forward, cross-entropy, backward, Adam (lr 1e-3), loss.item().

infer:B, the forward-only row: the same MLP in eval mode under torch.inference_mode(), one forward
of batch B per step, a logit read back. `--export-onnx FILE` writes that MLP as ONNX (dynamic batch)
for ONNX Runtime's side of the row (OrtInferenceThroughput) and exits.
"""

import argparse
import math
import statistics
import sys
import time

import torch
from torch import nn

import peer_models  # noqa: E402  (beside this script)

POOL_MIN = 8192


def create(model):
    if model == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    if model == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 5 * 5, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    if model == "lstm":
        return peer_models.RowLstm()
    if model == "vit":
        return peer_models.PatchTransformer()
    raise ValueError(f"unknown model {model}")


def export_onnx(path, seed):
    """The row's MLP (create("mlp"), eval) as ONNX with a dynamic batch dimension."""
    torch.manual_seed(seed)
    net = create("mlp").eval()
    with torch.no_grad():
        torch.onnx.export(net, torch.randn(1, 784), path, input_names=["x"],
                          output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=13)


def run(model_name, batch, reps, rep_seconds, warmup_seconds, seed):
    if model_name == "infer":
        return run_inference(batch, reps, rep_seconds, warmup_seconds, seed)
    torch.manual_seed(seed)
    batches = max(4, (POOL_MIN + batch - 1) // batch)
    pool = batches * batch
    shape = {"cnn": (pool, 1, 28, 28), "lstm": (pool, 28, 28), "vit": (pool, 1, 28, 28)}.get(
        model_name, (pool, 784))
    xs = torch.randn(*shape)
    ys = torch.randint(0, 10, (pool,))
    net = create(model_name)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    state = {"next": 0, "loss_sum": 0.0}

    def step():
        i = state["next"]
        state["next"] = (i + 1) % batches
        x = xs[i * batch : (i + 1) * batch]
        y = ys[i * batch : (i + 1) * batch]
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        state["loss_sum"] += loss.item()

    rates = timed(step, batch, reps, rep_seconds, warmup_seconds)
    if not math.isfinite(state["loss_sum"]):
        raise RuntimeError(f"non-finite loss in {model_name} batch {batch}")
    return rates


def run_inference(batch, reps, rep_seconds, warmup_seconds, seed):
    torch.manual_seed(seed)
    batches = max(4, (POOL_MIN + batch - 1) // batch)
    xs = torch.randn(batches * batch, 784)
    net = create("mlp").eval()
    state = {"next": 0, "sum": 0.0}

    def step():
        i = state["next"]
        state["next"] = (i + 1) % batches
        with torch.inference_mode():
            logits = net(xs[i * batch : (i + 1) * batch])
        state["sum"] += logits[0, 0].item()

    rates = timed(step, batch, reps, rep_seconds, warmup_seconds)
    if not math.isfinite(state["sum"]):
        raise RuntimeError(f"non-finite logits in infer batch {batch}")
    return rates


def timed(step, batch, reps, rep_seconds, warmup_seconds):
    """Warm-up (which sizes the repetitions), then samples/s of each timed repetition."""
    start = time.perf_counter()
    warm = 0
    while warm < 5 or time.perf_counter() - start < warmup_seconds:
        step()
        warm += 1
    step_seconds = (time.perf_counter() - start) / warm
    steps = max(3, math.ceil(rep_seconds / step_seconds))
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * batch / (time.perf_counter() - t0))
    return rates


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs",
                   default="mlp:64,mlp:256,mlp:1024,cnn:128,lstm:128,vit:128,infer:4096")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rep-seconds", type=float, default=1.0)
    p.add_argument("--warmup-seconds", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--label", default="pytorch")
    p.add_argument("--export-onnx", metavar="FILE", help="write the infer row's MLP as ONNX, exit")
    a = p.parse_args()
    if a.export_onnx:
        export_onnx(a.export_onnx, a.seed)
        return 0
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    print(f"# torch {torch.__version__}, intra-op threads {torch.get_num_threads()}", flush=True)
    for config in a.configs.split(","):
        model, batch = config.split(":")
        batch = int(batch)
        rates = run(model, batch, a.reps, a.rep_seconds, a.warmup_seconds, a.seed)
        for r in rates:
            print(f"RESULT {a.label} {a.threads} {model} {batch} {r:.1f}")
        print(
            f"SUMMARY {a.label} threads={a.threads} {model} batch={batch} "
            f"median {statistics.median(rates):.0f} samples/s (reps {[round(r) for r in rates]})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
