#!/usr/bin/env bash
# Sets up, builds and runs every test, in stages (LLMROUTER_STAGES, default all of them):
#   release  the release build: unit, integration and e2e tests (ctest), the protocol lint (buf),
#            the token estimator's reference counts (gpt-tokenizer), the Helm chart and
#            Prometheus checks (tests/deploy);
#   asan     the checked clang build (scripts/checked_build.sh: ASan + UBSan + LeakSanitizer,
#            and -Werror=thread-safety, so building it checks the lock annotations), then the
#            whole ctest suite in it;
#   fuzz     every libFuzzer target of tests/fuzz run over its seed corpus (ctest -L fuzz).
# e.g. LLMROUTER_STAGES="asan fuzz" scripts/test.sh. Extra arguments go to the release ctest.
# Every selected stage runs; exit status is non-zero when anything failed (docs/reliability.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_BUILD_DIR:-$here/build}"
asan_build="${LLMROUTER_ASAN_BUILD_DIR:-$here/build-asan}"
stages=" ${LLMROUTER_STAGES:-release asan fuzz} "
for stage in $stages; do
  case "$stage" in
    release | asan | fuzz) ;;
    *)
      echo "test.sh: unknown stage \"$stage\" in LLMROUTER_STAGES (release, asan, fuzz; separated by spaces)" >&2
      exit 2
      ;;
  esac
done
failed=()
stage_time() { echo "== stage $1 took $(($(date +%s) - $2)) s"; }

"$here/scripts/bootstrap.sh"

# Runs `$@` in a subshell that stops at its first failing command (set -e does not hold inside
# an `if` or `||` condition, so the status is taken outside one); records `name` if it failed.
run_stage() {
  local name="$1" rc
  shift
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  ((rc == 0)) || failed+=("$name")
}

release_stage() {
  "$here/scripts/build.sh"

  echo "== buf lint (proto/)"
  (cd "$here/proto" && "$here/.tools/node_modules/.bin/buf" lint)
  echo "buf lint: ok"

  # The token estimator's unit test compares against these committed counts; a gpt-tokenizer
  # upgrade that changes them must be noticed and the file regenerated on purpose.
  echo "== gpt-tokenizer reference counts (tests/tools/token_counts.mjs)"
  if ! node "$here/tests/tools/token_counts.mjs" |
    diff -u "$here/tests/data/tokenizer_corpus/expected_counts.tsv" -; then
    echo "token counts differ: run 'node tests/tools/token_counts.mjs >" \
      "tests/data/tokenizer_corpus/expected_counts.tsv' and re-run token_estimator_test" >&2
    exit 1
  fi
  echo "token counts: ok"

  echo "== helm chart (tests/deploy/helm_test.sh)"
  "$here/tests/deploy/helm_test.sh"
  echo "== prometheus config, alert rules, dashboard (tests/deploy/prometheus_test.sh)"
  "$here/tests/deploy/prometheus_test.sh"
  echo "== container image recipe (tests/deploy/dockerfile_test.sh)"
  "$here/tests/deploy/dockerfile_test.sh" "$build"

  echo "== ctest"
  cd "$build"
  ctest --output-on-failure -j "${LLMROUTER_TEST_JOBS:-2}" --timeout 300 "$@"
}

if [[ "$stages" == *" release "* ]]; then
  started=$(date +%s)
  run_stage release release_stage "$@"
  stage_time release "$started"
fi

if [[ "$stages" == *" asan "* || "$stages" == *" fuzz "* ]]; then
  started=$(date +%s)
  echo "== checked build (clang 14: ASan + UBSan, libFuzzer targets, -Werror=thread-safety)"
  if "$here/scripts/checked_build.sh"; then
    stage_time "checked build" "$started"
    if [[ "$stages" == *" asan "* ]]; then
      started=$(date +%s)
      echo "== ctest under AddressSanitizer + UndefinedBehaviorSanitizer"
      # Sanitized programs run several times slower; the fuzz regressions are their own stage.
      if ! (cd "$asan_build" && ctest --output-on-failure -j "${LLMROUTER_TEST_JOBS:-2}" \
          --timeout 600 -LE fuzz); then
        failed+=(asan)
      fi
      stage_time asan "$started"
    fi
    if [[ "$stages" == *" fuzz "* ]]; then
      started=$(date +%s)
      echo "== fuzz targets over their seed corpora (tests/fuzz/corpus)"
      if ! (cd "$asan_build" && ctest --output-on-failure -L fuzz); then failed+=(fuzz); fi
      stage_time fuzz "$started"
    fi
  else
    failed+=("checked build")
  fi
fi

if ((${#failed[@]})); then
  echo "test.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "test.sh: all stages passed:${stages% }"
