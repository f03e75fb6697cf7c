#!/usr/bin/env bash
# Configures and builds llm-router in ./build (Release with debug info). Extra arguments go to
# ninja, e.g. `scripts/build.sh gateway`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_BUILD_DIR:-$here/build}"
# Let ccache share results between clones of the repository in different folders.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$here}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${LLMROUTER_BUILD_TYPE:-RelWithDebInfo}"
fi
ninja -C "$build" -j "${LLMROUTER_JOBS:-$(nproc)}" "$@"
