#!/usr/bin/env python3
"""PyTorch twin of org.emberdl.nn.bench.LstmThroughput: forward + backward of
nn.LSTM(28, 128, batch_first=True) on a float32 batch of 128 x 28 steps, loss = output.sum();
prints the median time of the timed iterations.

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 lstm_step.py \
        THREADS [ITERATIONS] [lstm|gru]
"""
import statistics
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
iters = int(sys.argv[2]) if len(sys.argv) > 2 else 30
cell = sys.argv[3] if len(sys.argv) > 3 else "lstm"
torch.set_num_threads(threads)
torch.manual_seed(0)
lstm = (torch.nn.GRU if cell == "gru" else torch.nn.LSTM)(28, 128, batch_first=True)
x = torch.randn(128, 28, 28)
times = []
for i in range(-5, iters):
    t0 = time.perf_counter()
    lstm.zero_grad()
    out, _ = lstm(x)
    out.sum().backward()
    t1 = time.perf_counter()
    if i >= 0:
        times.append((t1 - t0) * 1000)
med = statistics.median(times)
print(f"torch {torch.__version__} {cell.upper()}(28->128) fwd+bwd, batch 128 x 28 steps, threads {threads}:"
      f" median {med:.2f} ms (min {min(times):.2f}), {128 * 1000 / med:.0f} samples/s")
