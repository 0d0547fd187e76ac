#!/usr/bin/env bash
# Installs the built tapegrad into a scratch prefix, moves the install elsewhere (as a user copying
# it to another machine or prefix would), then builds and runs a consumer against the moved copy
# twice: with CMake's find_package and with pkg-config.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/first" >/dev/null
mv "$work/first" "$work/moved"
prefix=$work/moved

# The installed CMake files and .pc file may name no path of this machine's libraries, of the
# build tree, or of the prefix installed to.
if grep -rnE "/usr/lib|/lib/x86_64-linux-gnu|$build_dir|$work/first|\.so\b" \
    "$prefix"/lib*/cmake/tapegrad "$prefix"/lib*/pkgconfig 2>/dev/null; then
  echo "install: the lines above name paths of the build machine" >&2
  exit 1
fi
test -x "$prefix/bin/tapegrad-fetch-mnist"

cmake -S "$source_dir/tests/install/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer"
# tapegrad::distributed, when this build has it (MPI found), must be in the install as well.
if [[ -f $build_dir/libtapegrad_distributed.a || -f $build_dir/libtapegrad_distributed.so ]]; then
  "$work/build/consumer_distributed"
fi

pc_dir=$(dirname "$(find "$prefix" -name tapegrad.pc)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs tapegrad)
# shellcheck disable=SC2086  # flags are words
c++ -std=c++17 -O1 "$source_dir/tests/install/consumer/main.cpp" -o "$work/consumer_pc" $flags
"$work/consumer_pc"
