#!/usr/bin/env python3
"""Where a JFR recording of TrainingThroughput spends its time (standard library only).

Usage: jfr_top.py RECORDING.jfr [--skip-seconds S] [--top N] [--thread NAME]

Reads jdk.ExecutionSample (threads in Java code, every 10 ms with settings=profile) and
jdk.NativeMethodSample (threads in native code such as OpenBLAS, every 20 ms: weighted x2) through
`jfr print --json`, drops the first S seconds (warm-up), and prints the share of samples by
 - step phase: the callee of the training step (forward, loss, backward, optimizer, scope close)
   or of the infer row's scoring step (the forward, the read-back, scope close),
 - autograd function: the innermost org.emberdl.autograd.functions frame (which op's forward or
   backward: MatMulFunction.backward, ConvFunctions$Conv2d.forward, ...),
 - tensor API frame: the innermost frame of org.emberdl.tensor outside its cpu and memory
   packages (NDArray.matmul, Convolution.conv2dBackwardWeight, ...),
 - Ember frame: the innermost org.emberdl frame (the kernel or op doing the work),
 - self frame: the top frame (a JIT-compiled loop, a native BLAS call, a spin wait, ...).
"""

import argparse
import collections
import datetime
import json
import subprocess

WEIGHT = {"jdk.ExecutionSample": 1, "jdk.NativeMethodSample": 2}


def frame_name(frame):
    m = frame["method"]
    return m["type"]["name"].replace("/", ".") + "." + m["name"]


def ts(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")[:26] + "+00:00")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("recording")
    p.add_argument("--skip-seconds", type=float, default=0)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--thread", default=None, help="only this Java thread (e.g. main)")
    a = p.parse_args()
    out = subprocess.run(
        ["jfr", "print", "--json", "--stack-depth", "128", "--events",
         "jdk.ExecutionSample,jdk.NativeMethodSample", a.recording],
        check=True, capture_output=True, text=True).stdout
    events = json.loads(out)["recording"]["events"]
    if not events:
        print("no samples")
        return
    t0 = min(ts(e["values"]["startTime"]) for e in events)
    phase, func, api, ember, self_, threads, pair = (collections.Counter() for _ in range(7))
    total = 0
    for e in events:
        v = e["values"]
        if (ts(v["startTime"]) - t0).total_seconds() < a.skip_seconds:
            continue
        thread = (v.get("sampledThread") or {}).get("javaName") or "?"
        if a.thread and thread != a.thread:
            continue
        frames = [frame_name(f) for f in (v.get("stackTrace") or {}).get("frames", [])]
        if not frames:
            continue
        w = WEIGHT[e["type"]]
        total += w
        threads[thread] += w
        top = frames[0] + (" [native]" if e["type"] == "jdk.NativeMethodSample" else "")
        self_[top] += w
        func[next((f for f in frames if f.startswith("org.emberdl.autograd.functions.")),
                  "(no autograd function)")] += w
        api[next((f for f in frames if f.startswith("org.emberdl.tensor.")
                  and not f.startswith(("org.emberdl.tensor.cpu.", "org.emberdl.tensor.memory."))),
                 "(no tensor API frame)")] += w
        inner = next((f for f in frames if f.startswith("org.emberdl.")), "(no Ember frame)")
        ember[inner] += w
        a_frame = next((f for f in frames if f.startswith("org.emberdl.tensor.")
                        and not f.startswith(("org.emberdl.tensor.cpu.", "org.emberdl.tensor.memory."))),
                       "(no tensor API frame)")
        pair[a_frame.replace("org.emberdl.tensor.", "") + " > " + inner.replace("org.emberdl.tensor.", "")] += w
        ph = "(outside the step)"
        for i, f in enumerate(frames):
            if f.endswith(("TrainingThroughput$Trainer.step", "TrainingThroughput$Scorer.step")):
                ph = frames[i - 1] if i > 0 else f + " (itself)"
                break
            if f.startswith("org.emberdl.tensor.cpu.Parallel$Worker"):
                ph = "(pool worker)"
                break
        phase[ph] += w
    print(f"{total} weighted samples after {a.skip_seconds:.0f} s; threads: "
          + ", ".join(f"{k} {100 * n / total:.0f}%" for k, n in threads.most_common(6)))
    for title, c in (("step phase", phase), ("autograd function", func),
                     ("tensor API frame", api), ("innermost Ember frame", ember),
                     ("tensor API frame > innermost Ember frame", pair),
                     ("self (top) frame", self_)):
        print(f"\n{title}:")
        for k, n in c.most_common(a.top):
            print(f"  {100 * n / total:5.1f}%  {k}")


if __name__ == "__main__":
    main()
