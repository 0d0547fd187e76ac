#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz_*.cpp) and make_corpus with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer into build/fuzz. Needs clang (Debian: apt-get install clang).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null; then
  bash scripts/install-deps clang
fi
cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DTAPEGRAD_FUZZ=ON \
  -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF -DTAPEGRAD_BUILD_BENCH=OFF >/dev/null
cmake --build build/fuzz -j "${JOBS:-$(nproc)}" --target fuzz_idx fuzz_csv fuzz_checkpoint fuzz_gzip fuzz_npz fuzz_resume fuzz_optim_state make_corpus
echo "fuzz/build.sh: targets in build/fuzz/fuzz/"
