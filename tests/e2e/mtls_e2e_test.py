#!/usr/bin/env python3
"""Mutual TLS end to end: certificates generated with openssl, inventory, decision and the gateway
started with --tls_* flags on loopback. Requests through the gateway succeed (gateway → decision
→ inventory all over mTLS), a plaintext or wrongly-certified client cannot reach the gRPC
services, and a service refuses to start on a broken certificate mount. Also runs the chart's
helm test script in its TLS mode. The route link speaks mutual TLS with the same files: the
gateway's routing calls go over it, and a plaintext client is refused.

usage: mtls_e2e_test.py <build dir>
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import prometheus_e2e_test as e2e  # start(), http(), check(), the process list

SMALL = e2e.SMALL


def openssl(workdir, *args):
    subprocess.run(["openssl", *args], cwd=workdir, check=True, capture_output=True)


def make_pki(d, ca, names):
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2", "-subj", f"/CN={ca}")
    with open(f"{d}/san.ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for n in names:
        openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{n}.key", "-out", f"{n}.csr", "-subj", f"/CN={n}")
        openssl(d, "x509", "-req", "-in", f"{n}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-out", f"{n}.crt", "-days", "2", "-extfile", "san.ext")


def grpc_health(addr, tls_dir=None, cert="client"):
    """grpc.health.v1.Health/Check for the empty service name through curl; True when SERVING."""
    args = ["curl", "-s", "--max-time", "5", "-X", "POST", "-H", "content-type: application/grpc",
            "-H", "te: trailers", "--data-binary", "@-"]
    if tls_dir:
        args += ["--http2", "--cacert", f"{tls_dir}/ca.crt", "--cert", f"{tls_dir}/{cert}.crt",
                 "--key", f"{tls_dir}/{cert}.key", f"https://{addr}/grpc.health.v1.Health/Check"]
    else:
        args += ["--http2-prior-knowledge", f"http://{addr}/grpc.health.v1.Health/Check"]
    r = subprocess.run(args, input=b"\0\0\0\0\0", capture_output=True)
    return r.stdout == b"\0\0\0\0\x02\x08\x01"


def main(build):
    work = tempfile.mkdtemp(prefix="llmrouter-mtls-e2e-")
    b = lambda rel: os.path.join(build, rel)
    make_pki(work, "ca", ["service", "client"])
    make_pki(work, "other-ca", ["intruder"])
    tls = [f"--tls_cert_file={work}/service.crt", f"--tls_key_file={work}/service.key",
           f"--tls_ca_file={work}/ca.crt", "--tls_refresh_interval_s=1"]
    _, fake = e2e.start("fake", [b("tools/fake-llm/fake-llm"), "--port=0", f"--model={SMALL}",
                                 f"--ready_file={work}/fake.ready"], work, f"{work}/fake.ready")
    with open(f"{work}/endpoints.yaml", "w") as f:
        f.write(f"endpoints:\n  - {{id: a, model: {SMALL}, address: '127.0.0.1:{fake['http_port']}'}}\n")
    with open(f"{work}/policy.yaml", "w") as f:
        f.write(f"models:\n  - name: {SMALL}\n")
    common = ["--host=127.0.0.1", "--metrics_port=0", *tls]
    _, inv = e2e.start("inventory", [b("services/inventory/inventory"), *common, "--grpc_port=0",
                                     f"--endpoints_file={work}/endpoints.yaml",
                                     f"--ready_file={work}/inventory.ready"],
                       work, f"{work}/inventory.ready")
    _, dec = e2e.start("decision", [b("services/decision/decision"), *common, "--grpc_port=0",
                                    f"--db={work}/decision.db", f"--policy_file={work}/policy.yaml",
                                    f"--inventory_target=localhost:{inv['grpc_port']}",
                                    "--route_link_port=0",
                                    f"--ready_file={work}/decision.ready"],
                       work, f"{work}/decision.ready")
    _, gw = e2e.start("gateway", [b("services/gateway/gateway"), *common, "--http_port=0",
                                  f"--decision_target=localhost:{dec['grpc_port']}",
                                  f"--decision_link_target=localhost:{dec['route_link_port']}",
                                  f"--inventory_target=localhost:{inv['grpc_port']}",
                                  f"--ready_file={work}/gateway.ready"],
                      work, f"{work}/gateway.ready")
    body = json.dumps({"model": SMALL, "messages": [{"role": "user", "content": "hi"}]}).encode()
    status = 0
    deadline = time.time() + 20
    while time.time() < deadline and status != 200:
        status, answer = e2e.http(f"http://127.0.0.1:{gw['http_port']}/v1/chat/completions", body,
                                  {"content-type": "application/json"})
        time.sleep(0.2)
    e2e.check(status == 200, f"chat completion through gateway → decision → inventory over mTLS ({status})")

    # Routing calls went over the route link with mutual TLS, not over gRPC.
    def metric(port, name):
        _, text = e2e.http(f"http://127.0.0.1:{port}/metrics")
        for line in text.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.split()[-1])
        return 0.0
    for _ in range(5):
        e2e.http(f"http://127.0.0.1:{gw['http_port']}/v1/chat/completions", body,
                 {"content-type": "application/json"})
    e2e.check(metric(gw["metrics_port"], "llmrouter_gateway_decision_link_connections") >= 1,
              "gateway's route link connection over mTLS is up")
    e2e.check(metric(dec["metrics_port"], "llmrouter_decision_route_link_connections") >= 1,
              "decision serves the gateway's route link over mTLS")
    import socket
    with socket.create_connection(("127.0.0.1", dec["route_link_port"]), timeout=5) as s:
        s.sendall(b"LLMRLNK1")
        try:
            refused = s.recv(64) == b""
        except OSError:
            refused = True
    e2e.check(refused, "a plaintext route link client is refused under mTLS")
    deadline = time.time() + 10
    while time.time() < deadline and metric(
            dec["metrics_port"],
            'llmrouter_decision_route_link_rejected_total{reason="tls_handshake"}') < 1:
        time.sleep(0.2)
    e2e.check(metric(dec["metrics_port"],
                     'llmrouter_decision_route_link_rejected_total{reason="tls_handshake"}') >= 1,
              "the refused handshake is counted")

    # The gateway's outcome report reached inventory over mTLS too.
    accepted = 0
    deadline = time.time() + 10
    while time.time() < deadline and accepted < 1:
        _, text = e2e.http(f"http://127.0.0.1:{inv['metrics_port']}/metrics")
        for line in text.decode().splitlines():
            if line.startswith('llmrouter_inventory_outcomes_total{result="accepted"}'):
                accepted = float(line.split()[-1])
        time.sleep(0.2)
    e2e.check(accepted >= 1, f"gateway → inventory outcome reports over mTLS ({accepted:.0f} accepted)")

    for name, port in (("inventory", inv["grpc_port"]), ("decision", dec["grpc_port"])):
        addr = f"localhost:{port}"
        e2e.check(grpc_health(addr, work), f"{name}: health over mTLS with a client certificate")
        e2e.check(not grpc_health(addr), f"{name}: plaintext client refused")
        e2e.check(not grpc_health(addr, work, "intruder"),
                  f"{name}: client certificate of another CA refused")

    # routerctl speaks mutual TLS with the same flags, and fails without them.
    ctl = [b("tools/routerctl/routerctl"), f"--decision=localhost:{dec['grpc_port']}",
           f"--inventory=localhost:{inv['grpc_port']}", "--timeout_ms=3000"]
    ctl_tls = [f"--tls_cert_file={work}/client.crt", f"--tls_key_file={work}/client.key",
               f"--tls_ca_file={work}/ca.crt"]
    r = subprocess.run([*ctl, *ctl_tls, "route", f"--model={SMALL}"], capture_output=True, text=True)
    e2e.check(r.returncode == 0 and SMALL in r.stdout,
              "routerctl route over mTLS:\n" + (r.stdout + r.stderr).rstrip())
    r = subprocess.run([*ctl, *ctl_tls, "inventory", "list"], capture_output=True, text=True)
    e2e.check(r.returncode == 0 and "127.0.0.1" in r.stdout, "routerctl inventory list over mTLS")
    r = subprocess.run([*ctl, "route", f"--model={SMALL}"], capture_output=True, text=True)
    e2e.check(r.returncode == 1, "routerctl without a certificate is refused")

    r = subprocess.run(["sh", os.path.join(e2e.ROOT, "helm/llm-router/files/helm-test.sh")],
                       env={**os.environ, "GATEWAY_URL": f"http://127.0.0.1:{gw['http_port']}",
                            "DECISION_ADDR": f"localhost:{dec['grpc_port']}",
                            "INVENTORY_ADDR": f"localhost:{inv['grpc_port']}",
                            "TLS_DIR": work, "TLS_CERT": "client.crt", "TLS_KEY": "client.key",
                            "TLS_CA": "ca.crt"},
                       capture_output=True, text=True)
    e2e.check(r.returncode == 0, "helm test script in TLS mode:\n" + r.stdout.rstrip())

    broken = subprocess.run([b("services/inventory/inventory"), "--grpc_port=0", "--metrics_port=0",
                             f"--tls_cert_file={work}/service.crt",
                             f"--tls_key_file={work}/missing.key", f"--tls_ca_file={work}/ca.crt"],
                            capture_output=True, text=True, timeout=20)
    e2e.check(broken.returncode != 0 and "missing.key" in broken.stderr,
              f"a missing key stops the service (exit {broken.returncode})")
    return work


if __name__ == "__main__":
    work = None
    try:
        work = main(os.path.abspath(sys.argv[1]))
    except Exception as ex:
        e2e.failures.append(str(ex))
        print(f"FAIL {ex}")
    finally:
        for _, p in reversed(e2e.procs):
            if p.poll() is None:
                p.terminate()
        for _, p in reversed(e2e.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        e2e.check_sanitizer_reports()
    if e2e.failures:
        print(f"{len(e2e.failures)} check(s) failed" + (f"; logs in {work}" if work else ""))
        sys.exit(1)
    if work:
        shutil.rmtree(work, ignore_errors=True)
    print("mtls e2e: ok")
