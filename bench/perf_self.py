"""Self time by function from `perf script` output, counting only samples whose call stack passes
through a function matching the given pattern (e.g. train_step), so set-up work is left out, plus
every sample in OpenBLAS (its kernels keep no frame pointers, so their stacks stop short; the
benchmarks call BLAS only inside the profiled functions).

    perf script -i FILE | python3 bench/perf_self.py train_step
"""
import collections
import re
import sys


def main():
    pattern = re.compile(sys.argv[1].strip("*").replace("*", ".*"))
    counts = collections.Counter()
    total = 0
    frames = []
    for line in list(sys.stdin) + [""]:
        if line.strip():
            if line.startswith((" ", "\t")):
                frames.append(line.strip())
            continue
        if frames and (any(pattern.search(f) for f in frames) or "libopenblas" in frames[0]):
            total += 1
            # "addr symbol+off (dso)": keep the symbol without its offset, and the dso's file name.
            m = re.match(r"\S+\s+(.*?)(\+0x[0-9a-f]+)?\s+\((.*)\)$", frames[0])
            symbol, dso = (m.group(1), m.group(3).rsplit("/", 1)[-1]) if m else (frames[0], "?")
            counts[(symbol, dso)] += 1
        frames = []
    print(f"{total} samples through /{pattern.pattern}/ or in OpenBLAS")
    for (symbol, dso), n in counts.most_common(25):
        print(f"{100.0 * n / max(total, 1):6.2f}%  {dso:<28} {symbol[:110]}")


if __name__ == "__main__":
    main()
