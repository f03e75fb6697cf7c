#!/usr/bin/env bash
# Sets up, builds and runs every test: unit, integration and e2e tests (ctest), the protocol
# lint (buf), the token estimator's reference counts (gpt-tokenizer), and the Helm chart and
# Prometheus checks (tests/deploy). Exit status is non-zero when anything fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_BUILD_DIR:-$here/build}"

"$here/scripts/bootstrap.sh"
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
