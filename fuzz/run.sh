#!/usr/bin/env bash
# Runs one fuzz target for a given time: fuzz/run.sh <target> <seconds> [jobs]
# Targets: fuzz_idx fuzz_csv fuzz_checkpoint fuzz_gzip fuzz_npz fuzz_resume fuzz_optim_state.
# Seeds are generated first (make_corpus, into build/fuzz/seeds/<target>, read only); what the
# run discovers is kept in build/fuzz/corpus/<target>; crashes and their inputs go to
# build/fuzz/findings/<target>/. Reproduce a finding with: build/fuzz/fuzz/<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: fuzz/run.sh <target> <seconds> [jobs]"
target=${1:?$usage}
seconds=${2:?$usage}
jobs=${3:-1}
binary=build/fuzz/fuzz/$target
[[ -x $binary && -x build/fuzz/fuzz/make_corpus ]] || bash fuzz/build.sh
seeds=build/fuzz/seeds
[[ -d $seeds/$target ]] || build/fuzz/fuzz/make_corpus "$seeds"
work=build/fuzz/corpus/$target
findings=build/fuzz/findings/$target
mkdir -p "$work" "$findings"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One thread: the inputs are small, and a fuzzer sharing a loaded machine gains nothing from more.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# Input size: the gzip and .npz targets set their own decompression limits (4 and 16 MiB), so
# they take inputs of up to 1 MiB (deflate expands ~1000:1, so bombs up to ~1 GiB declared);
# the others read with the library's default limits (16 GiB), where a 1 MiB input could inflate
# legitimately past the RSS limit, so they stay at 64 KiB (checkpoints at 256 KiB).
# fuzz_optim_state's input is a short list of choices, not a file: 4 KiB is plenty, and it starts
# at full length (-len_control=0), since its 3-byte seeds would otherwise keep it from making
# any edits for minutes.
extra=()
case $target in
  fuzz_gzip | fuzz_npz) max_len=1048576 ;;
  fuzz_resume) max_len=262144 ;;
  fuzz_optim_state) max_len=4096 extra=(-len_control=0) ;;
  *) max_len=65536 ;;
esac
rss_limit_mb=${RSS_LIMIT_MB:-2048}
# -timeout is wall-clock time: 30 s, because on a loaded shared machine a fuzzer under `nice`
# once took over 10 s of wall time for an input that needs 0.4 s of CPU (a hang still shows).
args=(-max_total_time="$seconds" -max_len="$max_len" -timeout="${TIMEOUT:-30}" -rss_limit_mb="$rss_limit_mb"
      -print_final_stats=1 "${extra[@]}" -artifact_prefix="$findings/" "$work" "$seeds/$target")
if [[ $target == fuzz_csv ]]; then args=(-dict=fuzz/csv.dict "${args[@]}"); fi
if [[ $jobs -gt 1 ]]; then args=(-jobs="$jobs" -workers="$jobs" "${args[@]}"); fi
echo "fuzz/run.sh: $binary ${args[*]}" >&2
exec "$binary" "${args[@]}"
