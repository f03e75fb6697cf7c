#!/usr/bin/env bash
# No Docker engine runs here, so deploy/Dockerfile is checked statically against the machine that
# builds the same sources: its build stage installs only packages that scripts/bootstrap.sh
# installs, its runtime stage installs the package of every shared library the built binaries
# link (ldd), it copies sources that exist, and it installs every binary the chart runs.
# usage: dockerfile_test.sh [build dir]   (default: $LLMROUTER_BUILD_DIR or ./build)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-${LLMROUTER_BUILD_DIR:-$here/build}}"
python3 - "$here" "$build" <<'PY'
import os, re, subprocess, sys
root, build = sys.argv[1], sys.argv[2]
text = open(f"{root}/deploy/Dockerfile").read().replace("\\\n", " ")
stages = re.split(r"^FROM ", text, flags=re.M)[1:]
def apt_packages(stage):
    pkgs = set()
    for m in re.finditer(r"apt-get install -y --no-install-recommends([^&]*)", stage):
        pkgs |= set(m.group(1).split())
    return pkgs
build_stage = next(s for s in stages if " AS build" in s.splitlines()[0])
runtime = next(s for s in stages if " AS runtime" in s.splitlines()[0])
problems = []
boot = open(f"{root}/scripts/bootstrap.sh").read()
boot_pkgs = set(re.search(r"debs=\((.*?)\n\)", boot, re.S).group(1).split())
for p in sorted(apt_packages(build_stage) - boot_pkgs):
    problems.append(f"build stage installs {p}, which scripts/bootstrap.sh does not")
binaries = {"inventory": "services/inventory/inventory", "decision": "services/decision/decision",
            "gateway": "services/gateway/gateway", "routerctl": "tools/routerctl/routerctl",
            "fake-llm": "tools/fake-llm/fake-llm"}
needed = set()
for name, rel in binaries.items():
    path = f"{build}/{rel}"
    if f"/build/{rel}" not in text:
        problems.append(f"{name} is not installed from /build/{rel}")
    if not os.path.exists(path):
        problems.append(f"{path} is not built; build it first")
        continue
    # Direct dependencies only (NEEDED); apt brings in what those depend on.
    dynamic = subprocess.run(["objdump", "-p", path], capture_output=True, text=True).stdout
    direct = set(re.findall(r"NEEDED\s+(\S+)", dynamic))
    for line in subprocess.run(["ldd", path], capture_output=True, text=True).stdout.splitlines():
        m = re.search(r"^\s*(\S+) => (/\S+)", line)
        if not m or m.group(1) not in direct:
            continue
        lib = os.path.realpath(m.group(2))
        r = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        if r.returncode != 0:  # usrmerge: dpkg may know the /lib path
            r = subprocess.run(["dpkg", "-S", lib.replace("/usr/lib/", "/lib/", 1)],
                               capture_output=True, text=True)
        if r.returncode == 0:
            needed.add(r.stdout.split(":")[0])
base = {"libc6", "libgcc-s1"}  # in every Debian image
for p in sorted(needed - apt_packages(runtime) - base):
    problems.append(f"runtime stage lacks {p} (a library the binaries link)")
for src in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
    if not os.path.exists(f"{root}/{src}"):
        problems.append(f"COPY {src}: no such path")
for name in ("inventory", "decision", "gateway"):
    tpl = open(f"{root}/helm/llm-router/templates/{name}-deployment.yaml").read()
    if f'"/usr/local/bin/{name}"' not in tpl:
        problems.append(f"the chart does not run /usr/local/bin/{name}")
if "USER 65532:65532" not in runtime:
    problems.append("runtime stage does not run as the chart's non-root user 65532")
for p in problems:
    print(f"FAIL {p}")
if problems:
    sys.exit(1)
print(f"dockerfile checks: ok (runtime packages cover {len(needed)} linked library packages)")
PY
