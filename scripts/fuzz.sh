#!/usr/bin/env bash
# Fuzzes every libFuzzer target of tests/fuzz for a fixed time each (default 60 s), starting
# from its committed seed corpus; new inputs go to build-asan/fuzz-corpus/<target>/, crashes to
# build-asan/fuzz-artifacts/. Usage: scripts/fuzz.sh [seconds] [target...]
#   scripts/fuzz.sh 600 usage_scanner_fuzz
# A crash stops that target and makes the script fail; reproduce with
#   build-asan/tests/fuzz/<target> <artifact>
# and, once fixed, add the artifact to tests/fuzz/corpus/<target>/ as a regression seed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_ASAN_BUILD_DIR:-$here/build-asan}"
seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(prometheus_text_fuzz policy_bundle_fuzz prompt_analyzer_fuzz request_inspector_fuzz
           usage_scanner_fuzz route_link_frame_fuzz classifier_model_fuzz)
fi
"$here/scripts/checked_build.sh" "${targets[@]}"

failed=()
for t in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts"
  mkdir -p "$corpus" "$artifacts"
  echo "== $t: ${seconds} s"
  # The committed seeds are read, new finds are written to the build tree's corpus only.
  if ! "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
      "$corpus" "$here/tests/fuzz/corpus/$t"; then
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]} (artifacts in $build/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz: no crash in ${targets[*]} (${seconds} s each)"
