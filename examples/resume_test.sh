#!/usr/bin/env bash
# mnist: 2 epochs, then --resume to 3, must end with the checkpoint of a straight 3-epoch run.
# Usage: resume_test.sh MNIST_BINARY DATA_DIR WORK_DIR. Exits 77 (skipped) without MNIST.
set -euo pipefail
mnist=$1 data=$2 work=$3
if [[ ! -f $data/train-images-idx3-ubyte ]]; then
  echo "SKIPPED: no MNIST in $data; fetch it with bash scripts/fetch-mnist"
  exit 77
fi
rm -rf "$work"
common=(--data "$data" --train-images 3000 --test-images 500 --hidden 32 --threads 1)
"$mnist" "${common[@]}" --epochs 3 --plot-dir "$work/straight" >/dev/null
"$mnist" "${common[@]}" --epochs 2 --plot-dir "$work/resumed" >/dev/null
"$mnist" "${common[@]}" --epochs 3 --plot-dir "$work/resumed" --resume | grep "resuming from .* after epoch 2"
# The same weights, optimizer state and metrics (the checkpoint holds the metrics log, whose
# timing columns differ from run to run, so not byte for byte).
/usr/bin/python3 "$(dirname "$0")/compare_runs.py" "$work/straight" "$work/resumed"
# The metrics log holds every epoch once.
[[ $(cut -d, -f1 "$work/resumed/metrics.csv" | tr '\n' ' ') == "epoch 1 2 3 " ]]
# A metrics.csv that lost its last row (or all of them) is rewritten from the checkpoint on resume.
head -n 2 "$work/resumed/metrics.csv" >"$work/resumed/metrics.short" && mv "$work/resumed/metrics.short" "$work/resumed/metrics.csv"
"$mnist" "${common[@]}" --epochs 3 --plot-dir "$work/resumed" --resume >/dev/null
[[ $(cut -d, -f1 "$work/resumed/metrics.csv" | tr '\n' ' ') == "epoch 1 2 3 " ]]
# Resuming with other settings is refused.
if "$mnist" "${common[@]}" --epochs 4 --plot-dir "$work/resumed" --resume --lr 0.01 2>"$work/err"; then exit 1; fi
grep -q "resume with the same settings" "$work/err"
if "$mnist" "${common[@]}" --epochs 4 --plot-dir "$work/resumed" --resume --init kaiming 2>"$work/err"; then exit 1; fi
grep -q "init = 0.* this run has 1.*resume with the same settings" "$work/err"
# A checkpoint whose meta.epoch is damaged or missing is refused with a message (it used to resume
# "after epoch 9223372036854775808" for NaN, retrain from 0 for 1e300, and print "map::at").
mkdir -p "$work/bad"
for bad in nan 1e300 -1 2.5 4 missing; do
  /usr/bin/python3 "$(dirname "$0")/set_checkpoint_epoch.py" "$work/resumed/checkpoint.npz" "$work/bad/checkpoint.npz" $bad
  if "$mnist" "${common[@]}" --epochs 3 --plot-dir "$work/bad" --resume >/dev/null 2>"$work/err"; then exit 1; fi
  grep -Eq "no meta.epoch entry|after epoch .*, which is not a whole number in \[0, 3\]" "$work/err"
done
# With images held out for validation, it reports the epoch a validation-based selection keeps.
"$mnist" "${common[@]}" --epochs 1 --validation 1000 --plot-dir "$work/validated" | grep -q "best validation accuracy .* after epoch 1"
echo "resumed run matches the uninterrupted one"
