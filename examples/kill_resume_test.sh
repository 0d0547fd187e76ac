#!/usr/bin/env bash
# mnist killed (SIGKILL) at every step of every file write (create, write, fsync, rename and
# directory fsync of the checkpoint and of metrics.csv), then resumed (or restarted when no
# checkpoint exists yet), must end with the uninterrupted run's checkpoint and metrics rows, whatever step the kill hit.
# Usage: kill_resume_test.sh MNIST_BINARY DATA_DIR WORK_DIR. Exits 77 (skipped) without MNIST.
set -euo pipefail
mnist=$1 data=$2 work=$3
here=$(dirname "$0")
if [[ ! -f $data/train-images-idx3-ubyte ]]; then
  echo "SKIPPED: no MNIST in $data; fetch it with bash scripts/fetch-mnist"
  exit 77
fi
rm -rf "$work"
# gnuplot is not under test here: /bin/true keeps the many short runs fast.
export TAPEGRAD_GNUPLOT=/bin/true
common=(--data "$data" --train-images 1000 --test-images 200 --hidden 16 --threads 1 --epochs 2)
"$mnist" "${common[@]}" --plot-dir "$work/straight" >/dev/null
# 2 epochs x 2 files (checkpoint, metrics.csv) x 5 steps (create, write, fsync, rename,
# directory fsync).
expected_steps=20
n=0
while :; do
  n=$((n + 1))
  dir=$work/killed_at_$n
  status=0
  # In a subshell, so bash's "Killed" report goes to the log below, not to the test's output.
  (TAPEGRAD_TEST_KILL_AT_WRITE_STEP=$n exec "$mnist" "${common[@]}" --plot-dir "$dir") >"$work/log" 2>&1 || status=$?
  if ((status == 0)); then break; fi  # the run took fewer steps than n: every step has been hit
  if ((status != 137)); then
    echo "killed at step $n: exit status $status, expected 137 (SIGKILL)"
    cat "$work/log"
    exit 1
  fi
  resume=()
  [[ -f $dir/checkpoint.npz ]] && resume=(--resume)
  "$mnist" "${common[@]}" --plot-dir "$dir" "${resume[@]}" >"$work/log" 2>&1 || {
    echo "killed at step $n: the run after it failed"
    cat "$work/log"
    exit 1
  }
  /usr/bin/python3 "$here/compare_runs.py" "$work/straight" "$dir" || {
    echo "killed at step $n: the resumed run differs from the uninterrupted one"
    exit 1
  }
done
if ((n - 1 != expected_steps)); then
  echo "the run took $((n - 1)) write steps, expected $expected_steps: the kills did not hit every step"
  exit 1
fi
echo "killed at each of the $expected_steps write steps, every resumed run matches the uninterrupted one"
