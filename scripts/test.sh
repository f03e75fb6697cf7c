#!/usr/bin/env bash
# Sets up, builds and runs every test: unit, integration and e2e tests (ctest), the protocol
# lint (buf), and the Helm chart and Prometheus checks (tests/deploy). Exit status is non-zero
# when anything fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_BUILD_DIR:-$here/build}"

"$here/scripts/bootstrap.sh"
"$here/scripts/build.sh"

echo "== buf lint (proto/)"
(cd "$here/proto" && "$here/.tools/node_modules/.bin/buf" lint)
echo "buf lint: ok"

echo "== helm chart (tests/deploy/helm_test.sh)"
"$here/tests/deploy/helm_test.sh"
echo "== prometheus config, alert rules, dashboard (tests/deploy/prometheus_test.sh)"
"$here/tests/deploy/prometheus_test.sh"

echo "== ctest"
cd "$build"
ctest --output-on-failure -j "${LLMROUTER_TEST_JOBS:-2}" --timeout 300 "$@"
