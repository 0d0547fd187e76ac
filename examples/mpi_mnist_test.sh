#!/usr/bin/env bash
# mnist under mpirun -np 2: one set of outputs (rank 0's), the run follows the single-process one
# (float32, to the tolerance of its summation order), and --resume under mpirun ends with the
# checkpoint of an uninterrupted data-parallel run, byte for byte.
# Usage: mpi_mnist_test.sh MPIEXEC MNIST_BINARY DATA_DIR WORK_DIR. Exits 77 (skipped) without MNIST.
set -euo pipefail
mpiexec=$1 mnist=$2 data=$3 work=$4
if [[ ! -f $data/train-images-idx3-ubyte ]]; then
  echo "SKIPPED: no MNIST in $data; fetch it with bash scripts/fetch-mnist"
  exit 77
fi
here=$(dirname "$0")
rm -rf "$work"
mkdir -p "$work"
# As root mpirun needs --allow-run-as-root; --oversubscribe lets 2 ranks share fewer cores.
flags=(--oversubscribe)
if [[ $(id -u) -eq 0 ]]; then flags+=(--allow-run-as-root); fi
# No dropout: its masks are drawn per process, so only a dropout-free run can follow the
# single-process one.
common=(--data "$data" --train-images 3000 --test-images 500 --hidden 32 --threads 1 --dropout 0)
parallel() {  # NP ARGS...
  local np=$1
  shift
  timeout 300 "$mpiexec" "${flags[@]}" -np "$np" "$mnist" "$@"
}

parallel 2 "${common[@]}" --epochs 3 --plot-dir "$work/straight" >"$work/straight.out"
cat "$work/straight.out"
grep -q "in each of 2 processes" "$work/straight.out"
[[ $(grep -o "epoch  1/3  loss" "$work/straight.out" | wc -l) -eq 1 ]]
[[ $(grep -c "^test accuracy" "$work/straight.out") -eq 1 ]]

# The same run in one process and in 3 (where the processes' parts of a batch differ in size:
# 43, 43, 42 of 128). Only the summation order differs, but Adam moves a weight whose gradient is
# mostly rounding by up to lr per step, so there is no bound from rounding: the differences
# measured (largest entry difference / largest entry) were 4.5e-6 to 8.8e-6 under the Prescott,
# Haswell and SkylakeX kernels with 2 and 3 processes; 1e-4 allows ten times that. Averaging the
# unweighted batch means of 3 processes instead gave 0.16.
"$mnist" "${common[@]}" --epochs 3 --plot-dir "$work/single" >/dev/null
/usr/bin/python3 "$here/compare_runs.py" --tolerance 1e-4 "$work/single" "$work/straight"
parallel 3 "${common[@]}" --epochs 3 --plot-dir "$work/three" >/dev/null
/usr/bin/python3 "$here/compare_runs.py" --tolerance 1e-4 "$work/single" "$work/three"

parallel 2 "${common[@]}" --epochs 2 --plot-dir "$work/resumed" >/dev/null
parallel 2 "${common[@]}" --epochs 3 --plot-dir "$work/resumed" --resume | grep "resuming from .* after epoch 2"
/usr/bin/python3 "$here/compare_runs.py" "$work/straight" "$work/resumed"
echo "mnist under mpirun: one set of outputs, follows one process, resumes exactly"
