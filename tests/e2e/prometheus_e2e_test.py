#!/usr/bin/env python3
"""End to end with the real Prometheus: starts fake model backends, inventory, decision and the
gateway on loopback, sends traffic, then runs Debian's `prometheus` with a scrape configuration
generated from deploy/prometheus/prometheus.yml (same jobs, static loopback targets instead of DNS
discovery, the project's alert rules) and asserts through its HTTP API that every target is up,
the key series are there and the rules loaded. Also: `promtool check metrics` on every /metrics,
and the chart's `helm test` script against the running services.

usage: prometheus_e2e_test.py <build dir>
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SMALL, LARGE = "llama-3.1-8b-instruct", "qwen2.5-72b-instruct"

failures = []
procs = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SANITIZER_REPORT = re.compile(
    rb"(ERROR|SUMMARY): (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error: ")
logs = []


def check_sanitizer_reports():
    """In a sanitized build (docs/reliability.md) a report in any started program's log fails."""
    for name, path in logs:
        with open(path, "rb") as f:
            m = SANITIZER_REPORT.search(f.read())
        if m:
            check(False, f"{name} printed a sanitizer report; see {path}")


def start(name, argv, workdir, ready_file=None):
    log = open(os.path.join(workdir, f"{name}.log"), "wb")
    logs.append((name, log.name))
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    procs.append((name, p))
    if ready_file is None:
        return p, None
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(ready_file):
            with open(ready_file) as f:
                return p, json.load(f)
        if p.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not start; see {workdir}/{name}.log")


def http(url, body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return 0, str(e).encode()


def prom(base, path, **params):
    status, body = http(f"{base}{path}?{urllib.parse.urlencode(params)}")
    if status != 200:
        return None
    return json.loads(body)["data"]


def scrape_config(source, targets, rules_file):
    """The project's scrape config with static loopback targets and a fast interval."""
    with open(source) as f:
        config = yaml.safe_load(f)
    config["global"]["scrape_interval"] = "1s"
    config["global"]["scrape_timeout"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [rules_file]
    jobs = {j["job_name"] for j in config["scrape_configs"]}
    missing = set(targets) - jobs
    if missing:
        raise RuntimeError(f"{source} has no job {sorted(missing)}")
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    return config


def main(build):
    work = tempfile.mkdtemp(prefix="llmrouter-prom-e2e-")
    b = lambda rel: os.path.join(build, rel)
    fake = b("tools/fake-llm/fake-llm")
    backends = {}
    for name, model in (("small", SMALL), ("large", LARGE)):
        _, ready = start(f"fake-{name}", [fake, "--port=0", f"--model={model}", f"--name={name}",
                                          "--completion_tokens=4",
                                          f"--ready_file={work}/fake-{name}.ready"],
                         work, f"{work}/fake-{name}.ready")
        backends[name] = ready["http_port"]
    with open(f"{work}/endpoints.yaml", "w") as f:
        yaml.safe_dump({"endpoints": [
            {"id": "small-a", "model": SMALL, "address": f"127.0.0.1:{backends['small']}"},
            {"id": "large-a", "model": LARGE, "address": f"127.0.0.1:{backends['large']}"},
        ]}, f)
    with open(f"{work}/policy.yaml", "w") as f:
        yaml.safe_dump({"models": [{"name": SMALL, "aliases": ["small"], "fallbacks": [LARGE]},
                                   {"name": LARGE, "aliases": ["large"]}]}, f)
    common = ["--host=127.0.0.1", "--metrics_port=0"]
    _, inv = start("inventory", [b("services/inventory/inventory"), *common, "--grpc_port=0",
                                 f"--endpoints_file={work}/endpoints.yaml",
                                 f"--ready_file={work}/inventory.ready"],
                   work, f"{work}/inventory.ready")
    _, dec = start("decision", [b("services/decision/decision"), *common, "--grpc_port=0",
                                f"--db={work}/decision.db", f"--policy_file={work}/policy.yaml",
                                f"--inventory_target=127.0.0.1:{inv['grpc_port']}",
                                f"--ready_file={work}/decision.ready"],
                   work, f"{work}/decision.ready")
    _, gw = start("gateway", [b("services/gateway/gateway"), *common, "--http_port=0",
                              f"--decision_target=127.0.0.1:{dec['grpc_port']}",
                              f"--inventory_target=127.0.0.1:{inv['grpc_port']}",
                              f"--ready_file={work}/gateway.ready"],
                  work, f"{work}/gateway.ready")
    gateway = f"http://127.0.0.1:{gw['http_port']}"

    # Traffic: both models, JSON and streaming, plus an unknown model (404).
    def chat(model, stream=False):
        body = json.dumps({"model": model, "stream": stream,
                           "messages": [{"role": "user", "content": "hello"}]}).encode()
        return http(f"{gateway}/v1/chat/completions", body, {"content-type": "application/json"})

    deadline = time.time() + 15
    while time.time() < deadline and chat(LARGE)[0] != 200:
        time.sleep(0.1)  # decision routes once its first inventory snapshot has arrived
    codes = [chat(m, s)[0] for _ in range(3) for m in (SMALL, LARGE, "small", "large")
             for s in (False, True)]
    check(all(c == 200 for c in codes), f"24 chat completions through the gateway: {codes}")
    check(chat("no-such-model")[0] == 404, "unknown model is a 404")

    # promtool check metrics on each /metrics: no problem at all for llm-router's services; only
    # the ':' naming warnings for the vLLM-style names of fake-llm.
    metrics = {"gateway": gw["metrics_port"], "decision": dec["metrics_port"],
               "inventory": inv["metrics_port"], "fake-llm": backends["small"]}
    for name, port in metrics.items():
        status, text = http(f"http://127.0.0.1:{port}/metrics")
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
        out = (r.stdout + r.stderr).decode().strip()
        if name == "fake-llm":
            lines = [l for l in out.splitlines() if l]
            unexpected = [l for l in lines if "should not contain ':'" not in l]
            check(status == 200 and lines and not unexpected,
                  f"promtool check metrics fake-llm: only the ':' naming warnings ({len(lines)})"
                  + (f" unexpected: {unexpected}" if unexpected else ""))
        else:
            check(status == 200 and r.returncode == 0 and not out,
                  f"promtool check metrics {name}: clean" + (f" -> {out}" if out else ""))

    # The chart's helm test script, run against the loopback services.
    r = subprocess.run(["sh", os.path.join(ROOT, "helm/llm-router/files/helm-test.sh")],
                       env={**os.environ, "GATEWAY_URL": gateway,
                            "DECISION_ADDR": f"127.0.0.1:{dec['grpc_port']}",
                            "INVENTORY_ADDR": f"127.0.0.1:{inv['grpc_port']}"},
                       capture_output=True, text=True)
    check(r.returncode == 0, "helm test script passes against the running services:\n"
          + r.stdout.rstrip())

    # Prometheus with the project's scrape config and alert rules.
    rules = os.path.join(work, "alerts.yml")
    shutil.copy(os.path.join(ROOT, "deploy/prometheus/alerts.yml"), rules)
    targets = {
        "llm-router-gateway": [f"127.0.0.1:{gw['metrics_port']}"],
        "llm-router-decision": [f"127.0.0.1:{dec['metrics_port']}"],
        "llm-router-inventory": [f"127.0.0.1:{inv['metrics_port']}"],
        "llm-backends": [f"127.0.0.1:{p}" for p in backends.values()],
    }
    config = scrape_config(os.path.join(ROOT, "deploy/prometheus/prometheus.yml"), targets, rules)
    with open(f"{work}/prometheus.yml", "w") as f:
        yaml.safe_dump(config, f)
    port = free_port()
    start("prometheus", ["prometheus", f"--config.file={work}/prometheus.yml",
                         f"--storage.tsdb.path={work}/tsdb",
                         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], work)
    base = f"http://127.0.0.1:{port}"

    expected = sum(len(t) for t in targets.values())
    active = []
    deadline = time.time() + 60
    while time.time() < deadline:
        data = prom(base, "/api/v1/targets", state="active")
        active = data["activeTargets"] if data else []
        if len(active) == expected and all(t["health"] == "up" for t in active):
            break
        time.sleep(0.5)
    check(len(active) == expected and all(t["health"] == "up" for t in active),
          f"all {expected} targets up: " + ", ".join(
              f"{t['labels']['job']}/{t['labels']['instance']}={t['health']}" for t in active))

    # Key series, as the alerts and the dashboard use them.
    queries = {
        'llmrouter_gateway_requests_total{job="llm-router-gateway",route="chat_completions",code="200"}': lambda v: v >= 24,
        'llmrouter_gateway_requests_total{job="llm-router-gateway",code="404"}': lambda v: v >= 1,
        'sum(llmrouter_gateway_request_duration_seconds_count{job="llm-router-gateway"})': lambda v: v >= 25,
        'llmrouter_gateway_upstream_attempts_total{job="llm-router-gateway",result="ok"}': lambda v: v >= 24,
        'llmrouter_gateway_decision_duration_seconds_count{job="llm-router-gateway"}': lambda v: v >= 25,
        'llmrouter_gateway_time_to_first_token_seconds_count{job="llm-router-gateway"}': lambda v: v >= 12,
        'llmrouter_decision_routes_total{job="llm-router-decision",code="ok"}': lambda v: v >= 24,
        'llmrouter_decision_route_duration_seconds_count{job="llm-router-decision"}': lambda v: v >= 24,
        'llmrouter_decision_inventory_connected{job="llm-router-decision"}': lambda v: v == 1,
        'llmrouter_decision_policy_revision{job="llm-router-decision"}': lambda v: v >= 1,
        'llmrouter_decision_inventory_endpoints{job="llm-router-decision"}': lambda v: v == 2,
        'llmrouter_inventory_endpoints{job="llm-router-inventory",health="healthy"}': lambda v: v == 2,
        'llmrouter_inventory_watchers{job="llm-router-inventory"}': lambda v: v == 1,
        'llmrouter_inventory_outcomes_total{job="llm-router-inventory",result="accepted"}': lambda v: v >= 24,
        'sum(vllm:request_success_total{job="llm-backends"})': lambda v: v >= 24,
        'count(vllm:num_requests_running{job="llm-backends"})': lambda v: v == 2,
    }
    deadline = time.time() + 30
    pending = dict(queries)
    values = {}
    while pending and time.time() < deadline:
        for q, ok in list(pending.items()):
            data = prom(base, "/api/v1/query", query=q)
            result = data["result"] if data else []
            if result:
                values[q] = float(result[0]["value"][1])
                if ok(values[q]):
                    del pending[q]
        time.sleep(0.5)
    for q in queries:
        check(q not in pending, f"series {q} = {values.get(q, 'absent')}")

    # The alert rules loaded and evaluate without error; nothing fires on a healthy system.
    data = prom(base, "/api/v1/rules") or {"groups": []}
    rules_seen = [r for g in data["groups"] for r in g["rules"]]
    with open(os.path.join(ROOT, "deploy/prometheus/alerts.yml")) as f:
        rules_written = len(re.findall(r"^\s*- alert: ", f.read(), re.M))
    check(len(rules_seen) == rules_written and all(r.get("health") in ("ok", "unknown") for r in rules_seen),
          f"{len(rules_seen)} of {rules_written} alert rules loaded, health: "
          + ", ".join(sorted({r.get('health', '?') for r in rules_seen})))
    time.sleep(2)
    data = prom(base, "/api/v1/alerts") or {"alerts": []}
    firing = [a["labels"]["alertname"] for a in data["alerts"]]
    check(not firing, f"no alert pending or firing on a healthy system: {firing}")
    return work


if __name__ == "__main__":
    work = None
    try:
        work = main(os.path.abspath(sys.argv[1]))
    except Exception as e:  # a start failure: report it with the logs' location
        failures.append(str(e))
        print(f"FAIL {e}")
    finally:
        for name, p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        check_sanitizer_reports()
    if failures:
        print(f"{len(failures)} check(s) failed" + (f"; logs in {work}" if work else ""))
        sys.exit(1)
    if work:
        shutil.rmtree(work, ignore_errors=True)
    print("prometheus e2e: ok")
