# SPDX-License-Identifier: Apache-2.0
"""deploy/monitoring agrees with what the sidecar really exports (tests/ship/monitoring_test.sh).

METRICS is a real /metrics scrape of `dind-netcfg run`. Its # TYPE lines are the metric
families; daemon/sidecar/sidecar_metrics.cpp gives their label names (a family without samples in
a short run, say dind_netcfg_probe_success{target}, shows none), and the two must name the same
families. Then every PromQL expression in the rules file and the Grafana dashboard:
  - names only series the sidecar exports (a histogram's _bucket, _sum and _count), the
    recording rules of the rules file, and in the rules only `up` and the kube-state-metrics
    series listed below;
  - filters and groups by labels those series have (their own, the ones scraping adds:
    job, instance, namespace, pod, container, endpoint), and so do legends and the alerts'
    $labels;
  - parses: the dashboard's expressions, with Grafana's variables put in, go through
    `promtool check rules` as recording rules.
And the PodMonitor validates against the Prometheus Operator's CRD, scrapes the port name every
manifest and recipe gives the endpoint, and sets the job name the alerts use; the rules wrapped
as a PrometheusRule (deploy/README.md) validate too.

  python3 tests/ship/monitoring_test.py SOURCE_DIR METRICS PROMTOOL LISTEN
(LISTEN: the default of `dind-netcfg run --listen`, ADDR:PORT)
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import tomllib

import yaml

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import k8s_schema  # noqa: E402
from checks import check, finish  # noqa: E402

source, scrape_path, promtool = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
listen_port = int(sys.argv[4].rsplit(":", 1)[1])
monitoring = source / "deploy" / "monitoring"

# --- what the sidecar exports -------------------------------------------------------------

scrape = scrape_path.read_text()
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", scrape, re.M))
check(len(types) >= 15, f"the scrape has {len(types)} metric families")
registered = (source / "daemon" / "sidecar" / "sidecar_metrics.cpp").read_text()
source_labels = {}
for name, rest in re.findall(r'"(dind_netcfg_[a-z0-9_]+)",(.*?)\)(?:;|\))', registered, re.S):
    lists = re.findall(r"\{([^{}]*)\}\s*$", rest.strip())
    source_labels[name] = re.findall(r'"([a-z_]+)"', lists[0]) if lists else []
check(
    set(source_labels) == set(types),
    "sidecar_metrics.cpp registers the families the scrape shows "
    f"(only in the source: {sorted(set(source_labels) - set(types))}, "
    f"only scraped: {sorted(set(types) - set(source_labels))})",
)
for sample_name, labels in re.findall(r"^(dind_netcfg_[a-z0-9_]+)\{([^}]*)\}", scrape, re.M):
    family = (
        re.sub(r"_(bucket|sum|count)$", "", sample_name)
        if sample_name not in types
        else sample_name
    )
    names = set(re.findall(r'(\w+)="', labels)) - {"le"}
    check(
        names <= set(source_labels.get(family, [])),
        f"{sample_name}'s labels {sorted(names)} are the ones the source registers",
    )

# Labels a scrape adds (the PodMonitor: job, namespace, pod, container, endpoint; instance).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint"}
exported = {}  # series name -> label names
for family, kind in types.items():
    labels = set(source_labels.get(family, [])) | TARGET_LABELS
    if kind == "histogram":
        exported[family + "_bucket"] = labels | {"le"}
        exported[family + "_sum"] = labels
        exported[family + "_count"] = labels
    else:
        exported[family] = labels
# Besides the sidecar's, the alerts read the scrape's own `up` and kube-state-metrics (v2).
KSM = {
    name: {
        "namespace",
        "pod",
        "uid",
        "container",
        "image",
        "image_id",
        "image_spec",
        "container_id",
        "job",
        "instance",
    }
    for name in (
        "kube_pod_init_container_info",
        "kube_pod_init_container_status_running",
        "kube_pod_container_info",
        "kube_pod_container_status_running",
    )
}
UP = {"up": TARGET_LABELS}

# --- PromQL, as far as these checks need it -------------------------------------------------

KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
}


def parse(expr):
    """(metric names, label names used) of a PromQL expression."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges, subqueries
    labels = set()
    for block in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", block))
    text = re.sub(r"\{[^}]*\}", " ", text)
    for block in re.findall(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text
    ):
        labels |= {w.strip() for w in block.split(",") if w.strip()}
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\b\d+(\.\d+)?([smhdwy]|ms)?\b", " ", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word, after = match.group(0), text[match.end() :].lstrip()
        if word in KEYWORDS or after.startswith("("):
            continue  # an operator, or a function / aggregation
        names.add(word)
    return names, labels


def check_expr(where, expr, known, legend=None, need_ours=True):
    names, labels = parse(expr)
    unknown = sorted(n for n in names if n not in known)
    check(
        not unknown and names,
        f"{where}: names only series that exist ({sorted(names)}"
        + (f"; unknown: {unknown}" if unknown else "")
        + ")",
    )
    if need_ours:
        check(
            any(n.startswith("dind_netcfg_") for n in names),
            f"{where}: reads dind-netcfg's metrics",
        )
    have = set().union(*(known.get(n, set()) for n in names)) if names else set()
    check(
        labels <= have,
        f"{where}: uses labels {sorted(labels)} the series have"
        + (f" (not: {sorted(labels - have)})" if labels - have else ""),
    )
    for label in re.findall(r"\{\{\s*\.?(\w+)\s*\}\}", legend or ""):
        check(label in have, f"{where}: the legend's {{{{{label}}}}} is a label the series have")
    return have


# --- the rules ------------------------------------------------------------------------------

rules_file = monitoring / "dind-netcfg.rules.yml"
rules = yaml.safe_load(rules_file.read_text())
records = {}
known = dict(exported) | KSM | UP
for group in rules["groups"]:
    for rule in group["rules"]:
        where = f"rules: {rule.get('record') or rule.get('alert')}"
        # Some read only `up`, kube-state-metrics or a recording rule: no need_ours here.
        have = check_expr(where, rule["expr"], known | records, need_ours=False)
        if "record" in rule:
            # A recording rule's series keep the labels it groups by.
            grouped = re.findall(r"^\s*(?:sum|max|min|count|avg)\s+by\s*\(([^)]*)\)", rule["expr"])
            records[rule["record"]] = (
                {w.strip() for w in grouped[0].split(",")} if grouped else have
            )
            check(
                re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", rule["record"]) is not None,
                f"{where}: named level:metric:operations",
            )
        else:
            annotations = rule.get("annotations", {})
            check(
                annotations.get("summary") and len(annotations.get("description", "")) > 80,
                f"{where}: has a summary and a description saying what to do",
            )
            check(
                rule.get("labels", {}).get("severity") in ("critical", "warning"),
                f"{where}: severity {rule.get('labels', {}).get('severity')}",
            )
            used = set(re.findall(r"\$labels\.(\w+)", json.dumps(annotations)))
            check(
                used <= have | records.get(rule["expr"].split()[0], set()),
                f"{where}: its annotations use labels {sorted(used)} the alert has",
            )
alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
check(
    {
        "DindNetcfgNestedEgressFailing",
        "DindNetcfgPathMtuBlackHole",
        "DindNetcfgRulesRepairedRepeatedly",
        "DindNetcfgDockerdRestartRequired",
        "DindNetcfgDockerNetworksMtuTooHigh",
        "DindNetcfgSidecarNotScraped",
        "DindNetcfgPreflightFailing",
        "DindNetcfgPreflightWarning",
    }
    <= alerts,
    f"the rules alert on egress, black holes, repairs, restarts, network MTUs, scraping ({sorted(alerts)})",
)
tests = yaml.safe_load((monitoring / "dind-netcfg.rules.test.yml").read_text())
tested = {
    t["alertname"]
    for case in tests["tests"]
    for t in case.get("alert_rule_test", [])
    if t.get("exp_alerts")
}
check(
    tested == alerts,
    f"every alert has a unit test where it fires (untested: {sorted(alerts - tested)})",
)
tested_records = {
    re.match(r"[\w:]+", t["expr"]).group(0)
    for case in tests["tests"]
    for t in case.get("promql_expr_test", [])
}
check(tested_records == set(records), f"every recording rule has a unit test ({sorted(records)})")

# --- the dashboard ----------------------------------------------------------------------------

dashboard = json.loads((monitoring / "grafana-dashboard.json").read_text())
check(dashboard.get("uid") and dashboard.get("title"), "the dashboard has a uid and a title")
variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
check(
    variables.get("datasource", {}).get("type") == "datasource"
    and variables["datasource"].get("query") == "prometheus",
    "the dashboard asks which Prometheus data source to use (no data source uid of ours)",
)
panels = [p for p in dashboard["panels"] if p["type"] != "row"]
ids = [p["id"] for p in dashboard["panels"]]
check(len(ids) == len(set(ids)), "panel ids are unique")
exprs = []
for panel in panels:
    check(
        panel.get("datasource", {}).get("uid") == "${datasource}",
        f"dashboard: {panel['title']!r} uses the chosen data source",
    )
    check(bool(panel.get("targets")), f"dashboard: {panel['title']!r} has queries")
    for target in panel.get("targets", []):
        exprs.append(
            (
                f"dashboard: {panel['title']!r} {target['refId']}",
                target["expr"],
                target.get("legendFormat"),
            )
        )
for name, variable in variables.items():
    if variable["type"] == "query":
        query = (
            variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        )
        inner = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
        check(inner is not None, f"dashboard: ${name} is label_values(SERIES, LABEL)")
        if inner:
            exprs.append((f"dashboard: ${name}", inner.group(1), "{{" + inner.group(2) + "}}"))
used_vars = set(re.findall(r"\$(\w+)", json.dumps([e[1] for e in exprs])))
check(
    used_vars - {"__rate_interval", "__range"} <= set(variables),
    f"dashboard: the queries' variables {sorted(used_vars)} are defined",
)
for where, expr, legend in exprs:
    check_expr(where, expr, exported, legend)
metrics_shown = set().union(*(parse(e[1])[0] for e in exprs))
for wanted in (
    "dind_netcfg_uplink_mtu_bytes",
    "dind_netcfg_docker_mtu_bytes",
    "dind_netcfg_path_mtu_bytes",
    "dind_netcfg_probe_success",
    "dind_netcfg_probe_latency_seconds_bucket",
    "dind_netcfg_rule_repairs_total",
    "dind_netcfg_masquerade_backend_info",
    "dind_netcfg_preflight",
):
    check(wanted in metrics_shown, f"dashboard shows {wanted}")

# dind_netcfg_preflight{check,status}: the scrape (a round has run) has, for every check, a
# series per status, exactly one of them 1; the statuses the rules and the dashboard match are
# ones it exports.
preflight = re.findall(
    r'^dind_netcfg_preflight\{check="([^"]+)",status="([^"]+)"\} (\S+)$', scrape, re.M
)
statuses = {status for _, status, _ in preflight}
check(
    statuses == {"ok", "warn", "fail", "unknown"},
    f"the scrape's dind_netcfg_preflight has every status per check ({sorted(statuses)})",
)
per_check = {}
for check_id, status, value in preflight:
    per_check.setdefault(check_id, []).append((status, float(value)))
check(
    len(per_check) >= 5
    and all(
        len(series) == 4 and sorted(v for _, v in series) == [0, 0, 0, 1]
        for series in per_check.values()
    ),
    f"each of the {len(per_check)} preflight checks is 1 in one status and 0 in the others",
)
matched = set()
for text in [rules_file.read_text(), json.dumps([e[1] for e in exprs])]:
    for values in re.findall(r'\bstatus\s*(?:=~|!~|!=|=)\s*\\?"([^"\\]*)', text):
        matched |= set(values.split("|"))
check(
    matched and matched <= statuses,
    f"the statuses the rules and the dashboard match {sorted(matched)} are ones the scrape has",
)

# PromQL syntax: promtool parses each expression as a recording rule's.
substituted = [
    re.sub(r"\$__(rate_interval|range)", "5m", e[1])
    .replace("$namespace", ".*")
    .replace("$pod", ".*")
    for e in exprs
]
with tempfile.NamedTemporaryFile("w", suffix=".yml") as parsed:
    yaml.safe_dump(
        {
            "groups": [
                {
                    "name": "dashboard",
                    "rules": [
                        {"record": f"dashboard:expr:{i}", "expr": e}
                        for i, e in enumerate(substituted)
                    ],
                }
            ]
        },
        parsed,
    )
    parsed.flush()
    done = subprocess.run([promtool, "check", "rules", parsed.name], capture_output=True, text=True)
check(
    done.returncode == 0,
    f"promtool parses the dashboard's {len(substituted)} expressions"
    + (": " + done.stdout + done.stderr if done.returncode else ""),
)

# --- the PodMonitor and the PrometheusRule ---------------------------------------------------

podmonitor = yaml.safe_load((monitoring / "podmonitor.yaml").read_text())
errors = k8s_schema.validate(podmonitor, "podmonitor.yaml")
for error in errors:
    print(f"      {error}")
check(
    not errors, "podmonitor.yaml validates against the PodMonitor CRD (Prometheus Operator v0.93)"
)
endpoints = podmonitor.get("spec", {}).get("podMetricsEndpoints") or [{}]
check(
    [e.get("path", "/metrics") for e in endpoints] == ["/metrics"],
    "the PodMonitor scrapes /metrics",
)
job = [
    r.get("replacement")
    for e in endpoints
    for r in e.get("relabelings", [])
    if r.get("targetLabel") == "job"
]
alert_jobs = set(re.findall(r'up\{job="([^"]+)"\}', rules_file.read_text()))
check(
    job and alert_jobs == {job[0]},
    f"the PodMonitor's job {job} is the one the alerts ask for {sorted(alert_jobs)}",
)
port_name = endpoints[0].get("port")

# Every dind-netcfg endpoint in the manifests and recipes is declared under that name.
containers = []
for path in sorted((source / "deploy").rglob("*.yaml")):
    if "monitoring" in path.parts:
        continue
    for doc in yaml.safe_load_all(path.read_text()):
        stack = [doc]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if "image" in node and "dind-netcfg" in str(node["image"]):
                    containers.append((path.relative_to(source), node))
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
config = tomllib.loads(
    (source / "deploy" / "recipes" / "gitlab-runner" / "config.toml").read_text()
)
for pod_spec in config["runners"][0]["kubernetes"].get("pod_spec", []):
    for c in yaml.safe_load(pod_spec["patch"]).get("initContainers", []):
        containers.append(("gitlab-runner/config.toml", c))
serving = [
    (p, c)
    for p, c in containers
    if (c.get("args") or [None])[0] == "run" or str(c["image"]).endswith("-dind")
]
check(
    len(serving) >= 6,
    f"{len(serving)} dind-netcfg endpoints in deploy/kubernetes and deploy/recipes",
)
for path, c in serving:
    names = {p.get("name") for p in c.get("ports", []) if p.get("containerPort") == listen_port}
    check(
        port_name in names,
        f"{path}: {c['name']} declares {listen_port} as {port_name!r}, "
        "the port the PodMonitor scrapes",
    )

# The rules as a PrometheusRule: the file's groups under spec (deploy/README.md's command).
wrapped = yaml.safe_load(
    "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n"
    "  name: dind-netcfg\nspec:\n"
    + "".join("  " + line + "\n" for line in rules_file.read_text().splitlines())
)
errors = k8s_schema.validate(wrapped, "PrometheusRule")
for error in errors:
    print(f"      {error}")
check(
    not errors and wrapped["spec"]["groups"] == rules["groups"],
    "the rules wrapped as a PrometheusRule validate against its CRD",
)

finish("monitoring_test.py")
