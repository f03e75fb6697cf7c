#!/usr/bin/env bash
# Configures and builds the checked tree in ./build-asan with clang 14: AddressSanitizer and
# UndefinedBehaviorSanitizer (with LeakSanitizer), the libFuzzer targets of tests/fuzz, and
# -Werror=thread-safety, so that building it is also the check of the lock annotations.
# Benchmarks are left out (they measure, the release tree runs them). Extra arguments go to
# ninja, e.g. `scripts/checked_build.sh decision_test`. See docs/reliability.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_ASAN_BUILD_DIR:-$here/build-asan}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$here}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
if [[ ! -f "$build/build.ninja" ]]; then
  # -O1 and line tables only: readable reports at a fraction of -O2 -g's compile and link time.
  CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_EXE_LINKER_FLAGS="-fuse-ld=lld" \
    -DLLMROUTER_SANITIZE=address,undefined \
    -DLLMROUTER_FUZZ=ON \
    -DLLMROUTER_THREAD_SAFETY=ON \
    -DLLMROUTER_BUILD_BENCHMARKS=OFF
fi
ninja -C "$build" -j "${LLMROUTER_JOBS:-$(nproc)}" "$@"
