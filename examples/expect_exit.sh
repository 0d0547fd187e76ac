#!/usr/bin/env bash
# Passes when a command exits with the expected status and its stderr matches a pattern (CTest's
# WILL_FAIL only tells a zero status from a non-zero one).
# Usage: expect_exit.sh STATUS PATTERN COMMAND [ARGS...]
set -u
want=$1 pattern=$2
shift 2
err=$("$@" 2>&1 >/dev/null)
got=$?
echo "exit status $got, stderr: $err"
[[ $got == "$want" ]] || { echo "expected exit status $want"; exit 1; }
grep -Eq -- "$pattern" <<<"$err" || { echo "stderr does not match '$pattern'"; exit 1; }
