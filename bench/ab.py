#!/usr/bin/env python3
"""Two builds of tapegrad_bench side by side: runs one workload alternately in each, N pairs, and
prints each build's median and the median of the per-pair ratios (B/A), which is what to quote on
a shared machine: a pair runs back to back, so load that comes and goes hits both alike.

  python3 bench/ab.py OLD/bench/tapegrad_bench NEW/bench/tapegrad_bench 11 mlp --threads 1 --data datasets/mnist
  python3 bench/ab.py OLD/... NEW/... 31 chain --shape 4 --reps 15

Build the other commit beside yours (e.g. `git worktree add ../old <commit>`, then a Release
build with -DTAPEGRAD_BUILD_BENCH=ON). OpenBLAS runs on one thread, as in bench/run.
"""
import json
import os
import statistics
import subprocess
import sys


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    a, b, pairs, args = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    metric = "us_per_op" if args[0] == "chain" else "epoch_s"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    runs = {a: [], b: []}
    for _ in range(pairs):
        for binary in (a, b):
            out = subprocess.check_output([binary] + args, env=env).decode().strip().splitlines()[-1]
            runs[binary].append(json.loads(out)[metric])
    for name, binary in (("A", a), ("B", b)):
        print(f"{name} {binary}: median {statistics.median(runs[binary]):.4f} {metric} over {pairs}")
    ratios = [y / x for x, y in zip(runs[a], runs[b])]
    print(f"{' '.join(args)}: B/A per pair, median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
