#!/usr/bin/env bash
# Trains the built-in prompt classifier from the project's corpus (data/classifier/train) into
# data/classifier/builtin.ftz, then scores it on the held-out split. Reproducible: one thread and
# a fixed seed give a byte-identical file (classifier_corpus_test checks it). After retraining,
# commit the model and put its new hash in the bundles that name it (the command prints it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_BUILD_DIR:-$here/build}"
"$here/scripts/build.sh" routerctl >/dev/null
routerctl="$build/tools/routerctl/routerctl"
"$routerctl" classifier train --data "$here/data/classifier/train" \
  --out "$here/data/classifier/builtin.ftz"
"$routerctl" classifier eval --data "$here/data/classifier/test" \
  --model "$here/data/classifier/builtin.ftz" "$@"
grep -rl "^ *sha256: [0-9a-f]\{64\}" "$here/deploy" "$here/helm" "$here/docs" 2>/dev/null |
  sed "s/^/bundles naming a classifier by hash: /" || true
