#!/usr/bin/env bash
# Measures the gateway's overhead: the same wrk client and body against fake-llm directly,
# through nginx as a plain proxy_pass reverse proxy (one worker, keep-alive upstream), and
# through gateway -> decision -> fake-llm, in one run. gateway, decision and nginx are pinned to
# CPU 0, wrk and fake-llm to CPU 1 (when the machine has two or more). inventory is off the request
# path (it takes the gateways' outcome reports in batches; in a cluster it runs in pods of its
# own) and runs on CPU 1 too; LLMROUTER_BENCH_INVENTORY_CPU=0 puts it on the measured core.
#   scripts/bench.sh [duration_seconds=10]
# The gateway routes over decision's route link. Extra gateway flags:
# LLMROUTER_BENCH_GATEWAY_FLAGS="--threads=2". A second and a third gateway with more flags,
# measured in the same run (rows "gateway-b", "gateway-c"): e.g.
# LLMROUTER_BENCH_B_FLAGS="--busy_poll_us=50"; "--decision_link_target=" routes over gRPC only.
# LLMROUTER_BENCH_TLS=1 runs every service with mutual TLS (certificates made here by openssl):
# gRPC and the route link both.
# LLMROUTER_BENCH_PROMPT_BYTES=2048 sends a user message that long (default: one sentence).
# LLMROUTER_BENCH_AUTO=1 also measures model "auto" through the same gateway (row "gw-auto"),
# under a bundle that routes auto like the demo bundle does: the built-in classifier, a first
# auto rule with an intent condition, then complexity, then a catch-all.
# LLMROUTER_BENCH_DECISION_FLAGS adds flags to decision, e.g. "--decision_log_bytes=0" (the
# decision log off) to compare runs with and without it.
# LLMROUTER_BENCH_LIMITS=1 starts a redis-server on CPU 1 (with wrk), gives the gateway --redis
# and measures, through the same gateway, a tenant with rate limits (requests, tokens and
# concurrency, high enough never to refuse: every request is counted, reserved, reconciled and
# synced) (row "gw-limit") against the tenant without (row "gateway"), then the limited tenant
# again while Redis is stopped with SIGSTOP (row "gw-frozen": limits fail open, nothing waits).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMROUTER_BUILD_DIR:-$here/build}"
duration="${1:-10}"

"$here/scripts/bootstrap.sh" >/dev/null
"$here/scripts/build.sh" inventory decision gateway fake-llm >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/llmrouter-bench-XXXXXX")"
tls=()
if [[ ${LLMROUTER_BENCH_TLS:-0} == 1 ]]; then
  (
    cd "$work"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
      -out ca.crt -days 2 -subj /CN=bench-ca
    echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >san.ext
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout service.key \
      -out service.csr -subj /CN=service
    openssl x509 -req -in service.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out service.crt \
      -days 2 -extfile san.ext
  ) >/dev/null 2>&1
  tls=(--tls_cert_file="$work/service.crt" --tls_key_file="$work/service.key"
    --tls_ca_file="$work/ca.crt")
fi
pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

cpus=$(nproc)
pin_service=() pin_load=() pin_inventory=()
if ((cpus >= 2)); then
  pin_service=(taskset -c 0) pin_load=(taskset -c 1)
  pin_inventory=(taskset -c "${LLMROUTER_BENCH_INVENTORY_CPU:-1}")
fi

ready_port() {  # file key
  for _ in $(seq 1 200); do
    if [[ -f $1 ]]; then
      sed -E "s/.*\"$2\":([0-9]+).*/\1/" "$1"
      return
    fi
    sleep 0.05
  done
  echo "bench: $(basename "$1") did not start (logs in $work)" >&2
  exit 1
}

model=bench-model
"${pin_load[@]}" "$build/tools/fake-llm/fake-llm" --port=0 --model=$model --name=bench \
  --completion_tokens=16 --ready_file="$work/fake.ready" >"$work/fake.log" 2>&1 &
pids+=($!)
fake_port=$(ready_port "$work/fake.ready" http_port)
printf 'endpoints:\n  - {model: %s, address: "127.0.0.1:%s"}\n' $model "$fake_port" >"$work/endpoints.yaml"
printf 'models:\n  - name: %s\n' $model >"$work/policy.yaml"
if [[ ${LLMROUTER_BENCH_AUTO:-0} == 1 ]]; then
  classifier_sha=$(sha256sum "$here/data/classifier/builtin.ftz" | cut -d' ' -f1)
  cat >>"$work/policy.yaml" <<POLICY
classifier: {sha256: $classifier_sha}
rules:
  - {name: code-and-math, match: {model: [auto], intent: [code, math]}, then: {candidates: [$model]}}
  - {name: hard, match: {model: [auto], complexity: {min: 0.5}}, then: {candidates: [$model]}}
  - {name: auto, match: {model: [auto]}, then: {candidates: [$model]}}
POLICY
fi
limits=${LLMROUTER_BENCH_LIMITS:-0}
redis_flags=""
if [[ $limits == 1 ]]; then
  cat >>"$work/policy.yaml" <<POLICY
tenants:
  - {name: default}
  - name: bench-limited
    rate_limits: {window: 60s, requests: 1000000000, tokens: 4000000000, concurrent: 100000}
POLICY
  redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${pin_load[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --maxmemory-policy noeviction >"$work/redis.log" 2>&1 &
  pids+=($!)
  redis_pid=$!
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis_flags="--redis=127.0.0.1:$redis_port"
fi
"${pin_inventory[@]}" "$build/services/inventory/inventory" --host=127.0.0.1 --grpc_port=0 \
  --metrics_port=0 --endpoints_file="$work/endpoints.yaml" --ready_file="$work/inv.ready" \
  "${tls[@]}" >"$work/inventory.log" 2>&1 &
pids+=($!)
inv_pid=$!
inv_port=$(ready_port "$work/inv.ready" grpc_port)
"${pin_service[@]}" "$build/services/decision/decision" --host=127.0.0.1 --grpc_port=0 \
  --metrics_port=0 --db="$work/decision.db" --policy_file="$work/policy.yaml" \
  --inventory_target="127.0.0.1:$inv_port" --route_link_port=0 --ready_file="$work/dec.ready" \
  "${tls[@]}" ${LLMROUTER_BENCH_DECISION_FLAGS:-} >"$work/decision.log" 2>&1 &
pids+=($!)
dec_pid=$!
dec_port=$(ready_port "$work/dec.ready" grpc_port)
link_port=$(ready_port "$work/dec.ready" route_link_port)
start_gateway() {  # name extra_flags
  "${pin_service[@]}" "$build/services/gateway/gateway" --host=127.0.0.1 --http_port=0 \
    --metrics_port=0 --decision_target="127.0.0.1:$dec_port" --inventory_target="127.0.0.1:$inv_port" \
    --decision_link_target="127.0.0.1:$link_port" --ready_file="$work/$1.ready" "${tls[@]}" \
    $redis_flags $2 >"$work/$1.log" 2>&1 &
  pids+=($!)
}
start_gateway gateway "${LLMROUTER_BENCH_GATEWAY_FLAGS:-}"
gw_pid=$!
gw_port=$(ready_port "$work/gateway.ready" http_port)
if [[ -n ${LLMROUTER_BENCH_B_FLAGS:-} ]]; then
  start_gateway gateway-b "$LLMROUTER_BENCH_B_FLAGS"
  gw_b_port=$(ready_port "$work/gateway-b.ready" http_port)
fi
if [[ -n ${LLMROUTER_BENCH_C_FLAGS:-} ]]; then
  start_gateway gateway-c "$LLMROUTER_BENCH_C_FLAGS"
  gw_c_port=$(ready_port "$work/gateway-c.ready" http_port)
fi

# nginx: the reference reverse proxy, from a config generated here (no system config involved).
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream fake { server 127.0.0.1:$fake_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
CONF
"${pin_service[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx.log" 2>&1 &
pids+=($!)

body=(-H 'content-type: application/json' -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw_port/v1/chat/completions" "${body[@]}")
  [[ $code == 200 ]] && break
  sleep 0.05
done
[[ $code == 200 ]] || { echo "bench: gateway does not route (HTTP $code)" >&2; exit 1; }
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nginx_port/v1/chat/completions" "${body[@]}")
  [[ $code == 200 ]] && break
  sleep 0.05
done
[[ $code == 200 ]] || { echo "bench: nginx does not proxy (HTTP $code, see $work/nginx)" >&2; exit 1; }

# CPU time (clock ticks) and context switches (all threads) a process has used so far.
usage_of() {  # pid
  local ticks switches
  ticks=$(awk '{print $14 + $15}' "/proc/$1/stat")
  switches=$(cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n}')
  echo "$ticks $switches"
}
hz=$(getconf CLK_TCK)

# Prints "rps p50_ms p99_ms non2xx" for one wrk run.
run_wrk() {  # port connections [model] [tenant]
  local out
  out=$(BENCH_MODEL=${3:-$model} BENCH_TENANT=${4:-} BENCH_PROMPT_BYTES=${LLMROUTER_BENCH_PROMPT_BYTES:-0} \
    "${pin_load[@]}" wrk -t1 -c"$2" -d"${duration}s" --latency \
    -s "$here/scripts/bench/chat.lua" "http://127.0.0.1:$1/v1/chat/completions")
  echo "$out" >>"$work/wrk.txt"
  echo "$out" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad + 0 }'
}

printf '%-6s %-8s %12s %10s %10s\n' conns path req/s p50_ms p99_ms
for c in 1 32; do
  read -r d_rps d_p50 d_p99 d_bad <<<"$(run_wrk "$fake_port" $c)"
  read -r n_rps n_p50 n_p99 n_bad <<<"$(run_wrk "$nginx_port" $c)"
  read -r gt0 gs0 <<<"$(usage_of "$gw_pid")"
  read -r dt0 ds0 <<<"$(usage_of "$dec_pid")"
  read -r it0 is0 <<<"$(usage_of "$inv_pid")"
  read -r g_rps g_p50 g_p99 g_bad <<<"$(run_wrk "$gw_port" $c)"
  read -r gt1 gs1 <<<"$(usage_of "$gw_pid")"
  read -r dt1 ds1 <<<"$(usage_of "$dec_pid")"
  read -r it1 is1 <<<"$(usage_of "$inv_pid")"
  b_bad=0 c_bad=0 a_bad=0 l_bad=0 f_bad=0
  if [[ $limits == 1 ]]; then
    read -r l_rps l_p50 l_p99 l_bad <<<"$(run_wrk "$gw_port" $c "$model" bench-limited)"
    kill -STOP "$redis_pid"
    read -r f_rps f_p50 f_p99 f_bad <<<"$(run_wrk "$gw_port" $c "$model" bench-limited)"
    kill -CONT "$redis_pid"
  fi
  if [[ ${LLMROUTER_BENCH_AUTO:-0} == 1 ]]; then
    read -r a_rps a_p50 a_p99 a_bad <<<"$(run_wrk "$gw_port" $c auto)"
  fi
  if [[ -n ${gw_b_port:-} ]]; then read -r b_rps b_p50 b_p99 b_bad <<<"$(run_wrk "$gw_b_port" $c)"; fi
  if [[ -n ${gw_c_port:-} ]]; then read -r c_rps c_p50 c_p99 c_bad <<<"$(run_wrk "$gw_c_port" $c)"; fi
  if ((d_bad + n_bad + g_bad + b_bad + c_bad + a_bad + l_bad + f_bad > 0)); then echo "bench: non-2xx answers (see $work/wrk.txt)" >&2; exit 1; fi
  printf '%-6s %-8s %12s %10s %10s\n' "$c" direct "$d_rps" "$d_p50" "$d_p99"
  printf '%-6s %-8s %12s %10s %10s\n' "$c" nginx "$n_rps" "$n_p50" "$n_p99"
  printf '%-6s %-8s %12s %10s %10s\n' "$c" gateway "$g_rps" "$g_p50" "$g_p99"
  if [[ ${LLMROUTER_BENCH_AUTO:-0} == 1 ]]; then
    printf '%-6s %-8s %12s %10s %10s\n' "$c" gw-auto "$a_rps" "$a_p50" "$a_p99"
    awk -v c="$c" -v g="$g_rps" -v a="$a_rps" 'BEGIN { printf "%-6s gateway req/s: model auto = %.2f x an explicit model\n", c, a / g }'
  fi
  if [[ $limits == 1 ]]; then
    printf '%-6s %-8s %12s %10s %10s\n' "$c" gw-limit "$l_rps" "$l_p50" "$l_p99"
    printf '%-6s %-8s %12s %10s %10s\n' "$c" gw-frozen "$f_rps" "$f_p50" "$f_p99"
    awk -v c="$c" -v g="$g_rps" -v l="$l_rps" -v lp="$l_p99" -v fp="$f_p99" 'BEGIN {
      printf "%-6s rate limits on = %.2f x off (req/s); Redis stopped: p99 %+.3f ms\n", c, l / g, fp - lp }'
  fi
  if [[ -n ${gw_b_port:-} ]]; then
    printf '%-6s %-8s %12s %10s %10s\n' "$c" gateway-b "$b_rps" "$b_p50" "$b_p99"
    awk -v c="$c" -v g="$g_rps" -v b="$b_rps" 'BEGIN { printf "%-6s gateway req/s = %.2f x gateway-b\n", c, g / b }'
  fi
  if [[ -n ${gw_c_port:-} ]]; then
    printf '%-6s %-8s %12s %10s %10s\n' "$c" gateway-c "$c_rps" "$c_p50" "$c_p99"
    awk -v c="$c" -v g="$g_rps" -v x="$c_rps" 'BEGIN { printf "%-6s gateway req/s = %.2f x gateway-c\n", c, g / x }'
  fi
  if [[ -n ${gw_b_port:-} && -n ${gw_c_port:-} ]]; then
    awk -v c="$c" -v b="$b_rps" -v x="$c_rps" 'BEGIN { printf "%-6s gateway-b req/s = %.2f x gateway-c\n", c, b / x }'
  fi
  awk -v c="$c" -v dr="$d_rps" -v gr="$g_rps" -v nr="$n_rps" -v dp="$d_p50" -v gp="$g_p50" -v np="$n_p50" 'BEGIN {
    printf "%-6s overhead p50: gateway +%.3f ms, nginx +%.3f ms; gateway req/s = %.2f x direct, %.2f x nginx\n",
      c, gp - dp, np - dp, gr / dr, gr / nr }'
  # Where the gateway's time goes: CPU and thread switches per request, gateway and decision;
  # and what inventory spends on the outcome reports.
  awk -v c="$c" -v n="$(awk "BEGIN {print $g_rps * $duration}")" -v hz="$hz" \
    -v gt=$((gt1 - gt0)) -v gs=$((gs1 - gs0)) -v dt=$((dt1 - dt0)) -v ds=$((ds1 - ds0)) \
    -v it=$((it1 - it0)) 'BEGIN {
    printf "%-6s per request: gateway %.0f us CPU, %.1f context switches; decision %.0f us CPU, %.1f context switches; inventory %.1f us CPU\n",
      c, gt * 1e6 / hz / n, gs / n, dt * 1e6 / hz / n, ds / n, it * 1e6 / hz / n }'
done
if [[ $limits == 1 ]]; then
  # The limited tenant's counts reached Redis: the measured path is the shared one.
  echo "redis: $(redis-cli -p "$redis_port" --scan --pattern 'llmrouter:rl:*' | wc -l) rate limit keys"
fi
echo "(raw wrk output: $work/wrk.txt)"
