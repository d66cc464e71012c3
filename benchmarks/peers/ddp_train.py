#!/usr/bin/env python3
"""PyTorch DDP peer of Ember's Spark training benchmark (see benchmarks/README.md).

What Spark's TorchDistributor runs: data-parallel training with DistributedDataParallel over the
gloo backend, RANKS processes of THREADS intra-op threads each, on 127.0.0.1. Same MLP
(784-256-128-10), loss (cross-entropy), optimizer (Adam, lr 1e-3) and global batch as
SparkTrainingBenchmark: each rank trains on global_batch / ranks rows per step, and DDP
all-reduces (averages) the gradients before every Adam step.

Data: a fixed pool of synthetic Fashion-MNIST-shaped inputs (standard normal) and uniform labels
in [0, 10), each rank its own slice of the pool; step i trains on slice i (a view), as
pytorch_train.py does. Run it with Debian's interpreter, which sees python3-torch:

    /usr/bin/python3 benchmarks/peers/ddp_train.py --batches 128,512

Prints one RESULT line per repetition and a SUMMARY per global batch, in samples/s of the whole
job (all ranks).
"""

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

POOL_MIN = 8192


def mlp():
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )


def train(rank, a, init_file, queue):
    torch.set_num_threads(a.threads)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=a.ranks
    )
    try:
        for global_batch in [int(b) for b in a.batches.split(",")]:
            rates = run(rank, a, global_batch)
            if rank == 0:
                queue.put((global_batch, rates))
    finally:
        dist.destroy_process_group()


def run(rank, a, global_batch):
    if global_batch % a.ranks:
        raise ValueError(f"global batch {global_batch} is not a multiple of {a.ranks} ranks")
    local = global_batch // a.ranks
    torch.manual_seed(a.seed)  # the same initial weights on every rank, as DDP requires
    net = DistributedDataParallel(mlp())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed + 1 + rank)
    batches = max(4, (POOL_MIN + local - 1) // local)
    xs = torch.randn(batches * local, 784, generator=gen)
    ys = torch.randint(0, 10, (batches * local,), generator=gen)
    state = {"next": 0, "loss_sum": 0.0}

    def step():
        i = state["next"]
        state["next"] = (i + 1) % batches
        opt.zero_grad()
        loss = loss_fn(net(xs[i * local : (i + 1) * local]), ys[i * local : (i + 1) * local])
        loss.backward()  # DDP all-reduces the gradients here
        opt.step()
        state["loss_sum"] += loss.item()

    # Warm up, then agree on a step count so that every rank runs the same number of steps.
    dist.barrier()
    start = time.perf_counter()
    warm = 0
    while warm < 5 or time.perf_counter() - start < a.warmup_seconds:
        step()
        warm += 1
    step_seconds = torch.tensor([(time.perf_counter() - start) / warm])
    dist.all_reduce(step_seconds, op=dist.ReduceOp.MAX)
    steps = max(3, math.ceil(a.rep_seconds / step_seconds.item()))
    rates = []
    for _ in range(a.reps):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        dist.barrier()
        rates.append(steps * global_batch / (time.perf_counter() - t0))
    if not math.isfinite(state["loss_sum"]):
        raise RuntimeError(f"non-finite loss at global batch {global_batch}")
    return rates


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="128,512", help="global batch sizes, comma-separated")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads per rank")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rep-seconds", type=float, default=2.0)
    p.add_argument("--warmup-seconds", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--label", default="pytorch-ddp")
    a = p.parse_args()
    print(
        f"# torch {torch.__version__}, DDP gloo, {a.ranks} ranks x {a.threads} threads",
        flush=True,
    )
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "rendezvous")
        mp.start_processes(
            train, args=(a, init_file, queue), nprocs=a.ranks, join=True, start_method="spawn"
        )
    while not queue.empty():
        global_batch, rates = queue.get()
        for r in rates:
            print(f"RESULT {a.label} {a.ranks}x{a.threads} mlp {global_batch} {r:.1f}")
        print(
            f"SUMMARY {a.label} ranks={a.ranks} threads={a.threads} mlp batch={global_batch} "
            f"median {statistics.median(rates):.0f} samples/s (reps {[round(r) for r in rates]})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
