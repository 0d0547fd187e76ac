"""Checks that two mnist output directories hold the same run: every checkpoint entry equal byte
for byte and every metrics.csv row equal, except the timing columns (train_seconds,
samples_per_second), which no two runs share. For resume tests.

Usage: compare_runs.py EXPECTED_DIR ACTUAL_DIR. Standard library only. Exits 1 naming the first
difference.
"""
import sys
import zipfile

TIMING = {"train_seconds", "samples_per_second"}


def timing_entry(name):
    # metrics.<i>.<column>.npy
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "metrics" and parts[2] in TIMING


def main():
    expected, actual = sys.argv[1:3]
    with zipfile.ZipFile(expected + "/checkpoint.npz") as a, zipfile.ZipFile(actual + "/checkpoint.npz") as b:
        names_a, names_b = sorted(a.namelist()), sorted(b.namelist())
        if names_a != names_b:
            sys.exit(f"checkpoint entries differ: {sorted(set(names_a) ^ set(names_b))}")
        if not any(n.startswith("metrics.") for n in names_a):
            sys.exit("the checkpoint holds no metrics log")
        for name in names_a:
            if not timing_entry(name) and a.read(name) != b.read(name):
                sys.exit(f"checkpoint entry {name} differs")
    with open(expected + "/metrics.csv") as f:
        rows_a = [line.rstrip("\n").split(",") for line in f]
    with open(actual + "/metrics.csv") as f:
        rows_b = [line.rstrip("\n").split(",") for line in f]
    if rows_a[0] != rows_b[0] or len(rows_a) != len(rows_b):
        sys.exit(f"metrics.csv: {len(rows_b) - 1} rows {rows_b[0]}, expected {len(rows_a) - 1} rows {rows_a[0]}")
    keep = [i for i, c in enumerate(rows_a[0]) if c not in TIMING]
    for row_a, row_b in zip(rows_a[1:], rows_b[1:]):
        if [row_a[i] for i in keep] != [row_b[i] for i in keep]:
            sys.exit(f"metrics.csv row differs: {row_b}, expected {row_a}")


main()
