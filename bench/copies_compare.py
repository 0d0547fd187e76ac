#!/usr/bin/python3
"""Side by side: tapegrad_bench and torch_bench.py on the `copies` and `transcendental` workloads
(issue 19), alternating fresh processes, and a markdown table of the medians over the runs.

  python3 bench/copies_compare.py [--bin build/release/bench/tapegrad_bench] [--runs 3] [--reps 21]
                                  [--threads 1] [--workloads copies,transcendental]

Each cell is the median over the runs of each process's median of --reps calls; "of floor" is that
over the same framework's floor (a memcpy of the same bytes, or exp of the same size, measured in
the same process); tapegrad / PyTorch is the ratio of the medians. The load (uptime) is printed
before and after: on a loaded machine the figures are inflated and noisy.
"""
import argparse
import json
import os
import statistics
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bench", "tapegrad_bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reps", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workloads", default="copies,transcendental")
    args = parser.parse_args()
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    common = ["--reps", str(args.reps), "--threads", str(args.threads)]
    for workload in args.workloads.split(","):
        cmds = {"tapegrad": [args.bin, workload, *common],
                "torch": ["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_bench.py"), workload, *common]}
        rows = {}  # row -> framework -> list of result dicts
        order = []
        for r in range(args.runs):
            for framework in (("tapegrad", "torch") if r % 2 == 0 else ("torch", "tapegrad")):
                for res in run(cmds[framework]):
                    if res["row"] not in rows:
                        order.append(res["row"])
                    rows.setdefault(res["row"], {}).setdefault(framework, []).append(res)
        print(f"\n{workload}: `{' '.join(cmds['tapegrad'][1:])}` vs `torch_bench.py {' '.join(cmds['torch'][2:])}`,"
              f" {args.runs} runs each\n")
        print("| row | tapegrad ms | of floor | PyTorch ms | of floor | tapegrad / PyTorch | floor |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for row in order:
            cells = []
            medians = {}
            for framework in ("tapegrad", "torch"):
                results = rows[row].get(framework, [])
                ms = statistics.median(r["ms"] for r in results)
                floor = statistics.median(r["floor_ms"] for r in results)
                medians[framework] = ms
                cells += [f"{ms:.3f} ({min(r['min_ms'] for r in results):.3f})", f"{ms / floor:.2f}"]
            ratio = medians["tapegrad"] / medians["torch"]
            print(f"| {row} | {' | '.join(cells)} | {ratio:.2f} | {rows[row]['tapegrad'][0]['floor']} |")
    print("\nload after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
