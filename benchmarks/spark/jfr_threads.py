#!/usr/bin/env python3
"""Where a JFR recording of a Spark harness spends its CPU samples, by thread group (stdlib only).

Usage: jfr_threads.py RECORDING.jfr [--skip-seconds S] [--top N] [--match SUBSTRING]

Reads jdk.ExecutionSample (threads running Java code, every 10 ms with settings=profile) and
jdk.NativeMethodSample (threads in native code, every 20 ms: weighted x2) through
`jfr print --json`, drops the first S seconds, optionally keeps only samples whose stack contains
SUBSTRING (e.g. Coordinator to keep the training rounds), and prints per thread group (the driver's
main thread, Spark's task threads, the DAG scheduler, the task-result getters, RPC dispatchers,
JIT/GC are not sampled by JFR) the share of all samples, then the top frames of each group:
 - "self": the top frame,
 - "first non-JDK frame": the innermost frame outside java.*, jdk.*, sun.*, scala.* (what code
   asked for the work: Spark's serializer, Ember's Coordinator, ...),
 - "via": the innermost org.emberdl frame, or Spark frame when there is none,
 - "org.emberdl.spark frame > its callee": the innermost org.emberdl.spark frame and what it
   called (Coordinator.runRound > SparkContext.broadcast, ...).
Samples whose top frame is a wait (epoll, park, sleep) are left out, so the shares are of CPU
time, not of wall time.
"""

import argparse
import collections
import datetime
import json
import re
import subprocess

WEIGHT = {"jdk.ExecutionSample": 1, "jdk.NativeMethodSample": 2}
GROUPS = [
    ("driver main", re.compile(r"^main$")),
    ("Spark task", re.compile(r"^Executor task launch worker")),
    ("Ember pool worker", re.compile(r"(?i)ember|parallel")),
    ("DAG scheduler", re.compile(r"^dag-scheduler")),
    ("task-result-getter", re.compile(r"^task-result-getter")),
    ("RPC dispatcher", re.compile(r"^dispatcher-|^rpc-|^netty-rpc|^executor-")),
    ("block manager / cleaner", re.compile(r"(?i)block-manager|cleaner|BlockManager")),
    ("listener bus", re.compile(r"(?i)listener|spark-listener-group")),
    ("standalone pool", re.compile(r"^pool-")),
]
JDK = ("java.", "jdk.", "sun.", "scala.", "com.sun.")
# Top frames of threads that wait (idle event loops, parked pools): not CPU work.
IDLE = ("io.netty.channel.epoll.Native.epollWait", "sun.nio.ch.EPoll.wait",
        "jdk.internal.misc.Unsafe.park", "java.lang.Object.wait", "java.lang.Thread.sleep",
        "sun.nio.ch.Net.accept", "sun.nio.ch.Net.poll", "java.lang.Thread.yield",
        "java.lang.Thread.onSpinWait")


def group(name):
    for g, rx in GROUPS:
        if rx.search(name):
            return g
    return "other: " + re.sub(r"[0-9]+", "N", name)[:40]


def frame_name(frame):
    m = frame["method"]
    return m["type"]["name"].replace("/", ".") + "." + m["name"]


def ts(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")[:26] + "+00:00")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("recording")
    p.add_argument("--skip-seconds", type=float, default=0)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--match", default=None)
    a = p.parse_args()
    out = subprocess.run(
        ["jfr", "print", "--json", "--stack-depth", "96", "--events",
         "jdk.ExecutionSample,jdk.NativeMethodSample", a.recording],
        check=True, capture_output=True, text=True).stdout
    events = json.loads(out)["recording"]["events"]
    if not events:
        print("no samples")
        return
    t0 = min(ts(e["values"]["startTime"]) for e in events)
    per_group = collections.Counter()
    self_ = collections.defaultdict(collections.Counter)
    first = collections.defaultdict(collections.Counter)
    via = collections.defaultdict(collections.Counter)
    call = collections.defaultdict(collections.Counter)
    total = 0
    idle = 0
    for e in events:
        v = e["values"]
        if (ts(v["startTime"]) - t0).total_seconds() < a.skip_seconds:
            continue
        frames = [frame_name(f) for f in (v.get("stackTrace") or {}).get("frames", [])]
        if not frames:
            continue
        if a.match and not any(a.match in f for f in frames):
            continue
        if frames[0].startswith(IDLE):
            idle += 1
            continue
        thread = (v.get("sampledThread") or {}).get("javaName") or "?"
        g = group(thread)
        w = WEIGHT[e["type"]]
        total += w
        per_group[g] += w
        top = frames[0] + (" [native]" if e["type"] == "jdk.NativeMethodSample" else "")
        self_[g][top] += w
        first[g][next((f for f in frames if not f.startswith(JDK)), "(JDK only)")] += w
        via[g][next((f for f in frames if f.startswith("org.emberdl.")),
                    next((f for f in frames if f.startswith("org.apache.spark.")), "(none)"))] += w
        i = next((i for i, f in enumerate(frames) if f.startswith("org.emberdl.spark.")), None)
        call[g]["(no org.emberdl.spark frame)" if i is None else
                frames[i] + (" > " + frames[i - 1] if i > 0 else " (itself)")] += w
    print(f"{total} weighted CPU samples after {a.skip_seconds:.0f} s"
          + (f" with '{a.match}' on the stack" if a.match else "")
          + f" ({idle} samples of waiting threads left out)")
    for g, n in per_group.most_common():
        print(f"\n== {g}: {100 * n / total:.1f}% of samples")
        for title, c in (("self", self_[g]), ("first non-JDK frame", first[g]), ("via", via[g]),
                         ("org.emberdl.spark frame > its callee", call[g])):
            print(f"  {title}:")
            for k, m in c.most_common(a.top):
                print(f"    {100 * m / n:5.1f}%  {k}")


if __name__ == "__main__":
    main()
