#!/usr/bin/env python3
"""The checks of deploy/ that no off-the-shelf linter makes: the dashboard's
queries against deploy/grafana/series.txt, the compose file's healthchecks,
dependencies, mounts, secrets and image pins, the Kubernetes manifests'
security settings and probes, the Dockerfile's runtime settings, and the
documentation of every NEXUS_* and OTEL_* variable. Run by .ci/validate-deploy with its
virtualenv's Python (PyYAML); prints one line per check, exits 1 on failure.
"""

import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
failures = []


def check(ok, what, detail=""):
    """Records one check: prints it, remembers a failure."""
    print(f"  {'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(what)


# --- PromQL ------------------------------------------------------------------

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def metric_names(expr):
    """The metric names a PromQL expression selects."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"'(?:[^'\\]|\\.)*'", "''", s)
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # range selectors
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\b\d+(?:ms|[smhdwy])\b", " ", s)  # durations (offset 5m)
    s = re.sub(r"(?<![\w:])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", " ", s)  # numbers
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        if m.group(0) in KEYWORDS or s[m.end():].lstrip().startswith("("):
            continue  # a keyword or a function call
        names.add(m.group(0))
    return names


def dashboard_queries(dashboard):
    """Every PromQL expression of a dashboard: panel targets (rows included)
    and query variables (label_values(metric, label) counts as metric)."""
    exprs = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    exprs.append((panel.get("title", "?"), target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else (query or "")
        m = re.match(r"\s*label_values\(\s*(.*),\s*\w+\s*\)\s*$", query)
        exprs.append((f"variable {var['name']}", m.group(1) if m else query))
    return exprs


def check_dashboard():
    print("grafana: dashboard and series list")
    path = DEPLOY / "grafana/dashboards/nexus.json"
    dashboard = json.loads(path.read_text())
    check(bool(dashboard.get("uid")) and bool(dashboard.get("title")), "nexus.json has a uid and a title")
    panels = []

    def walk(ps):
        for p in ps:
            panels.append(p)
            walk(p.get("panels", []))

    walk(dashboard["panels"])
    ids = [p["id"] for p in panels]
    check(len(ids) == len(set(ids)), "panel ids are unique", f"{ids}")
    cells, overlaps = {}, []
    for p in panels:
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            overlaps.append(f"{p['title']} wider than the grid")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    overlaps.append(f"{p['title']} overlaps {cells[(x, y)]}")
                cells[(x, y)] = p["title"]
    check(not overlaps, "panels fit the 24-column grid without overlapping", "; ".join(sorted(set(overlaps))[:3]))
    data_panels = [p for p in panels if p["type"] != "row"]
    bad = [p["title"] for p in data_panels
           if p.get("datasource", {}).get("uid") != "${datasource}" or not p.get("targets")]
    check(not bad, f"{len(data_panels)} panels query the $datasource variable", ", ".join(bad))
    used = {}
    for where, expr in dashboard_queries(dashboard):
        for name in metric_names(expr):
            used.setdefault(name, where)
    listed = [line.strip() for line in (DEPLOY / "grafana/series.txt").read_text().splitlines() if line.strip()]
    check(len(listed) == len(set(listed)), "series.txt has no duplicates")
    check(all(re.fullmatch(r"nexus_[a-z0-9_]+", n) for n in listed), "series.txt names are nexus_* metric names")
    missing = sorted(set(used) - set(listed))
    check(not missing, f"every series the dashboard queries is in series.txt ({len(used)})",
          ", ".join(f"{n} ({used[n]})" for n in missing))
    unused = sorted(set(listed) - set(used))
    check(not unused, "every series in series.txt is queried by the dashboard", ", ".join(unused))


# --- compose -------------------------------------------------------------------

def image_pinned(image, justified):
    """An image reference with a tag other than latest (or a digest), the
    default of a ${VAR:-default} reference counting; or a justified latest."""
    m = re.fullmatch(r"\$\{\w+:-([^}]+)\}", image)
    image = m.group(1) if m else image
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return False
    return not name.split(":", 1)[1].startswith("latest") or justified


def latest_justified(text):
    """Line numbers of `image:` lines preceded by a `# latest:` comment in the
    same comment block."""
    lines = text.splitlines()
    justified = set()
    for i, line in enumerate(lines):
        if re.match(r"\s*image:", line):
            j = i - 1
            while j >= 0 and lines[j].strip().startswith("#"):
                if lines[j].strip().startswith("# latest:"):
                    justified.add(i)
                j -= 1
    return justified


def check_compose():
    print("compose: services, healthchecks, dependencies, mounts, secrets, images")
    text = (DEPLOY / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    no_health = [s for s, d in services.items() if not d.get("healthcheck", {}).get("test")]
    check(not no_health, f"all {len(services)} services have a healthcheck", ", ".join(no_health))
    bad_deps = []
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        if isinstance(deps, list):
            bad_deps.append(f"{name}: short form (no condition)")
            continue
        for dep, spec in deps.items():
            if dep not in services:
                bad_deps.append(f"{name} -> {dep}: no such service")
            elif spec.get("condition") != "service_healthy":
                bad_deps.append(f"{name} -> {dep}: condition {spec.get('condition')}")
    check(not bad_deps, "depends_on waits for service_healthy on existing services", "; ".join(bad_deps))
    nexus_deps = set(services["nexus"].get("depends_on", {}))
    check({"postgres", "redis", "kafka", "mosquitto"} <= nexus_deps, "nexus waits for postgres, redis, kafka, mosquitto",
          f"{sorted(nexus_deps)}")
    justified = latest_justified(text)
    image_lines = {m.group(1).strip(): i for i, line in enumerate(text.splitlines())
                   if (m := re.match(r"\s*image:\s*(.+)", line))}
    unpinned = [f"{s}: {d['image']}" for s, d in services.items()
                if "image" in d and "build" not in d
                and not image_pinned(d["image"], image_lines.get(d["image"]) in justified)]
    check(not unpinned, "images are pinned (a latest tag only with a `# latest:` reason)", "; ".join(unpinned))
    missing_mounts = []
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")) and not (DEPLOY / source).resolve().exists():
                missing_mounts.append(f"{name}: {source}")
    check(not missing_mounts, "every mounted file exists under deploy/", "; ".join(missing_mounts))
    defined = set(compose.get("secrets", {}))
    referenced = {(s if isinstance(s, str) else s["source"]) for d in services.values() for s in d.get("secrets", [])}
    check(referenced <= defined, "every secret used is defined", f"{sorted(referenced - defined)}")
    inline = [n for n, d in compose.get("secrets", {}).items() if set(d) - {"environment", "file"}]
    check(not inline, "secrets come from the environment or a file", ", ".join(inline))
    literal = []
    for name, svc in services.items():
        env = svc.get("environment", {})
        env = dict(e.split("=", 1) for e in env) if isinstance(env, list) else env
        for key, value in env.items():
            value = str(value)
            secretish = re.search(r"TOKEN|PASSWORD|SECRET", key) and not key.endswith("_FILE")
            url_password = re.search(r"://[^:/@]+:([^@]+)@", value)
            if (secretish and not value.startswith("${")) or (url_password and "${" not in url_password.group(1)):
                literal.append(f"{name}.{key}")
    check(not literal, "no literal secret in any environment", ", ".join(literal))
    env = services["nexus"]["environment"]
    wanted = {"NEXUS_ADMIN_TOKEN", "NEXUS_DATABASE_URL", "NEXUS_REDIS_URL", "NEXUS_KAFKA_BROKERS", "NEXUS_MQTT_URL"}
    check(wanted <= set(env), "nexus gets its database, cache, broker and MQTT URLs and the admin token",
          f"missing {sorted(wanted - set(env))}")
    check(str(env["NEXUS_DATABASE_URL"]).startswith("postgres://"), "NEXUS_DATABASE_URL is a postgres:// URL")
    hardened = services["nexus"]
    check(hardened.get("read_only") is True and "ALL" in hardened.get("cap_drop", [])
          and str(hardened.get("user", "")).startswith("10001"),
          "nexus runs read-only, as UID 10001, with every capability dropped")

    prometheus = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    nexus_job = jobs.get("nexus", {})
    targets = [t for sc in nexus_job.get("static_configs", []) for t in sc.get("targets", [])]
    check(nexus_job.get("metrics_path", "/metrics") == "/metrics" and "nexus:8080" in targets,
          "prometheus scrapes nexus:8080/metrics")
    credentials = nexus_job.get("authorization", {}).get("credentials_file", "")
    prom_secrets = [s if isinstance(s, str) else s.get("target", s["source"]) for s in services["prometheus"].get("secrets", [])]
    check(credentials in {f"/run/secrets/{s}" for s in prom_secrets}, "prometheus reads the bearer token from its secret",
          credentials)

    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    urls = [d["url"] for d in datasources["datasources"]]
    check("http://prometheus:9090" in urls, "grafana's datasource is the compose Prometheus", f"{urls}")
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/nexus.yaml").read_text())
    paths = {p["options"]["path"] for p in providers["providers"]}
    mounts = {v.split(":")[1] for v in services["grafana"]["volumes"] if v.startswith("./grafana/dashboards")}
    check(paths <= mounts, "grafana's dashboard provider reads the mounted deploy/grafana/dashboards", f"{paths} vs {mounts}")


# --- Kubernetes ---------------------------------------------------------------

def kustomize_resources(directory, seen):
    """Files a kustomization pulls in, recursively; checks each exists."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    files = set()
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if not path.exists():
            failures.append(f"{directory}: {resource}")
            print(f"  FAIL {directory.relative_to(ROOT)}/kustomization.yaml lists a missing {resource}")
        elif path.is_dir():
            if path not in seen:
                seen.add(path)
                files |= kustomize_resources(path, seen)
        else:
            files.add(path)
    return files


def check_k8s():
    print("k8s: kustomizations, security, probes, autoscaling, secrets")
    k8s = DEPLOY / "k8s"
    manifests = {p.resolve() for p in k8s.rglob("*.yaml") if p.name != "kustomization.yaml"}
    included = set()
    for kustomization in sorted(k8s.rglob("kustomization.yaml")):
        included |= kustomize_resources(kustomization.parent, set())
    check(manifests <= included, f"every manifest under deploy/k8s is in a kustomization ({len(manifests)})",
          ", ".join(str(p.relative_to(ROOT)) for p in sorted(manifests - included)))
    docs = [d for p in sorted(manifests) for d in yaml.safe_load_all(p.read_text()) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    check({"StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= set(by_kind),
          "StatefulSet, Service, ConfigMap, Secret, PodDisruptionBudget and HorizontalPodAutoscaler are there",
          f"{sorted(by_kind)}")
    sts = by_kind["StatefulSet"][0]
    pod = sts["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "nexus")
    psc, csc = pod.get("securityContext", {}), container.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001
          and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
          "pod: runAsNonRoot, UID 10001, seccomp RuntimeDefault")
    check(csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False
          and csc.get("capabilities", {}).get("drop") == ["ALL"],
          "container: read-only root filesystem, no privilege escalation, every capability dropped")
    resources = container.get("resources", {})
    check(all(k in resources.get(side, {}) for side in ("requests", "limits") for k in ("cpu", "memory")),
          "container: cpu and memory requests and limits")
    check(container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz"
          and container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz",
          "probes: liveness GET /healthz, readiness GET /readyz")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    check({"/var/lib/nexus", "/tmp"} <= mounts, "writable mounts: /var/lib/nexus and /tmp", f"{sorted(mounts)}")
    images = [c["image"] for d in by_kind.get("StatefulSet", []) + by_kind.get("Deployment", [])
              for c in d["spec"]["template"]["spec"]["containers"]]
    check(all(image_pinned(i, False) for i in images), "container images are pinned", f"{images}")
    hpa = by_kind["HorizontalPodAutoscaler"][0]
    metrics = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    adapter = (DEPLOY / "prometheus/adapter-rules.yaml").read_text()
    series = (DEPLOY / "grafana/series.txt").read_text().split()
    check(metrics == ["nexus_ingest_points_per_second"] and "nexus_ingest_points_total" in adapter
          and "nexus_ingest_points_total" in series,
          "the HPA scales on nexus_ingest_points_per_second (adapter rule over nexus_ingest_points_total)", f"{metrics}")
    check(hpa["spec"]["scaleTargetRef"]["name"] == sts["metadata"]["name"], "the HPA targets the StatefulSet")
    placeholders = [f"{s['metadata']['name']}.{k}" for s in by_kind["Secret"]
                    for k, v in {**s.get("stringData", {}), **s.get("data", {})}.items() if "CHANGE-ME" not in v]
    check(not placeholders, "secrets hold placeholders only (CHANGE-ME)", ", ".join(placeholders))


# --- Dockerfile and documentation ------------------------------------------------

def check_dockerfile_and_docs():
    print("Dockerfile and documentation")
    text = (DEPLOY / "Dockerfile").read_text()
    bases = re.findall(r"^ARG \w+_IMAGE=(\S+)", text, re.M)
    check(len(bases) == 2 and all(image_pinned(b, False) for b in bases), "base images are pinned", f"{bases}")
    users = re.findall(r"^USER (\S+)", text, re.M)
    check(bool(users) and re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]) is not None,
          "the runtime runs as a numeric non-root user", f"{users}")
    check(re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M) is not None, "HEALTHCHECK GETs /healthz")
    check('VOLUME ["/var/lib/nexus"]' in text, "the data directory is a volume")
    sources = re.findall(r"^COPY (?:--\S+ )*(deploy/\S+)", text, re.M)
    check(all((ROOT / s).exists() for s in sources), "files the Dockerfile copies from deploy/ exist", f"{sources}")

    used = set()
    for path in [DEPLOY / "compose.yaml", DEPLOY / "Dockerfile", *sorted((DEPLOY / "k8s").rglob("*.yaml"))]:
        used |= set(re.findall(r"\b((?:NEXUS|OTEL)_[A-Z_]+)\b", path.read_text()))
    readme = (DEPLOY / "README.md").read_text()
    undocumented = sorted(v for v in used if f"`{v}`" not in readme)
    check(not undocumented, f"deploy/README.md documents every NEXUS_* and OTEL_* variable used ({len(used)})",
          ", ".join(undocumented))


def main():
    check_dashboard()
    check_compose()
    check_k8s()
    check_dockerfile_and_docs()
    if failures:
        print(f"deploy checks: {len(failures)} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
