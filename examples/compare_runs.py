"""Checks that two mnist output directories hold the same run: every checkpoint entry equal byte
for byte and every metrics.csv row equal, except the timing columns (train_seconds,
samples_per_second), which no two runs share. For resume tests.

Usage: compare_runs.py [--tolerance T] EXPECTED_DIR ACTUAL_DIR. Standard library only. Exits 1
naming the first difference. With --tolerance, numeric entries and metrics values may differ by
T times the largest magnitude of their entry (or column) instead of not at all: for runs that
compute the same thing in another summation order (data-parallel against one process).
"""
import array
import ast
import sys
import zipfile

TIMING = {"train_seconds", "samples_per_second"}


def timing_entry(name):
    # metrics.<i>.<column>.npy
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "metrics" and parts[2] in TIMING


def npy_values(data):
    """The values of a little-endian .npy file (float32, float64 or int64) as a list."""
    if data[:6] != b"\x93NUMPY":
        return None
    size_bytes = 2 if data[6] == 1 else 4
    header_len = int.from_bytes(data[8:8 + size_bytes], "little")
    start = 8 + size_bytes + header_len
    header = ast.literal_eval(data[8 + size_bytes:start].decode("latin1"))
    code = {"<f4": "f", "<f8": "d", "<i8": "q"}.get(header["descr"])
    return list(array.array(code, data[start:])) if code else None


def close(a, b, tolerance):
    """Two value lists of one entry or column within tolerance x their largest magnitude."""
    if len(a) != len(b):
        return False
    scale = max([abs(x) for x in a if x == x] + [1e-30])
    return all((x != x and y != y) or abs(x - y) <= tolerance * scale for x, y in zip(a, b))  # NaN == NaN


def main():
    args = sys.argv[1:]
    tolerance = None
    if args[:1] == ["--tolerance"]:
        tolerance, args = float(args[1]), args[2:]
    expected, actual = args[:2]
    with zipfile.ZipFile(expected + "/checkpoint.npz") as a, zipfile.ZipFile(actual + "/checkpoint.npz") as b:
        names_a, names_b = sorted(a.namelist()), sorted(b.namelist())
        if names_a != names_b:
            sys.exit(f"checkpoint entries differ: {sorted(set(names_a) ^ set(names_b))}")
        if not any(n.startswith("metrics.") for n in names_a):
            sys.exit("the checkpoint holds no metrics log")
        for name in names_a:
            if timing_entry(name) or a.read(name) == b.read(name):
                continue
            if tolerance is not None:
                va, vb = npy_values(a.read(name)), npy_values(b.read(name))
                if va is not None and vb is not None and close(va, vb, tolerance):
                    continue
            sys.exit(f"checkpoint entry {name} differs")
    with open(expected + "/metrics.csv") as f:
        rows_a = [line.rstrip("\n").split(",") for line in f]
    with open(actual + "/metrics.csv") as f:
        rows_b = [line.rstrip("\n").split(",") for line in f]
    if rows_a[0] != rows_b[0] or len(rows_a) != len(rows_b):
        sys.exit(f"metrics.csv: {len(rows_b) - 1} rows {rows_b[0]}, expected {len(rows_a) - 1} rows {rows_a[0]}")
    keep = [i for i, c in enumerate(rows_a[0]) if c not in TIMING]
    if tolerance is not None:
        for i in keep:
            col_a, col_b = [float(r[i]) for r in rows_a[1:]], [float(r[i]) for r in rows_b[1:]]
            if not close(col_a, col_b, tolerance):
                sys.exit(f"metrics.csv column {rows_a[0][i]} differs: {col_b}, expected {col_a}")
        return
    for row_a, row_b in zip(rows_a[1:], rows_b[1:]):
        if [row_a[i] for i in keep] != [row_b[i] for i in keep]:
            sys.exit(f"metrics.csv row differs: {row_b}, expected {row_a}")


main()
