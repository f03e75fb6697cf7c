#!/usr/bin/env python3
"""gRPC server reflection end to end: `buf curl` (the npm package scripts/bootstrap.sh installs),
with no schema of its own, lists each service's methods and calls grpc.health.v1.Health/Check
through reflection alone, on inventory and decision started on loopback.

usage: reflection_e2e_test.py <build dir>
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import prometheus_e2e_test as e2e  # start(), check(), the process list

BUF = os.path.join(e2e.ROOT, ".tools", "node_modules", ".bin", "buf")


def buf_curl(*args):
    r = subprocess.run([BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge", *args],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def main(build):
    work = tempfile.mkdtemp(prefix="llmrouter-reflection-e2e-")
    b = lambda rel: os.path.join(build, rel)
    common = ["--host=127.0.0.1", "--metrics_port=0"]
    try:
        _, inv = e2e.start("inventory", [b("services/inventory/inventory"), *common, "--grpc_port=0",
                                         f"--ready_file={work}/inventory.ready"],
                           work, f"{work}/inventory.ready")
        _, dec = e2e.start("decision", [b("services/decision/decision"), *common, "--grpc_port=0",
                                        f"--db={work}/decision.db",
                                        f"--inventory_target=127.0.0.1:{inv['grpc_port']}",
                                        f"--ready_file={work}/decision.ready"],
                           work, f"{work}/decision.ready")
        for name, ready, service in [("inventory", inv, "llmrouter.v1.InventoryService"),
                                     ("decision", dec, "llmrouter.v1.DecisionService")]:
            base = f"http://127.0.0.1:{ready['grpc_port']}"
            code, out = buf_curl("--list-methods", base)
            e2e.check(code == 0 and f"{service}/" in out and "grpc.health.v1.Health/Check" in out,
                      f"{name}: reflection lists its methods and the health service's ({out!r})")
            code, out = buf_curl(f"{base}/grpc.health.v1.Health/Check")
            ok = code == 0 and json.loads(out or "{}").get("status") == "SERVING"
            e2e.check(ok, f"{name}: grpc.health.v1.Health/Check through reflection ({out!r})")
    finally:
        for _, p in reversed(e2e.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _, p in reversed(e2e.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    if e2e.failures:
        print(f"{len(e2e.failures)} check(s) failed; logs in {work}")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("reflection e2e: ok")


if __name__ == "__main__":
    main(sys.argv[1])
