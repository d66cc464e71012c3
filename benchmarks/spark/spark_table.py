#!/usr/bin/env python3
"""Markdown tables from the logs of run-spark-benchmarks.sh (standard library only).

Usage: spark_table.py [DIR...]   (default benchmarks/target/spark-benchmark)

Pools the RUN lines of every inference-*.log and training-*.log in the DIRs (all rounds) and prints
medians (min-max, count): inference rows/s per case and the ratios; training samples/s, round
time and Spark's timing of the round jobs per batch and epoch; the standalone loop; the per-round
overhead (Spark round ms - standalone step ms, against the 2-thread step and against the faster of
the two thread counts); and the Spark-only probes.
"""

import collections
import glob
import os
import re
import statistics
import sys


def med(v):
    return statistics.median(v) if v else float("nan")


def cell(v, fmt="{:,.0f}"):
    if not v:
        return "-"
    return f"{fmt.format(med(v))} ({fmt.format(min(v))}-{fmt.format(max(v))}, n={len(v)})"


def main():
    dirs = sys.argv[1:] or ["benchmarks/target/spark-benchmark"]

    def logs(kind):
        return sorted(f for d in dirs for f in glob.glob(os.path.join(d, kind + "-*.log")))
    inf = collections.defaultdict(list)
    rounds = collections.defaultdict(dict)  # (file, round) -> case -> rows/s
    loads = []
    for f in logs("inference"):
        seen = collections.Counter()
        for line in open(f):
            m = re.match(r"RUN (\S+) (\d+) rows/s .* load ([\d.]+)", line)
            if m:
                inf[m.group(1)].append(float(m.group(2)))
                loads.append(float(m.group(3)))
                rounds[(f, seen[m.group(1)])][m.group(1)] = float(m.group(2))
                seen[m.group(1)] += 1
    if inf:
        print(f"### Inference, rows/s (1-min load during the runs {min(loads):.1f}-{max(loads):.1f})\n")
        print("| case | median (min-max, runs) |\n| --- | --- |")
        for k, v in inf.items():
            print(f"| {k} | {cell(v)} |")
        def ratio(a, b, pct=False):
            # Per round (the cases of one round ran back to back), then the median.
            v = [r[a] / r[b] for r in rounds.values() if a in r and b in r]
            if not v:
                return
            f = (lambda x: f"{100 * x:.0f}%") if pct else (lambda x: f"{x:.1f}x")
            print(f"| {a} / {b} | {f(med(v))} ({f(min(v))}-{f(max(v))}) |")

        print("\n| ratio, per round (median (min-max)) | value |\n| --- | --- |")
        for k in inf:
            if k.startswith("ember") or k.startswith("decode-array"):
                ratio(k, "mllib")
        for k in inf:
            if re.match(r"ember-b\d+$", k):
                b = k.split("-b")[1]
                for s in ("standalone-2t-b", "standalone-2x1t-b"):
                    ratio(k, s + b, True)
                ratio(k, "decode-array", True)
        print()

    spark = collections.defaultdict(list)
    timing = collections.defaultdict(list)
    sa = collections.defaultdict(list)
    best = collections.defaultdict(list)
    probe = collections.defaultdict(list)
    tloads = []
    for f in logs("training"):
        last = None
        rep_best = {}
        for line in open(f):
            m = re.match(r"RUN spark batch=(\d+) epoch=(\d+) samples/s=(\d+) .*round_ms=([\d.]+)"
                         r".* load ([\d.]+)", line)
            if m:
                last = (int(m.group(1)), int(m.group(2)))
                spark[last + ("samples/s",)].append(float(m.group(3)))
                spark[last + ("round ms",)].append(float(m.group(4)))
                tloads.append(float(m.group(5)))
                continue
            m = re.match(r"\s+spark timing epoch \d+ .*: job ([\d.]+) ms \(driver outside job "
                         r"([\d.-]+)\); submit->first launch ([\d.]+), task span ([\d.]+), last "
                         r"task end->job end ([\d.]+); per task: deserialize ([\d.]+), run "
                         r"([\d.]+) \(cpu ([\d.]+)\), result serialize ([\d.]+)", line)
            if m and last:
                names = ["job", "driver outside job", "submit->first launch", "task span",
                         "last task end->job end", "task deserialize", "task run", "task cpu",
                         "task result serialize"]
                for i, n in enumerate(names):
                    timing[last + (n,)].append(float(m.group(i + 1)))
                continue
            m = re.match(r"RUN standalone batch=(\d+) threads=(\d+) samples/s=(\d+) "
                         r"step_ms=([\d.]+)", line)
            if m:
                b, t = int(m.group(1)), int(m.group(2))
                sa[(b, t, "samples/s")].append(float(m.group(3)))
                sa[(b, t, "step ms")].append(float(m.group(4)))
                if last and b == last[0]:
                    rep_best[b] = min(rep_best.get(b, 1e9), float(m.group(4)))
                continue
            m = re.match(r"RUN probe (.+?)\s+([\d.]+) ms per job", line)
            if m:
                probe[m.group(1)].append(float(m.group(2)))
                continue
            m = re.match(r"RUN spark batch=(\d+) fit_seconds", line)
            if m:
                for b, v in rep_best.items():
                    best[b].append(v)
                rep_best = {}
        for b, v in rep_best.items():
            best[b].append(v)
    if spark:
        print(f"### Training (1-min load at the fits {min(tloads):.1f}-{max(tloads):.1f})\n")
        keys = sorted({k[:2] for k in spark})
        print("| batch | epoch | samples/s | round ms | job ms | driver outside job ms | "
              "submit->first launch ms | task span ms | task run ms (cpu) | task deserialize ms |"
              " task result serialize ms |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for b, e in keys:
            t = lambda n: f"{med(timing[(b, e, n)]):.1f}"
            print(f"| {b} | {e} | {cell(spark[(b, e, 'samples/s')])} | "
                  f"{cell(spark[(b, e, 'round ms')], '{:.1f}')} | {t('job')} | "
                  f"{t('driver outside job')} | {t('submit->first launch')} | {t('task span')} | "
                  f"{t('task run')} ({t('task cpu')}) | {t('task deserialize')} | "
                  f"{t('task result serialize')} |")
        print("\n| standalone batch | threads | samples/s | step ms |\n| --- | --- | --- | --- |")
        for b, t in sorted({k[:2] for k in sa}, key=lambda x: (-x[0], -x[1])):
            print(f"| {b} | {t} | {cell(sa[(b, t, 'samples/s')])} | "
                  f"{cell(sa[(b, t, 'step ms')], '{:.2f}')} |")
        print("\n| batch | epoch | Spark samples/s / standalone 2t | round ms | standalone step ms"
              " 2t / best of 1t,2t | overhead ms (vs 2t / vs best) | overhead % of round |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for b, e in keys:
            r = med(spark[(b, e, "round ms")])
            s2 = med(sa[(b, 2, "step ms")])
            sb = med(best[b])
            ratio = med(spark[(b, e, "samples/s")]) / med(sa[(b, 2, "samples/s")])
            print(f"| {b} | {e} | {100 * ratio:.0f}% | {r:.1f} | {s2:.2f} / {sb:.2f} | "
                  f"{r - s2:.1f} / {r - sb:.1f} | {100 * (r - s2) / r:.0f}% / "
                  f"{100 * (r - sb) / r:.0f}% |")
    if probe:
        print("\n| Spark-only probe (2 tasks, local[2]) | ms per job |\n| --- | --- |")
        for k, v in probe.items():
            print(f"| {k} | {cell(v, '{:.2f}')} |")


if __name__ == "__main__":
    main()
