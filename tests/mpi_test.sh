#!/usr/bin/env bash
# Runs tests/mpi_worker under mpirun for ctest.
#   mpi_test.sh MPIEXEC NP pass|killed WORKER ARGS...
# pass: every rank must exit 0. killed: a rank kills itself; the job must end (no hang) with a
# non-zero status and mpirun's message naming the dead process.
# mpirun refuses to run as root without --allow-run-as-root (CI runs as root); --oversubscribe
# lets 3 ranks share 2 cores.
set -uo pipefail
mpiexec=$1 np=$2 expect=$3
shift 3
flags=(--oversubscribe -np "$np")
if [[ $(id -u) -eq 0 ]]; then flags+=(--allow-run-as-root); fi
# Sanitizer builds: Open MPI leaves what MPI_Init allocated to the exit; suppress leaks whose stack
# passes through its libraries (tests/lsan-mpi.supp). Its libraries have no frame pointers, hence
# the slow unwinder, without which those stacks stop after one frame and cannot be matched.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(dirname "$0")/lsan-mpi.supp:fast_unwind_on_malloc=0"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The timeout is the test's hang detector: a healthy run takes seconds.
timeout 120 "$mpiexec" "${flags[@]}" "$@" >"$out" 2>&1
rc=$?
cat "$out"
if [[ $rc -eq 124 ]]; then echo "mpi_test: TIMEOUT: the job hung"; exit 1; fi
case $expect in
  pass) exit $rc ;;
  killed)
    if [[ $rc -eq 0 ]]; then echo "mpi_test: the job succeeded although a rank was killed"; exit 1; fi
    if ! grep -qiE "signal 9|killed" "$out"; then echo "mpi_test: no message about the killed rank"; exit 1; fi
    echo "mpi_test: the job ended with status $rc after the kill, as it should"
    exit 0 ;;
  *) echo "mpi_test: unknown expectation $expect"; exit 2 ;;
esac
