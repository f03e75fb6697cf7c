#!/usr/bin/env python3
"""Checks rendered llm-router manifests (a multi-document YAML file from `helm template`).

Every workload container has liveness and readiness probes (native gRPC for decision and
inventory, HTTP for the gateway) and the hardened security settings; selectors match the pod
labels; Services and NetworkPolicies select pods that exist and name ports those pods have;
names fit in 63 characters; the gRPC clients target the headless Services with dns:///; the
route link is secured, by mutual TLS or by a NetworkPolicy that admits only gateway pods to its
port; every service of the release shares the same Redis (or none), mounts the password file it
is given, and is admitted by the Redis's NetworkPolicy. Prints every problem and exits 1 when
there is one.
"""
import sys

import yaml

problems = []


def problem(doc, message):
    meta = doc.get("metadata", {})
    problems.append(f"{doc.get('kind')}/{meta.get('name')}: {message}")


def effective(container, pod, key):
    """A security setting from the container, else from the pod."""
    value = (container.get("securityContext") or {}).get(key)
    if value is None:
        value = (pod.get("securityContext") or {}).get(key)
    return value


def check_container(doc, pod, c):
    name = c["name"]
    for probe in ("livenessProbe", "readinessProbe"):
        if probe not in c:
            problem(doc, f"container {name} has no {probe}")
    component = doc["metadata"]["labels"].get("app.kubernetes.io/component")
    mtls = any(a.startswith("--tls_cert_file=") for a in c.get("args", []))
    if component in ("decision", "inventory") and mtls:
        # The kubelet's gRPC probe cannot present a client certificate: TCP instead.
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if "tcpSocket" not in c.get(probe, {}):
                problem(doc, f"container {name} {probe} is not a TCP probe under mTLS")
    elif component in ("decision", "inventory"):
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if "grpc" not in c.get(probe, {}):
                problem(doc, f"container {name} {probe} is not a native gRPC probe")
        ready = c.get("readinessProbe", {}).get("grpc", {}).get("service")
        want = {"decision": "llmrouter.v1.DecisionService",
                "inventory": "llmrouter.v1.InventoryService"}[component]
        if ready != want:
            problem(doc, f"readiness probe checks service {ready!r}, want {want!r}")
    if mtls and not any(m.get("mountPath") == "/etc/llm-router/tls"
                        for m in c.get("volumeMounts", [])):
        problem(doc, f"container {name} uses --tls_* files but does not mount them")
    args = c.get("args", [])
    for a in args:
        if a.startswith("--redis_password_file="):
            path = a.split("=", 1)[1]
            directory = path.rsplit("/", 1)[0]
            if not any(m.get("mountPath") == directory for m in c.get("volumeMounts", [])):
                problem(doc, f"container {name} reads {path} but mounts no {directory}")
    if "--rate_limits_fail_closed" in args and component != "gateway":
        problem(doc, f"container {name} gets the gateway-only --rate_limits_fail_closed")
    if component == "gateway":
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            if c.get(probe, {}).get("httpGet", {}).get("path") != path:
                problem(doc, f"gateway {probe} is not an HTTP GET of {path}")
    sc = c.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        problem(doc, f"container {name} allows privilege escalation")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem(doc, f"container {name} root filesystem is writable")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        problem(doc, f"container {name} does not drop ALL capabilities")
    if sc.get("privileged"):
        problem(doc, f"container {name} is privileged")
    if effective(c, pod, "runAsNonRoot") is not True:
        problem(doc, f"container {name} may run as root")
    seccomp = (sc.get("seccompProfile") or (pod.get("securityContext") or {}).get("seccompProfile")
               or {})
    if seccomp.get("type") != "RuntimeDefault":
        problem(doc, f"container {name} has no RuntimeDefault seccomp profile")
    if not c.get("image"):
        problem(doc, f"container {name} has no image")


def main(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    if not docs:
        print(f"{path}: no manifests")
        return 1
    pods_labels = []  # (namespace, labels) of every pod template
    pods_ports = []  # (namespace, labels, names of its container ports) of every pod template
    plaintext_links = []  # Deployments serving the route link without TLS
    names = {}
    for doc in docs:
        kind, meta = doc["kind"], doc["metadata"]
        name = meta["name"]
        if len(name) > 63:
            problem(doc, f"name is {len(name)} characters, more than 63")
        key = (kind, meta.get("namespace"), name)
        if key in names:
            problem(doc, "defined twice")
        names[key] = doc
        if kind == "Certificate":  # cert-manager writes the Secret it names
            names[("Secret", meta.get("namespace"), doc["spec"]["secretName"])] = doc
        labels = meta.get("labels") or {}
        for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                  "app.kubernetes.io/managed-by", "helm.sh/chart"):
            if k not in labels:
                problem(doc, f"label {k} missing")
        for k, v in labels.items():
            if len(str(v)) > 63:
                problem(doc, f"label {k} value longer than 63 characters")
        if kind == "Deployment":
            spec = doc["spec"]
            selector = spec["selector"]["matchLabels"]
            template_labels = spec["template"]["metadata"]["labels"]
            for k, v in selector.items():
                if template_labels.get(k) != v:
                    problem(doc, f"selector {k}={v} does not match the pod labels")
            for k in selector:
                if k in ("helm.sh/chart", "app.kubernetes.io/version"):
                    problem(doc, f"selector uses the volatile label {k}")
            pod = spec["template"]["spec"]
            pods_labels.append((meta.get("namespace"), template_labels))
            if (pod.get("securityContext") or {}).get("runAsNonRoot") is not True:
                problem(doc, "pod securityContext.runAsNonRoot is not true")
            if pod.get("automountServiceAccountToken") is not False:
                problem(doc, "pod mounts a service account token")
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                check_container(doc, pod, c)
            for t in pod.get("topologySpreadConstraints") or []:
                sel = (t.get("labelSelector") or {}).get("matchLabels") or {}
                if any(template_labels.get(k) != v for k, v in sel.items()) or not sel:
                    problem(doc, "topology spread labelSelector does not select its own pods")
            args = " ".join(pod["containers"][0].get("args", []))
            for flag in ("--decision_target=", "--inventory_target="):
                if flag in args and f"{flag}dns:///" not in args:
                    problem(doc, f"{flag} is not a dns:/// target")
            # The route link is host:port (no gRPC target syntax); without TLS only a
            # NetworkPolicy secures it (checked below).
            if "--decision_link_target=dns:" in args:
                problem(doc, "--decision_link_target is host:port, not a gRPC dns: target")
            if "--route_link_port=" in args and "--tls_cert_file=" not in args:
                plaintext_links.append(doc)
            pods_ports.append((meta.get("namespace"), template_labels,
                               {p.get("name") for c in pod.get("containers", [])
                                for p in c.get("ports", []) if p.get("name")}))
        if kind == "Pod":  # helm test hook: security settings, no probes needed
            pod = doc["spec"]
            for c in pod["containers"]:
                sc = c.get("securityContext") or {}
                if sc.get("allowPrivilegeEscalation") is not False or \
                        sc.get("readOnlyRootFilesystem") is not True:
                    problem(doc, f"container {c['name']} lacks the security settings")
    for doc in docs:
        kind, meta = doc["kind"], doc["metadata"]
        if kind in ("Service", "PodDisruptionBudget", "NetworkPolicy"):
            if kind == "Service":
                sel = doc["spec"].get("selector") or {}
            elif kind == "PodDisruptionBudget":
                sel = doc["spec"]["selector"]["matchLabels"]
            else:
                sel = doc["spec"]["podSelector"]["matchLabels"]
            if not any(ns == meta.get("namespace") and all(l.get(k) == v for k, v in sel.items())
                       for ns, l in pods_labels):
                problem(doc, f"selector {sel} matches no pod of the release")
            # A named port must be a container port of the pods selected.
            if kind == "Service":
                named = [p["targetPort"] for p in doc["spec"].get("ports", [])
                         if isinstance(p.get("targetPort"), str)]
            elif kind == "NetworkPolicy":
                named = [p["port"] for rule in doc["spec"].get("ingress") or []
                         for p in rule.get("ports") or [] if isinstance(p.get("port"), str)]
            else:
                named = []
            for port in named:
                if not any(ns == meta.get("namespace") and port in port_names
                           and all(l.get(k) == v for k, v in sel.items())
                           for ns, l, port_names in pods_ports):
                    problem(doc, f"port {port!r} is no container port of the pods it selects")
        if kind == "HorizontalPodAutoscaler":
            ref = doc["spec"]["scaleTargetRef"]
            if (ref["kind"], meta.get("namespace"), ref["name"]) not in names:
                problem(doc, f"scales {ref['kind']}/{ref['name']}, which is not rendered")
        if kind == "Deployment":
            for v in doc["spec"]["template"]["spec"].get("volumes", []):
                for src, field in (("configMap", "name"), ("secret", "secretName")):
                    ref = (v.get(src) or {}).get(field)
                    kind_ref = "ConfigMap" if src == "configMap" else "Secret"
                    if ref and (kind_ref, meta.get("namespace"), ref) not in names and \
                            ref not in EXTERNAL:
                        problem(doc, f"volume {v['name']} uses {kind_ref}/{ref}, not rendered")
    check_redis(docs)
    for doc in plaintext_links:
        if not any(link_only_from_gateways(d) for d in docs if d["kind"] == "NetworkPolicy"):
            problem(doc, "plaintext route link without a NetworkPolicy admitting only gateways")
    for p in problems:
        print(f"{path}: {p}")
    return 1 if problems else 0


def flag(container, name):
    """The value of --name=value in the container's args, or None."""
    for a in container.get("args", []):
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_redis(docs):
    """The services share state through one Redis: gateway, decision and inventory all get the
    same --redis and --redis_password_file, or none of them does; a NetworkPolicy in front of a
    Redis of the release admits every pod that is given its address."""
    services = {}  # component -> (Deployment, --redis, --redis_password_file)
    for doc in docs:
        component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        if doc["kind"] == "Deployment" and component in ("gateway", "decision", "inventory"):
            c = doc["spec"]["template"]["spec"]["containers"][0]
            services[component] = (doc, flag(c, "redis"), flag(c, "redis_password_file"))
    if len({(address, password) for _, address, password in services.values()}) > 1:
        for doc, address, password in services.values():
            problem(doc, f"--redis={address} --redis_password_file={password} differs from the "
                         "other services'")
    for doc, address, _ in services.values():
        if not address:
            continue
        host = address.rsplit(":", 1)[0].split(".")[0]
        namespace = doc["metadata"].get("namespace")
        pod_labels = doc["spec"]["template"]["metadata"]["labels"]
        for svc in docs:
            if svc["kind"] != "Service" or svc["metadata"]["name"] != host or \
                    svc["metadata"].get("namespace") != namespace:
                continue
            backend = svc["spec"].get("selector") or {}
            for policy in docs:
                if policy["kind"] != "NetworkPolicy" or \
                        not selects(policy["spec"]["podSelector"].get("matchLabels"), backend):
                    continue
                peers = [f for r in policy["spec"].get("ingress") or []
                         for f in r.get("from") or []]
                if peers and not any(
                        selects((f.get("podSelector") or {}).get("matchLabels"), pod_labels)
                        and "namespaceSelector" not in f for f in peers):
                    problem(policy, f"does not admit {doc['metadata']['name']}, which uses "
                                    f"Redis {address}")


def link_only_from_gateways(policy):
    """Whether every ingress rule of the policy that opens the route-link port admits gateway
    pods only (and at least one does)."""
    rules = [r for r in policy["spec"].get("ingress") or []
             if any(p.get("port") == "route-link" for p in r.get("ports") or [])]
    return bool(rules) and all(
        r.get("from") and all(
            (f.get("podSelector") or {}).get("matchLabels", {}).get(
                "app.kubernetes.io/component") == "gateway" and "namespaceSelector" not in f
            for f in r["from"])
        for r in rules)


# Objects a scenario says exist outside the release (existing* values); passed as arguments.
EXTERNAL = set(sys.argv[2:])

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
