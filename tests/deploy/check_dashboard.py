#!/usr/bin/env python3
"""Checks that metric names used by the dashboard and the alert rules, and registered by the code,
are documented in docs/metrics.md.

usage: check_dashboard.py <dashboard.json> <metrics.md> [alerts.yml] [source dir...]
The dashboard must be valid Grafana JSON (unique panel ids, a Prometheus query in every panel).
"""
import json
import os
import re
import sys

NAME = re.compile(r"\b(llmrouter_[a-z0-9_]+|vllm:[a-z0-9_:]+|fake_llm_[a-z0-9_]+)")


def base(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def main(argv):
    dashboard, doc = argv[1], argv[2]
    extra = argv[3:]
    documented = set(re.findall(r"`([a-zA-Z_:][a-zA-Z0-9_:]*)`", open(doc).read()))
    problems = []
    with open(dashboard) as f:
        dash = json.load(f)
    ids = set()
    used = {}
    for panel in dash["panels"]:
        if panel["id"] in ids:
            problems.append(f"panel id {panel['id']} used twice")
        ids.add(panel["id"])
        if panel["type"] == "row":
            continue
        if not panel.get("targets"):
            problems.append(f"panel {panel['title']!r} has no query")
        for t in panel.get("targets", []):
            for n in NAME.findall(t["expr"]):
                used.setdefault(base(n), f"dashboard panel {panel['title']!r}")
    for path in extra:
        if os.path.isdir(path):
            for root, _, files in os.walk(path):
                for f in files:
                    if f.endswith((".cc", ".h")):
                        text = open(os.path.join(root, f)).read()
                        for n in re.findall(r'"(llmrouter_[a-z0-9_]+)"', text):
                            used.setdefault(n, f"registered in {os.path.join(root, f)}")
        else:
            for n in NAME.findall(open(path).read()):
                used.setdefault(base(n), f"used in {path}")
    for name, where in sorted(used.items()):
        if name not in documented:
            problems.append(f"{name} ({where}) is not documented in {doc}")
    for p in problems:
        print(f"check_dashboard: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
