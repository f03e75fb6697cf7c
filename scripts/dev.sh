#!/usr/bin/env bash
# Sets up, builds and runs the whole system locally on its embedded defaults: three fake-llm
# backends serving two models, inventory, decision (policies in .state/decision.db, seeded from
# deploy/examples/local/policy.yaml) and the gateway on http://localhost:8080. Ctrl-C stops all.
# LLMROUTER_DEV_REDIS=1 shows the shared mode: a redis-server on :6380 (its data in .state/redis),
# every service given --redis, and a second gateway on http://localhost:8081 that shares rate
# limit counts with the first (and decision its budgets, inventory its registrations).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_BUILD_DIR:-$here/build}"
state="$here/.state"
examples="$here/deploy/examples/local"

"$here/scripts/bootstrap.sh"
"$here/scripts/build.sh" inventory decision gateway fake-llm routerctl

mkdir -p "$state/logs"
# The admin token policy writes need (routerctl policy apply/rollback); made once per checkout.
if [[ ! -s "$state/admin.token" ]]; then
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/admin.token"
  chmod 600 "$state/admin.token"
fi
shared=${LLMROUTER_DEV_REDIS:-0}
ports=(8080 8101 8102 8103 50051 50053 50061 9451 9461 9480)
redis=()
if [[ $shared == 1 ]]; then
  ports+=(6380 8081 9481)
  redis=(--redis=127.0.0.1:6380)
fi
for port in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "dev: port $port is already in use; stop whatever holds it (an earlier dev.sh?)" >&2
    exit 1
  fi
done

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "dev: stopping"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

start() {
  local name=$1
  shift
  "$@" >"$state/logs/$name.log" 2>&1 &
  pids+=($!)
}
wait_ready() {
  local file=$1
  for _ in $(seq 1 200); do
    [[ -f $file ]] && return 0
    sleep 0.05
  done
  echo "dev: $(basename "$file" .ready) did not start; see $state/logs/" >&2
  exit 1
}
rm -f "$state"/*.ready
if [[ $shared == 1 ]]; then
  mkdir -p "$state/redis"
  start redis redis-server --port 6380 --bind 127.0.0.1 --dir "$state/redis" --appendonly yes \
    --maxmemory-policy noeviction
  for _ in $(seq 1 100); do
    redis-cli -p 6380 ping >/dev/null 2>&1 && break
    sleep 0.05
  done
fi

fake="$build/tools/fake-llm/fake-llm"
start llama-a "$fake" --port=8101 --model=llama-3.1-8b-instruct --name=llama-a \
  --per_token_ms=20 --ready_file="$state/llama-a.ready"
start llama-b "$fake" --port=8102 --model=llama-3.1-8b-instruct --name=llama-b \
  --per_token_ms=20 --ready_file="$state/llama-b.ready"
start qwen-a "$fake" --port=8103 --model=qwen2.5-72b-instruct --name=qwen-a \
  --per_token_ms=40 --ready_file="$state/qwen-a.ready"
start inventory "$build/services/inventory/inventory" --host=127.0.0.1 --grpc_port=50061 \
  --metrics_port=9461 --endpoints_file="$examples/endpoints.yaml" "${redis[@]}" \
  --ready_file="$state/inventory.ready"
wait_ready "$state/inventory.ready"
start decision "$build/services/decision/decision" --host=127.0.0.1 --grpc_port=50051 \
  --metrics_port=9451 --db="$state/decision.db" --policy_file="$examples/policy.yaml" \
  --inventory_target=127.0.0.1:50061 --admin_token_file="$state/admin.token" \
  --route_link_port=50053 --ready_file="$state/decision.ready" "${redis[@]}"
# Routing calls go over decision's route link (plain TCP on :50053), gRPC when it cannot carry them.
start gateway "$build/services/gateway/gateway" --host=127.0.0.1 --http_port=8080 \
  --metrics_port=9480 --decision_target=127.0.0.1:50051 \
  --decision_link_target=127.0.0.1:50053 --ready_file="$state/gateway.ready" "${redis[@]}"
for f in llama-a llama-b qwen-a decision gateway; do wait_ready "$state/$f.ready"; done
if [[ $shared == 1 ]]; then
  start gateway-2 "$build/services/gateway/gateway" --host=127.0.0.1 --http_port=8081 \
    --metrics_port=9481 --decision_target=127.0.0.1:50051 \
    --decision_link_target=127.0.0.1:50053 --ready_file="$state/gateway-2.ready" "${redis[@]}"
  wait_ready "$state/gateway-2.ready"
  echo
  echo "Shared mode: Redis on :6380 (.state/redis); a second gateway on http://localhost:8081"
  echo "counts the same rate limits as the first (llmrouter_gateway_rate_limit_store_up on :9481)."
fi

cat <<MSG

llm-router is running (logs in .state/logs/, policies in .state/decision.db).

  gateway    http://localhost:8080   (OpenAI-compatible; metrics on :9480/metrics)
  decision   localhost:50051 gRPC    (route link on :50053; metrics on :9451/metrics)
  inventory  localhost:50061 gRPC    (metrics on :9461/metrics)
  backends   fake-llm on :8101, :8102 (llama-3.1-8b-instruct), :8103 (qwen2.5-72b-instruct)

Send a first request:

  curl -s http://localhost:8080/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"Hello!"}]}'

Stream one, by alias:

  curl -N http://localhost:8080/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"large","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'

Let the policy choose ("auto"), and see why:

  curl -s http://localhost:8080/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"auto","messages":[{"role":"user","content":"Why does my Python function fail?"}]}' -i
  build/tools/routerctl/routerctl explain --model auto --prompt "Say hello!"
  build/tools/routerctl/routerctl why-not qwen2.5-72b-instruct --model auto --prompt "Say hello!"

Change policies (the token is in .state/admin.token):

  export LLMROUTER_ADMIN_TOKEN=\$(cat .state/admin.token)
  build/tools/routerctl/routerctl policy history

List models:  curl -s http://localhost:8080/v1/models
Press Ctrl-C to stop everything.
MSG
wait -n "${pids[@]}" || true
echo "dev: a process exited; see $state/logs/" >&2
