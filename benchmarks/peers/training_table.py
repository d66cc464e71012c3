#!/usr/bin/env python3
"""Tables of a run-training-benchmark.sh run (standard library only).

Usage: training_table.py RESULTS_TXT [MAX_OTHER_CORES]

RESULTS_TXT holds, per benchmark process, its lines `RESULT system threads model batch samples/s`
(one per timed repetition) followed by one `LOAD system threads round other_cores` line: the CPU
that other processes used while it ran. Only the repetitions of processes with other_cores <=
MAX_OTHER_CORES (default 0.2) count; a cell that has no such process uses all and is marked *.
"""

import collections
import statistics
import sys


def main(path, max_other=0.2):
    quiet, noisy = collections.defaultdict(list), collections.defaultdict(list)
    loads = collections.defaultdict(list)
    systems, threads, configs, pending = [], [], [], []
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "RESULT":
            s, t, m, b, r = f[1], int(f[2]), f[3], int(f[4]), float(f[5])
            pending.append(((s, t, m, b), r))
            for lst, v in ((systems, s), (threads, t), (configs, (m, b))):
                if v not in lst:
                    lst.append(v)
        elif f[0] == "LOAD":
            other = float(f[4])
            loads[(f[1], int(f[2]))].append(other)
            for k, r in pending:
                (quiet if other <= max_other else noisy)[k].append(r)
            pending = []
    med, mark, count = {}, {}, {}
    for k in set(quiet) | set(noisy):
        values = quiet[k] or noisy[k]
        med[k] = statistics.median(values)
        mark[k] = "" if quiet[k] else "*"
        count[k] = len(values)
    threads.sort()
    cols = [(s, t) for s in systems for t in threads]

    print("\nSamples/s (training steps; forward passes in the infer rows), median of the timed")
    print(f"repetitions of the processes during which other processes used <= {max_other} cores")
    print("(* = none did: all count). Higher is better.\n")
    print("| model, batch | " + " | ".join(f"{s} {t}T" for s, t in cols) + " |")
    print("| --- " * (len(cols) + 1) + "|")
    for m, b in configs:
        row = [
            f"{med[(s, t, m, b)]:,.0f}{mark[(s, t, m, b)]}" if (s, t, m, b) in med else "-"
            for s, t in cols
        ]
        print(f"| {m} {b} | " + " | ".join(row) + " |")

    peers = [s for s in systems if s != "ember"]
    if "ember" in systems and peers:
        print("\nEmber at its faster thread count / each peer at its faster thread count\n")
        print(
            "| model, batch | Ember best | "
            + " | ".join(f"/ {p} best" for p in peers)
            + " | Ember / best peer |"
        )
        print("| --- " * (len(peers) + 3) + "|")
        for m, b in configs:

            def best(s):
                # The faster thread count among the cells with quiet processes (a cell measured
                # only under load says nothing about the system); among all when none has any.
                keys = [(s, t, m, b) for t in threads if (s, t, m, b) in med]
                qk = [k for k in keys if not mark[k]]
                if not keys:
                    return 0, 0, ""
                k = max(qk or keys, key=lambda k: med[k])
                # dagger: another thread count of this system had no quiet process to compare
                return med[k], k[1], mark[k] + ("\u2020" if qk and len(qk) < len(keys) else "")

            e, et, em = best("ember")
            ratios, top, tm = [], 0, ""
            for p in peers:
                v, pt, pm = best(p)
                if v > top:
                    top, tm = v, pm
                ratios.append(f"{e / v:.2f}x{pm} ({v:,.0f}{pm}, {pt}T)" if v else "-")
            print(
                f"| {m} {b} | {e:,.0f}{em} ({et}T) | "
                + " | ".join(ratios)
                + (f" | **{e / top:.2f}x**{tm or em} |" if top else " | - |")
            )

    print("\n\u2020 = chosen among the thread counts with quiet processes only: the other one had none.")
    print("\nCPU used by other processes while each process ran (cores of 2), in run order:\n")
    for k in sorted(loads):
        v = loads[k]
        n = sum(x <= max_other for x in v)
        print(f"- {k[0]} {k[1]}T: " + ", ".join(f"{x:.2f}" for x in v) + f" ({n} of {len(v)} quiet)")
    reps = sorted(count.values())
    if reps:
        print(f"\nRepetitions per cell: {reps[0]} to {reps[-1]}.")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.2)
