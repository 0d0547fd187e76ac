#!/usr/bin/env bash
# Runs one fuzz target for a given time: fuzz/run.sh <fuzz_idx|fuzz_csv|fuzz_checkpoint> <seconds> [jobs]
# Starts from the committed seed corpus (fuzz/corpus/<target>, read only) and keeps what it finds
# in build/fuzz/corpus/<target>; crashes and their inputs go to build/fuzz/findings/<target>/.
# Reproduce a finding with: build/fuzz/fuzz/<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh <fuzz_idx|fuzz_csv|fuzz_checkpoint> <seconds> [jobs]}
seconds=${2:?usage: fuzz/run.sh <target> <seconds> [jobs]}
jobs=${3:-1}
binary=build/fuzz/fuzz/$target
[[ -x $binary ]] || bash fuzz/build.sh
work=build/fuzz/corpus/$target
findings=build/fuzz/findings/$target
mkdir -p "$work" "$findings"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
args=(-max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$findings/" "$work" "fuzz/corpus/$target")
if [[ $target == fuzz_csv ]]; then args=(-dict=fuzz/csv.dict "${args[@]}"); fi
if [[ $jobs -gt 1 ]]; then args=(-jobs="$jobs" -workers="$jobs" "${args[@]}"); fi
exec "$binary" "${args[@]}"
