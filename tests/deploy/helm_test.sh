#!/usr/bin/env bash
# Verifies the Helm chart with a real helm v3 (installed into .tools/bin by scripts/bootstrap.sh):
# `helm lint --strict` and `helm template` of every ci/*-values.yaml scenario, checks on the
# rendered manifests (tests/deploy/check_manifests.py), and the ways the chart must refuse bad
# values. Exit status is non-zero when anything fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
helm="${HELM:-$here/.tools/bin/helm}"
chart="$here/helm/llm-router"
check="$here/tests/deploy/check_manifests.py"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
kube_version=1.29.0
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }

# Objects that the external-policies scenario expects to exist outside the release.
external=(llm-router-policies llm-router-endpoints llm-router-credentials llm-router-mtls
  llm-router-tokens team-classifiers)

render() {  # render <output> <helm template args...>
  local dest=$1
  shift
  "$helm" template "$@" --kube-version "$kube_version" "$chart" >"$dest" 2>"$dest.err"
}

scenarios=("" "$chart"/ci/*-values.yaml)
for values in "${scenarios[@]}"; do
  label=${values:+$(basename "$values" .yaml)}
  label=${label:-defaults}
  args=(--namespace llm)
  [[ -n $values ]] && args+=(-f "$values")
  if "$helm" lint --strict "${args[@]}" "$chart" >"$out/lint.log" 2>&1; then
    ok "helm lint --strict ($label)"
  else
    cat "$out/lint.log"
    fail "helm lint --strict ($label)"
  fi
  if render "$out/$label.yaml" llm-router "${args[@]}"; then
    ok "helm template ($label): $(grep -c '^kind:' "$out/$label.yaml") objects"
  else
    cat "$out/$label.yaml.err"
    fail "helm template ($label)"
    continue
  fi
  if python3 "$check" "$out/$label.yaml" "${external[@]}"; then
    ok "manifest checks ($label)"
  else
    fail "manifest checks ($label)"
  fi
done

# The longest release name helm accepts (53 characters) still gives names of at most 63.
long_release=$(printf 'r%.0s' {1..53})
if render "$out/long.yaml" "$long_release" -f "$chart/ci/production-values.yaml" &&
  python3 "$check" "$out/long.yaml"; then
  ok "53-character release name renders with valid names"
else
  cat "$out/long.yaml.err" 2>/dev/null || true
  fail "53-character release name"
fi

# Each scenario must put what it promises into the manifests.
expect() {  # expect <file> <label> <grep -E pattern>
  [[ -f $out/$1 ]] || { fail "$2 (no $1)"; return; }
  if grep -qE -- "$3" "$out/$1"; then ok "$2"; else fail "$2 (no /$3/ in $1)"; fi
}
expect_not() {
  [[ -f $out/$1 ]] || { fail "$2 (no $1)"; return; }
  if grep -qE -- "$3" "$out/$1"; then fail "$2 (/$3/ in $1)"; else ok "$2"; fi
}
expect defaults.yaml "gateway targets the decision headless Service" \
  'decision_target=dns:///llm-router-decision-headless\.llm\.svc\.cluster\.local:50051'
expect defaults.yaml "decision targets the inventory headless Service" \
  'inventory_target=dns:///llm-router-inventory-headless\.llm\.svc\.cluster\.local:50061'
expect defaults.yaml "gateway reports outcomes to the inventory headless Service" \
  'inventory_target=dns:///llm-router-inventory-headless\.llm\.svc\.cluster\.local:50061'
expect defaults.yaml "headless Services" 'clusterIP: None'
expect defaults.yaml "gateway leaves rotation before it stops accepting" 'shutdown_delay_ms=5000'
expect_not defaults.yaml "no preStop sleep by default (the shutdown delay does its work)" 'preStop:'
expect defaults.yaml "gateway client timeouts" 'client_header_timeout_ms=10000'
expect defaults.yaml "a decision stream per decision replica (up to its maxReplicas)" 'decision_streams=6'
expect production-values.yaml "longer shutdown delay in production" 'shutdown_delay_ms=10000'
expect production-values.yaml "a decision stream per decision replica in production" 'decision_streams=9'
expect defaults.yaml "gateway workers sleep at once by default (no busy polling)" '--busy_poll_us=0$'
expect defaults.yaml "policy ConfigMap mounted as a directory" 'policy_file=/etc/llm-router/policy/policy.yaml'
expect_not defaults.yaml "no subPath mounts (they never see ConfigMap updates)" 'subPath:'
expect defaults.yaml "decision database on an emptyDir" 'db=/var/lib/llm-router/decision.db'
expect defaults.yaml "helm test hook" 'helm.sh/hook: test'
expect_not defaults.yaml "no ServiceMonitor by default" 'kind: ServiceMonitor'
expect production-values.yaml "ServiceMonitor in production" 'kind: ServiceMonitor'
expect production-values.yaml "PrometheusRule in production" 'kind: PrometheusRule'
expect production-values.yaml "alert labels added" 'team: ml-platform'
expect production-values.yaml "HPA in production" 'kind: HorizontalPodAutoscaler'
expect production-values.yaml "PDB in production" 'kind: PodDisruptionBudget'
expect production-values.yaml "NetworkPolicy in production" 'kind: NetworkPolicy'
expect production-values.yaml "Ingress in production" 'kind: Ingress'
expect production-values.yaml "digest-free image from the registry" 'image: registry.example.com/platform/llm-router:0.1.0'
expect production-values.yaml "cert-manager Certificate for mTLS" 'kind: Certificate'
expect production-values.yaml "services get the TLS flags" 'tls_cert_file=/etc/llm-router/tls/tls.crt'
expect production-values.yaml "API keys file passed to the gateway" 'api_keys_file=/etc/llm-router/secrets/api-keys'
expect production-values.yaml "backend credential from the Secret" 'upstream_credentials=api.openai.com:443=file:/etc/llm-router/secrets/openai-api-key'
expect production-values.yaml "fail-safe routes" 'failsafe_routes=llama-3.1-8b-instruct=vllm-llama-0[^|]*\|vllm-llama-1'
expect production-values.yaml "API key stored as its digest" 'api-keys:'
expect_not production-values.yaml "plain API key not stored" "$(printf 'sk-support-example' | base64)"
expect_not defaults.yaml "no API keys by default" 'api_keys_file'
expect_not defaults.yaml "no Redis by default: each replica keeps its own state" 'component: redis'
expect production-values.yaml "Redis never evicts counts" '^ *- noeviction$'
expect production-values.yaml "Redis keeps an append-only file on a volume" 'claimName: llm-router-redis'
# With a Redis, gateway, decision and inventory all get its address and password file and mount
# the password Secret (rate limit counts; the spend ledger and policy status; registrations and
# drains); only the gateways get --rate_limits_fail_closed. Without one, none of them.
redis_wiring() {  # redis_wiring <file> <--redis value> <password file> <Secret> [fail-closed]
  python3 - "$out/$1" "${@:2}" <<'PY'
import sys, yaml
path, address, password, secret = sys.argv[1:5]
fail_closed = len(sys.argv) > 5
docs = [d for d in yaml.safe_load_all(open(path)) if d]
want = {f"llm-router-{c}" for c in ("gateway", "decision", "inventory")}
problems = []
for d in docs:
    name = d["metadata"]["name"]
    if d["kind"] != "Deployment" or name not in want:
        continue
    want.discard(name)
    pod = d["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c.get("args", [])
    expected = [f"--redis={address}"] if address else []
    expected += [f"--redis_password_file={password}"] if password else []
    got = [a for a in args if a.startswith(("--redis=", "--redis_password_file="))]
    if got != expected:
        problems.append(f"{name}: Redis flags {got}, want {expected}")
    mounts = [(m["mountPath"], m.get("readOnly")) for m in c.get("volumeMounts", [])
              if m["name"] == "redis"]
    secrets = [v.get("secret", {}).get("secretName") for v in pod.get("volumes", [])
               if v["name"] == "redis"]
    if password and mounts != [("/etc/llm-router/redis", True)]:
        problems.append(f"{name}: redis volume mounts {mounts}")
    if password and secrets != [secret]:
        problems.append(f"{name}: redis volume of Secrets {secrets}, want {secret}")
    if not password and (mounts or secrets):
        problems.append(f"{name}: mounts a redis volume without a password file")
    gateway_only = name == "llm-router-gateway" and fail_closed
    if ("--rate_limits_fail_closed" in args) != gateway_only:
        problems.append(f"{name}: --rate_limits_fail_closed "
                        f"{'missing' if gateway_only else 'given'}")
if want:
    problems.append(f"not rendered: {sorted(want)}")
sys.exit("\n".join(problems) or None)
PY
}
for scenario in defaults minimal-values external-policies-values; do
  if redis_wiring $scenario.yaml "" "" ""; then
    ok "no Redis: no --redis or password mount in any service ($scenario)"
  else
    fail "Redis flags without a Redis ($scenario)"
  fi
done
if redis_wiring production-values.yaml llm-router-redis.llm.svc.cluster.local:6379 \
  /etc/llm-router/redis/redis-password llm-router-redis; then
  ok "gateway, decision and inventory share the chart's Redis and read its password (production)"
else
  fail "the chart's Redis given to every service (production)"
fi
render_redis() {  # render_redis <label> <helm template args...>: renders and passes checks
  local label=$1
  shift
  if render "$out/$label.yaml" llm-router --namespace llm "$@" &&
    python3 "$check" "$out/$label.yaml" "${external[@]}" team-redis; then
    ok "helm template and manifest checks ($label)"
  else
    cat "$out/$label.yaml.err"
    fail "helm template or manifest checks ($label)"
  fi
}
render_redis chart-redis --set redis.enabled=true --set redis.failClosed=true
if redis_wiring chart-redis.yaml llm-router-redis.llm.svc.cluster.local:6379 \
  /etc/llm-router/redis/redis-password llm-router-redis fail-closed; then
  ok "redis.enabled: every service gets the chart's Redis; fail closed only for the gateways"
else
  fail "redis.enabled wiring"
fi
# The chart's Redis gets its password in a config file written at start (an emptyDir), never in
# its argv, which ps and /proc/PID/cmdline show to every process in the pod: no --requirepass, no
# $(VAR) expansion of it, the password only in the environment, from the Secret. The container's
# script is run here (sh, a stub redis-server) to see that the file holds the password the
# services read (surrounding whitespace stripped), whatever bytes it has, in mode 0600, and that
# an empty password stops the container instead of starting Redis without AUTH.
redis_password_hidden() {  # redis_password_hidden <file> <Secret> <key>
  python3 - "$out/$1" "$2" "$3" "$out/redis-run-$1" <<'PY'
import os, re, stat, subprocess, sys, yaml
path, secret, key, run = sys.argv[1:5]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
redis = [d for d in docs if d["kind"] == "Deployment" and
         d["metadata"]["labels"].get("app.kubernetes.io/component") == "redis"]
if len(redis) != 1:
    sys.exit(f"{len(redis)} Redis Deployments")
pod = redis[0]["spec"]["template"]["spec"]
c = pod["containers"][0]
command, args = c.get("command", []), c.get("args", [])
problems = []
if any(a.startswith("--requirepass") for a in command + args):
    problems.append(f"--requirepass on the command line: {command + args}")
env = {e["name"]: e for e in c.get("env", [])}
if any(re.search(r"\$\([A-Za-z_][A-Za-z0-9_]*\)", a) for a in command + args):
    problems.append("an environment variable expanded into the command line ($(NAME))")
ref = env.get("REDISCLI_AUTH", {}).get("valueFrom", {}).get("secretKeyRef", {})
if (ref.get("name"), ref.get("key")) != (secret, key):
    problems.append(f"REDISCLI_AUTH from {ref}, want Secret {secret} key {key}")
if any("value" in e for e in env.values()):
    problems.append("a literal env value in the Redis container")
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
volume = next((v for v in pod.get("volumes", []) if v["name"] == mounts.get("/run/redis-conf")), {})
if "emptyDir" not in volume:
    problems.append(f"/run/redis-conf is not an emptyDir: {volume}")
if command[:2] != ["sh", "-c"] or len(command) < 3:
    sys.exit("\n".join(problems + [f"command is not sh -c SCRIPT: {command}"]))
os.makedirs(f"{run}/conf", exist_ok=True)
os.makedirs(f"{run}/bin", exist_ok=True)
with open(f"{run}/bin/redis-server", "w") as f:  # records its argv, one argument a line
    f.write(f'#!/bin/sh\nprintf "%s\\n" "$@" >"{run}/argv"\n')
os.chmod(f"{run}/bin/redis-server", 0o755)
script = command[2].replace("/run/redis-conf", f"{run}/conf")
def start(password):
    for name in ("argv", "conf/redis.conf"):
        if os.path.exists(f"{run}/{name}"):
            os.remove(f"{run}/{name}")
    environ = dict(os.environb)
    environ[b"PATH"] = f"{run}/bin:".encode() + environ[b"PATH"]
    environ[b"REDISCLI_AUTH"] = password
    return subprocess.run(["sh", "-c", script] + command[3:] + args, env=environ,
                          capture_output=True)
password = b' \tpa"ss w\\$(x)\x27\xe9\n'
done = start(password)
conf = f"{run}/conf/redis.conf"
if done.returncode != 0 or not os.path.exists(f"{run}/argv"):
    problems.append(f"the script failed: {done.stderr!r}")
else:
    argv = open(f"{run}/argv", "rb").read().split(b"\n")[:-1]
    if argv != [conf.encode()] + [a.encode() for a in args]:
        problems.append(f"redis-server started with {argv}")
    mode = stat.S_IMODE(os.stat(conf).st_mode)
    if mode != 0o600:
        problems.append(f"config file mode {mode:o}")
    m = re.fullmatch(rb'requirepass "((?:\\x[0-9a-f]{2})+)"\n', open(conf, "rb").read())
    got = bytes.fromhex(m.group(1).replace(b"\\x", b"").decode()) if m else None
    if got != password.strip(b" \t\n\v\f\r"):
        problems.append(f"config file holds {got!r}, want {password.strip()!r}")
for empty in (b"", b" \n"):
    done = start(empty)
    if done.returncode == 0 or os.path.exists(f"{run}/argv"):
        problems.append(f"Redis started with the password {empty!r}")
sys.exit("\n".join(problems) or None)
PY
}
for f in chart-redis production-values; do
  if redis_password_hidden $f.yaml llm-router-redis redis-password; then
    ok "the chart's Redis reads its password from the Secret into a file, never argv ($f)"
  else
    fail "the chart's Redis password kept out of argv ($f)"
  fi
done
render_redis chart-redis-secret --set redis.enabled=true --set redis.existingSecret=team-redis \
  --set redis.passwordKey=pw
if redis_password_hidden chart-redis-secret.yaml team-redis pw; then
  ok "the chart's Redis takes its password from redis.existingSecret"
else
  fail "the chart's Redis with redis.existingSecret"
fi
# An operator's own Redis (redis.external.url): every service gets the URL and its password
# Secret; nothing is deployed.
render_redis external-redis --set redis.external.url=redis://redis.example.internal:6379 \
  --set redis.external.passwordSecret=team-redis --set redis.external.passwordKey=pw \
  --set redis.failClosed=true
if redis_wiring external-redis.yaml redis://redis.example.internal:6379 /etc/llm-router/redis/pw \
  team-redis fail-closed; then
  ok "redis.external: every service gets the operator's Redis and its password Secret"
else
  fail "redis.external wiring"
fi
expect_not external-redis.yaml "no Redis deployed for an external one" 'component: redis'
render_redis external-redis-db --set redis.external.url=redis://10.0.0.7:6380/2
if redis_wiring external-redis-db.yaml redis://10.0.0.7:6380/2 "" ""; then
  ok "redis.external.url with a database number, without a password Secret: nothing mounted"
else
  fail "redis.external.url with a database number"
fi
render_redis external-redis-plain --set redis.external.url=redis.example.internal:6379
if redis_wiring external-redis-plain.yaml redis.example.internal:6379 "" ""; then
  ok "redis.external.url as plain host:port"
else
  fail "redis.external.url as plain host:port"
fi
if python3 - "$out/production-values.yaml" <<'PY'; then
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
policy = [d for d in docs
          if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "llm-router-redis"]
peers = [p for rule in policy[0]["spec"]["ingress"] for p in rule.get("from", [])] if policy else []
components = [p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
              for p in peers]
sys.exit(0 if policy and sorted(components) == ["decision", "gateway", "inventory"] else 1)
PY
  ok "Redis reachable from gateway, decision and inventory only (NetworkPolicy)"
else
  fail "Redis reachable from gateway, decision and inventory only (NetworkPolicy)"
fi
# The manifest check itself refuses a Redis policy that shuts out a service using the Redis, and
# services given different Redis flags.
python3 - "$out/production-values.yaml" "$out/redis-broken" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "llm-router-redis":
        rule = d["spec"]["ingress"][0]
        rule["from"] = [f for f in rule["from"] if f["podSelector"]["matchLabels"][
            "app.kubernetes.io/component"] != "inventory"]
yaml.safe_dump_all(docs, open(sys.argv[2] + "-policy.yaml", "w"))
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Deployment" and d["metadata"]["name"] == "llm-router-decision":
        c = d["spec"]["template"]["spec"]["containers"][0]
        c["args"] = [a for a in c["args"] if not a.startswith("--redis")]
yaml.safe_dump_all(docs, open(sys.argv[2] + "-args.yaml", "w"))
PY
for broken in 'policy:does not admit llm-router-inventory' 'args:differs from the other'; do
  kind=${broken%%:*}
  if python3 "$check" "$out/redis-broken-$kind.yaml" >"$out/redis-broken.log"; then
    fail "manifest checks miss a broken Redis $kind"
  elif grep -q "${broken#*:}" "$out/redis-broken.log"; then
    ok "manifest checks catch a broken Redis $kind"
  else
    cat "$out/redis-broken.log"
    fail "manifest checks refuse the broken Redis $kind for another reason"
  fi
done
expect_not defaults.yaml "no credentials Secret without content" 'name: llm-router-secrets$'
expect external-policies-values.yaml "existing mTLS Secret mounted" 'secretName: llm-router-mtls'
expect_not external-policies-values.yaml "no ConfigMap with external policies" 'kind: ConfigMap'
expect_not external-policies-values.yaml "no Secret with an existing Secret" 'kind: Secret'
expect external-policies-values.yaml "external policy ConfigMap mounted" 'name: llm-router-policies'
expect external-policies-values.yaml "external policy key used" 'policy_file=/etc/llm-router/policy/bundle.yaml'

# Inventory's write and reporter tokens: always configured (issue 11, finding 4). The chart makes
# them when the operator gives no Secret; inventory gets both, the gateway only the reporter's.
tokens_mounted() {  # tokens_mounted <file> <Secret name>: who mounts which keys of the Secret
  python3 - "$out/$1" "$2" <<'PY'
import sys, yaml
path, secret = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
want = {"llm-router-inventory": ["inventory-write-token", "inventory-reporter-token"],
        "llm-router-gateway": ["inventory-reporter-token"]}
for d in docs:
    if d["kind"] != "Deployment" or d["metadata"]["name"] not in want:
        continue
    keys = [i["key"] for v in d["spec"]["template"]["spec"]["volumes"]
            if v.get("secret", {}).get("secretName") == secret for i in v["secret"].get("items", [])]
    if sorted(keys) != sorted(want.pop(d["metadata"]["name"])):
        sys.exit(f"{d['metadata']['name']} mounts {keys} of {secret}")
sys.exit(f"not rendered: {sorted(want)}" if want else 0)
PY
}
for scenario in defaults production-values minimal-values; do
  expect $scenario.yaml "inventory needs the write token ($scenario)" \
    'write_token_file=/etc/llm-router/tokens/inventory-write-token$'
  expect $scenario.yaml "inventory needs the reporter token ($scenario)" \
    'reporter_token_file=/etc/llm-router/tokens/inventory-reporter-token$'
  expect $scenario.yaml "gateway sends the reporter token ($scenario)" \
    'inventory_reporter_token_file=/etc/llm-router/tokens/inventory-reporter-token$'
  expect $scenario.yaml "token Secret generated ($scenario)" 'name: llm-router-tokens$'
  if tokens_mounted $scenario.yaml llm-router-tokens; then
    ok "inventory mounts both tokens, the gateway only the reporter token ($scenario)"
  else
    fail "token mounts ($scenario)"
  fi
done
if [[ $(grep -cE '^  inventory-(write|reporter)-token: "[A-Za-z0-9+/=]{64}"$' "$out/defaults.yaml") == 2 ]]; then
  ok "generated tokens are 48 random characters each"
else
  fail "generated tokens (no two 48-character values in the token Secret)"
fi
if tokens_mounted external-policies-values.yaml llm-router-tokens; then
  ok "tokens from the operator's Secret (external-policies)"
else
  fail "tokens from the operator's Secret (external-policies)"
fi


# The route link: on only when secured, by mutual TLS (with the gRPC certificate) or by the
# NetworkPolicy that admits only gateway pods to its port; off with neither or when switched off.
service_port() {  # service_port <file> <Service name> <port name> <port>: the Service has it
  python3 - "$out/$1" "$2" "$3" "$4" <<'PY'
import sys, yaml
path, service, name, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
docs = [d for d in yaml.safe_load_all(open(path)) if d]
ports = [p for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == service
         for p in d["spec"].get("ports", [])]
sys.exit(0 if any(p.get("name") == name and p.get("port") == port and p.get("targetPort") == name
                  for p in ports) else 1)
PY
}
render_checked() {  # render_checked <label> <helm template args...>: renders and passes checks
  local label=$1
  shift
  if render "$out/$label.yaml" llm-router --namespace llm "$@" &&
    python3 "$check" "$out/$label.yaml" "${external[@]}"; then
    ok "helm template and manifest checks ($label)"
  else
    cat "$out/$label.yaml.err"
    fail "helm template or manifest checks ($label)"
    rm -f "$out/$label.yaml"  # so that no expect_not passes on it
  fi
}
render_checked link-netpol --set networkPolicy.enabled=true
# Operators' classifier models from a ConfigMap (GitOps), named by the bundle's classifier.file.
expect_not defaults.yaml "no classifier volume unless a ConfigMap is named" 'mountPath: /etc/llm-router/classifier'
render_checked classifier-models --set decision.policy.classifierConfigMap=team-classifiers
expect classifier-models.yaml "decision mounts the classifier models" 'mountPath: /etc/llm-router/classifier$'
expect classifier-models.yaml "from the operator's ConfigMap" 'name: team-classifiers$'
expect defaults.yaml "the default policy names the built-in classifier" 'sha256: [0-9a-f]{64}$'

# The gateway's own region and connection cap (issue 11 findings 6 and 7).
expect defaults.yaml "gateway caps its connections" 'max_connections=10000$'
expect_not defaults.yaml "no region unless one is set" '--region='
render_checked gateway-region --set gateway.region=eu-west-1 --set gateway.maxConnections=500
expect gateway-region.yaml "gateway sends its region" 'region=eu-west-1$'
expect gateway-region.yaml "gateway takes its connection cap" 'max_connections=500$'
render_checked link-mtls --set mtls.enabled=true --set mtls.existingSecret=llm-router-mtls
for f in link-netpol.yaml link-mtls.yaml production-values.yaml external-policies-values.yaml; do
  if service_port $f llm-router-decision-headless route-link 50053; then
    ok "decision headless Service has the route-link port (${f%.yaml})"
  else
    fail "decision headless Service lacks port route-link 50053 -> route-link (${f%.yaml})"
  fi
  expect $f "decision serves the route link (${f%.yaml})" 'route_link_port=50053'
  expect $f "decision's connection cap (${f%.yaml})" 'route_link_max_connections=1024'
  expect $f "decision's route-link container port (${f%.yaml})" 'containerPort: 50053'
  expect $f "gateway routes over the link to the decision headless Service (${f%.yaml})" \
    'decision_link_target=llm-router-decision-headless\.llm\.svc\.cluster\.local:50053$'
  expect $f "gateway keeps gRPC as the route link's fallback (${f%.yaml})" 'decision_target=dns:///'
done
expect link-netpol.yaml "NetworkPolicy lets the gateway reach the route link" 'port: route-link'
expect_not link-netpol.yaml "plaintext link with the NetworkPolicy" 'tls_cert_file'
expect link-mtls.yaml "the link speaks mutual TLS with the gRPC certificate" \
  'tls_cert_file=/etc/llm-router/tls/tls.crt'
render_checked link-off --set decision.routeLink.enabled=false --set networkPolicy.enabled=true \
  --set mtls.enabled=true --set mtls.existingSecret=llm-router-mtls
for f in defaults.yaml minimal-values.yaml link-off.yaml; do
  expect_not $f "no --route_link_port (${f%.yaml})" 'route_link'
  expect_not $f "no --decision_link_target (${f%.yaml})" 'decision_link_target'
  expect_not $f "no route-link port in Services, containers or policies (${f%.yaml})" 'route-link'
done
# The manifest check itself refuses a plaintext link that nothing restricts.
python3 - "$out/link-netpol.yaml" "$out/open-link.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] != "NetworkPolicy"]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
if python3 "$check" "$out/open-link.yaml" "${external[@]}" >"$out/open-link.log"; then
  fail "manifest checks pass a plaintext route link without a NetworkPolicy"
elif grep -q 'plaintext route link' "$out/open-link.log"; then
  ok "manifest checks refuse a plaintext route link without a NetworkPolicy"
else
  cat "$out/open-link.log"
  fail "manifest checks refuse the open link for another reason"
fi

# Busy polling: gateway.busyPollUs reaches the gateway's flag.
render_checked busy-poll --set gateway.busyPollUs=50
expect busy-poll.yaml "gateway.busyPollUs passed to the gateway" '--busy_poll_us=50$'

# The access log: off by default; when on, to the gateway's stdout at the sample given, and only
# the gateway container gets the flags.
expect_not defaults.yaml "no access log by default" '--access_log'
render_checked access-log --set gateway.accessLog.enabled=true --set gateway.accessLog.sample=0.25
if python3 - "$out/access-log.yaml" <<'PY'; then
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
want = ["--access_log=-", "--access_log_sample=0.25"]
problems, seen = [], False
for d in docs:
    spec = d.get("spec", {})
    spec = spec.get("template", {}).get("spec", spec)
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        got = [a for a in c.get("args", []) if a.startswith("--access_log")]
        gateway = d["metadata"]["name"] == "llm-router-gateway" and c["name"] == "gateway"
        seen = seen or gateway
        if got != (want if gateway else []):
            problems.append(f"{d['metadata']['name']}/{c['name']}: {got}")
if not seen:
    problems.append("no gateway container rendered")
sys.exit("\n".join(problems) or None)
PY
  ok "gateway.accessLog: --access_log=- and --access_log_sample=0.25 on the gateway container only"
else
  fail "gateway.accessLog flags on the gateway container only"
fi

# The decision log: decision's flags from decision.decisionLog (large byte counts stay integers).
expect defaults.yaml "decision log default size on decision" '--decision_log_bytes=33554432$'
render_checked decision-log --set decision.decisionLog.bytes=4294967296 \
  --set decision.decisionLog.maxAgeSeconds=3600 --set decision.decisionLog.traceSample=0.5
expect decision-log.yaml "decision.decisionLog.bytes passed as an integer" '--decision_log_bytes=4294967296$'
expect decision-log.yaml "decision.decisionLog.maxAgeSeconds passed" '--decision_log_max_age_s=3600$'
expect decision-log.yaml "decision.decisionLog.traceSample passed" '--decision_log_trace_sample=0.5$'

# Usage reports carry the reporter token, which decision asks for (the write token stays out of
# both pods).
expect defaults.yaml "decision asks for the reporter token on ReportUsage" \
  '--reporter_token_file=/etc/llm-router/tokens/inventory-reporter-token$'
expect defaults.yaml "the gateway sends the reporter token with its usage reports" \
  '--decision_reporter_token_file=/etc/llm-router/tokens/inventory-reporter-token$'

# Rollouts: judged on the interval given; without Redis the replicas behind the headless service
# are counted (a rollout is refused when there are several), with Redis they share a lease.
expect defaults.yaml "rollout interval on decision" '--rollout_interval_ms=500$'
expect defaults.yaml "variant slots on decision" '--variant_slot_ms=10000$'
expect defaults.yaml "without Redis, decision counts its replicas for rollouts" \
  '--rollout_peers=llm-router-decision-headless\.llm\.svc\.cluster\.local$'
expect_not external-redis.yaml "with Redis, rollouts share a lease instead of counting replicas" \
  '--rollout_peers'
render_checked rollouts --set decision.rollouts.intervalMs=250 --set decision.rollouts.leaseTtlMs=2000 \
  --set decision.rollouts.variantSlotMs=5000
expect rollouts.yaml "decision.rollouts.intervalMs passed" '--rollout_interval_ms=250$'
expect rollouts.yaml "decision.rollouts.leaseTtlMs passed" '--rollout_lease_ttl_ms=2000$'
expect rollouts.yaml "decision.rollouts.variantSlotMs passed" '--variant_slot_ms=5000$'

# decision's database on a claim: one replica, Recreate, the claim mounted instead of the
# emptyDir; refused with several replicas.
expect_not defaults.yaml "no claim for decision by default" 'kind: PersistentVolumeClaim'
render_checked decision-pvc --set decision.database.persistence.enabled=true \
  --set decision.replicaCount=1 --set decision.database.persistence.size=5Gi \
  --set decision.database.persistence.storageClass=fast
expect decision-pvc.yaml "decision.database.persistence makes a claim" 'claimName: llm-router-decision-data$'
expect decision-pvc.yaml "the claim's size" 'storage: 5Gi$'
expect decision-pvc.yaml "the claim's storage class" 'storageClassName: fast$'
expect decision-pvc.yaml "decision is replaced by Recreate with a claim" 'type: Recreate$'

# NOTES.txt renders for every scenario (helm template skips it; render it as a template here).
notes_chart="$out/notes-chart"
cp -r "$chart" "$notes_chart"
{ echo '{{- define "llm-router.notes" }}'; cat "$chart/templates/NOTES.txt"; echo '{{- end }}'; } \
  >"$notes_chart/templates/_notes.tpl"
echo 'notes: {{ include "llm-router.notes" . | toJson }}' >"$notes_chart/templates/notes.yaml"
for values in "" "$chart"/ci/*-values.yaml; do
  label=${values:+$(basename "$values" .yaml)}
  if "$helm" template r "$notes_chart" ${values:+-f "$values"} --show-only templates/notes.yaml \
    >"$out/notes.yaml" 2>&1 && grep -q 'helm test r' "$out/notes.yaml"; then
    ok "NOTES.txt renders (${label:-defaults})"
  else
    cat "$out/notes.yaml"
    fail "NOTES.txt (${label:-defaults})"
  fi
done

# What the chart must refuse.
refuse() {  # refuse <label> <expected message pattern> <helm template args...>
  local label=$1 pattern=$2
  shift 2
  if render "$out/refused.yaml" llm-router "$@"; then
    fail "$label: rendered"
  elif grep -qE -- "$pattern" "$out/refused.yaml.err"; then
    ok "$label: refused"
  else
    cat "$out/refused.yaml.err"
    fail "$label: refused for another reason"
  fi
}
refuse "misspelt key gateway.replicaCont" 'replicaCont is not allowed' --set gateway.replicaCont=3
refuse "misspelt top-level key imgae" 'imgae is not allowed' --set imgae.tag=x
refuse "unknown log format" 'logging.format' --set logging.format=xml
refuse "a claim for decision with two replicas" 'persistence needs one decision replica' \
  --set decision.database.persistence.enabled=true --set decision.replicaCount=2
refuse "unknown service type" 'gateway.service.type' --set gateway.service.type=ExternalName
refuse "endpoint with an unknown field" 'adress is not allowed' \
  --set 'inventory.endpoints.list[0].model=m' --set 'inventory.endpoints.list[0].address=a:1' \
  --set 'inventory.endpoints.list[0].adress=a:1'
refuse "grace period shorter than the drain" 'must cover' \
  --set gateway.terminationGracePeriodSeconds=10 --set gateway.shutdownGraceMs=20000
refuse "grace period shorter than the shutdown delay plus the drain" 'must cover' \
  --set gateway.terminationGracePeriodSeconds=30 --set gateway.shutdownDelayMs=15000 \
  --set gateway.shutdownGraceMs=20000
refuse "mTLS without a certificate source" 'mtls.existingSecret' --set mtls.enabled=true
refuse "route link on decision's gRPC port" 'decision.ports.routeLink' \
  --set decision.ports.routeLink=50051 --set networkPolicy.enabled=true
refuse "one key for both inventory tokens" 'must differ' \
  --set tokens.inventoryReporterKey=inventory-write-token
refuse "negative gateway.busyPollUs" 'busyPollUs' --set gateway.busyPollUs=-1
refuse "gateway.accessLog.sample above 1" 'accessLog.sample: Must be less than or equal to 1' \
  --set gateway.accessLog.enabled=true --set gateway.accessLog.sample=2
refuse "gateway.accessLog.sample=1.5 (a string from --set)" \
  'accessLog.sample: Does not match pattern' \
  --set gateway.accessLog.enabled=true --set gateway.accessLog.sample=1.5
refuse "misspelt key decision.routeLink.enable" 'enable is not allowed' \
  --set decision.routeLink.enable=false
refuse "API key without key or digest" 'apiKeys' --set 'secrets.apiKeys[0].tenant=t'
refuse "HPA without a target" 'needs targetCPU' --set gateway.autoscaling.enabled=true \
  --set gateway.autoscaling.targetCPUUtilizationPercentage=null
# Redis URLs the services cannot use: TLS (Debian 12's hiredis has none) and credentials, which
# belong in redis.external.passwordSecret (and whose password the message must not repeat).
refuse "redis.external.url with rediss://" 'rediss:// \(TLS\) is not supported.*TLS sidecar' \
  --set redis.external.url=rediss://redis.example.internal:6380
refuse "redis.external.url with REDISS://" 'rediss:// \(TLS\) is not supported' \
  --set redis.external.url=REDISS://redis.example.internal:6380
for url in redis://:hunter2@redis.example.internal:6379 \
  redis://default:hunter2@redis.example.internal:6379/1 rediss://:hunter2@redis.example.internal:6380; do
  refuse "redis.external.url with credentials (${url%%:*}://...@)" \
    'holds credentials.*redis\.external\.passwordSecret' --set redis.external.url=$url
  if grep -q hunter2 "$out/refused.yaml.err"; then
    fail "the refusal of a redis.external.url with credentials repeats the password"
  fi
done
refuse "redis.external.url with another scheme" 'is not redis://HOST:PORT' \
  --set redis.external.url=http://redis.example.internal:6379
refuse "redis.external.url without a port" 'is not redis://HOST:PORT' \
  --set redis.external.url=redis://redis.example.internal
refuse "the old key redis.external.address" 'address is not allowed' \
  --set redis.external.address=redis.example.internal:6379

# The manifest checker must itself catch a broken manifest.
sed '/readinessProbe:/,/timeoutSeconds/d' "$out/defaults.yaml" >"$out/broken.yaml"
if python3 "$check" "$out/broken.yaml" >"$out/broken.log"; then
  fail "manifest checks miss a missing readiness probe"
else
  ok "manifest checks catch a missing readiness probe"
fi
sed 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "$out/defaults.yaml" >"$out/broken.yaml"
if python3 "$check" "$out/broken.yaml" >"$out/broken.log"; then
  fail "manifest checks miss a writable root filesystem"
else
  ok "manifest checks catch a writable root filesystem"
fi

# The chart's alert rules are the ones of deploy/prometheus (helm cannot read outside the chart).
if cmp -s "$here/deploy/prometheus/alerts.yml" "$chart/files/alerts.yml"; then
  ok "helm/llm-router/files/alerts.yml is deploy/prometheus/alerts.yml"
else
  fail "helm/llm-router/files/alerts.yml differs from deploy/prometheus/alerts.yml (copy it)"
fi
if sh -n "$chart/files/helm-test.sh"; then ok "helm test script parses"; else fail "helm test script"; fi

if ((failures)); then
  echo "helm checks: $failures failed"
  exit 1
fi
echo "helm checks: ok"
