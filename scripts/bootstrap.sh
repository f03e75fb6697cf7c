#!/usr/bin/env bash
# Installs every Debian and npm dependency of llm-router. Idempotent: when everything is present
# it only checks and returns within a second or two.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

debs=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev libgrpc-dev
  libabsl-dev prometheus-cpp-dev libsqlite3-dev sqlite3 libboost-dev libboost-system-dev
  libssl-dev libsimdjson-dev rapidjson-dev libre2-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libxxhash-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  wrk python3
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
if [[ ! -x "$tools_dir/node_modules/.bin/buf" ]]; then
  echo "bootstrap: installing npm tools into .tools/"
  (cd "$tools_dir" && [[ -f package.json ]] || echo '{"name":"llm-router-tools","private":true}' > "$tools_dir/package.json")
  (cd "$tools_dir" && npm install --no-audit --no-fund --loglevel=error @bufbuild/buf@1)
fi
echo "bootstrap: all dependencies present"
