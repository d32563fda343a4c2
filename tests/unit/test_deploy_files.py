"""The deployment files are well-formed and consistent with each other (no services needed).

promtool and a real Prometheus check the rules: tests/integration/test_prometheus_rules.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "driftline.rules.yml"
PROMETHEUS_RULE = DEPLOY / "k8s" / "prometheusrule.yaml"
GEN_PROMETHEUS_RULE = DEPLOY / "k8s" / "gen_prometheusrule.py"
COMPOSE = DEPLOY / "docker-compose.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "driftline.json"
OPERATIONS = ROOT / "docs" / "operations.md"
DOCKERFILE = ROOT / "Dockerfile"
RUNBOOK_BASE = "https://github.com/driftline/driftline/blob/main/docs/operations.md#"

# Generated or third-party trees under deploy/ that are not ours to check.
SKIP_DIRS = {".m2", "target", "run", "node_modules"}
REQUIRED_ALERTS = {
    "DriftlineIncidentOpenCritical", "DriftlineIncidentOpenHigh", "DriftlineStatisticCritical",
    "DriftlineDown", "DriftlineNotConsuming", "DriftlineConsumerLagGrowing",
    "DriftlineInvalidEventRateHigh", "DriftlineModelSilent", "DriftlineSegmentSilent",
    "DriftlineMonitorBlind",
}
DASHBOARD_VARIABLES = ("model", "monitor", "segment")


def _deploy_yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*")
                  if p.suffix in (".yml", ".yaml") and p.is_file()
                  and not SKIP_DIRS & set(p.relative_to(DEPLOY).parts))


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def _github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub generates for the markdown headings (lowercase, punctuation dropped)."""
    anchors: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not in_code:
            text = re.sub(r"`", "", m.group(1)).strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def _k8s_docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()) if d]


def _sidecar() -> dict[str, Any]:
    (deployment,) = _k8s_docs("deployment.yaml")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "driftline")


def test_every_deploy_yaml_file_parses() -> None:
    """Every YAML file under deploy/ (all documents of it) parses with PyYAML."""
    files = _deploy_yaml_files()
    assert len(files) >= 10, files
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, f"{path} is empty"


def test_prometheusrule_embeds_exactly_the_rules_file_groups() -> None:
    """The PrometheusRule CR's spec equals the rules file: same groups, rules and annotations."""
    (cr,) = _k8s_docs("prometheusrule.yaml")
    assert cr["apiVersion"] == "monitoring.coreos.com/v1"
    assert cr["kind"] == "PrometheusRule"
    assert cr["spec"] == yaml.safe_load(RULES.read_text())


def test_prometheusrule_is_regenerated_from_the_rules_file() -> None:
    """gen_prometheusrule.py --check finds prometheusrule.yaml byte-for-byte up to date."""
    proc = subprocess.run([sys.executable, str(GEN_PROMETHEUS_RULE), "--check"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_required_alerts_exist_with_severity_and_annotations() -> None:
    """The required alerts exist; each has severity, summary, description and runbook_url."""
    alerts = _alerts()
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names)), names
    assert set(names) >= REQUIRED_ALERTS
    for a in alerts:
        assert a["labels"]["severity"] in {"critical", "warning", "info"}, a["alert"]
        for key in ("summary", "description", "runbook_url"):
            assert a["annotations"].get(key), f"{a['alert']} lacks {key}"


def test_runbook_urls_point_at_existing_operations_anchors() -> None:
    """Every runbook_url is docs/operations.md#<anchor> and that heading exists in the file."""
    anchors = _github_anchors(OPERATIONS.read_text())
    for a in _alerts():
        url = a["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_BASE), url
        anchor = url[len(RUNBOOK_BASE):]
        assert anchor == a["alert"].lower(), url
        assert anchor in anchors, f"docs/operations.md has no heading for #{anchor}"


def test_docs_anchor_references_in_deploy_files_exist() -> None:
    """Every docs/operations.md#anchor mentioned in deploy files resolves to a heading."""
    anchors = _github_anchors(OPERATIONS.read_text())
    for path in [*_deploy_yaml_files(), DASHBOARD]:
        for anchor in re.findall(r"operations\.md#([\w\-]+)", path.read_text()):
            assert anchor in anchors, f"{path}: #{anchor} is not a heading of docs/operations.md"


def test_compose_referenced_files_exist() -> None:
    """The build context, Dockerfile and every bind-mounted host path of docker-compose exist."""
    compose = _compose()
    base = COMPOSE.parent
    checked = 0
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if build:
            context = (base / (build if isinstance(build, str) else build["context"])).resolve()
            assert context.is_dir(), (name, context)
            dockerfile = (build.get("dockerfile", "Dockerfile") if isinstance(build, dict)
                          else "Dockerfile")
            assert (context / dockerfile).is_file(), (name, context / dockerfile)
            checked += 1
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith((".", "/")):
                assert (base / source).exists(), f"service {name}: {source} does not exist"
                checked += 1
    for cfg in compose.get("configs", {}).values():
        if "file" in cfg:
            assert (base / cfg["file"]).exists(), cfg
    assert checked >= 6


def test_compose_services_and_commands() -> None:
    """Compose runs KRaft Kafka, topic-init, driftline run, the producer, Prometheus, Grafana."""
    services = _compose()["services"]
    assert set(services) >= {"kafka", "topic-init", "driftline", "producer", "prometheus",
                             "grafana"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    run = services["driftline"]["command"]
    assert run[0] == "run"
    assert run[run.index("--bootstrap") + 1] == "kafka:9092"
    assert run[run.index("--metrics-port") + 1] == "9108"
    dep = services["driftline"]["depends_on"]["topic-init"]["condition"]
    assert dep == "service_completed_successfully"
    assert services["producer"]["command"] == [
        "produce-demo", "--bootstrap", "kafka:9092", "--topic", "predictions", "--rate", "2000"]
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "driftline"]
    assert job["static_configs"][0]["targets"] == ["driftline:9108"]


def test_grafana_provisioning_matches_compose_mounts() -> None:
    """The dashboard provider path and datasource URL match what docker-compose mounts and runs."""
    grafana = _compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "driftline.yml").read_text())
    (prov,) = provider["providers"]
    assert mounts["./grafana/dashboards"] == prov["options"]["path"]
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (ds,) = datasource["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == prov["options"]["path"] + "/" + DASHBOARD.name


def _dashboard_exprs(dash: dict[str, Any]) -> list[str]:
    exprs: list[str] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []))
            walk(p.get("panels", []))

    walk(dash["panels"])
    exprs.extend(a["expr"] for a in dash["annotations"]["list"] if a.get("expr"))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            exprs.append(v["query"]["query"] if isinstance(v["query"], dict) else v["query"])
    return exprs


def test_dashboard_structure_and_variable_matchers() -> None:
    """The dashboard has the model/monitor/segment variables and matches them only with =~."""
    dash = json.loads(DASHBOARD.read_text())
    assert 36 <= dash["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    for name in DASHBOARD_VARIABLES:
        var = variables[name]
        q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        assert q.startswith("label_values(driftline_statistic"), q
        assert var["allValue"] == ".*"
    ids = []
    for expr in _dashboard_exprs(dash):
        for var in re.findall(r"\$\{?(\w+)", expr):
            assert var in DASHBOARD_VARIABLES, f"unknown variable ${var} in {expr!r}"
        assert not re.search(r'(?<![=!])=\s*"\$', expr), f"use =~ for variables: {expr!r}"
        assert not re.search(r'!=\s*"\$', expr), f"use !~ for variables: {expr!r}"
    for p in dash["panels"]:
        ids.append(p["id"])
    assert len(ids) == len(set(ids))
    text = DASHBOARD.read_text()
    for metric in ("driftline_statistic", "driftline_threshold", "driftline_breach",
                   "driftline_incidents_open", "driftline_incident_events_total",
                   "driftline_events_total", "driftline_events_invalid_total",
                   "driftline_events_late_total", "driftline_window_close_lag_seconds_bucket",
                   "driftline_batch_processing_seconds_bucket", "driftline_consumer_lag",
                   "driftline_dead_letters_total"):
        assert metric in text, f"no panel uses {metric}"


def test_k8s_sidecar_probes_resources_and_secrets() -> None:
    """The sidecar probes the metrics port, has requests/limits and takes secrets from Secrets."""
    sidecar = _sidecar()
    ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
    assert ports == {"dl-metrics": 9108}
    for probe in ("startupProbe", "livenessProbe"):
        assert sidecar[probe]["httpGet"]["port"] == "dl-metrics", probe
    assert "readinessProbe" not in sidecar  # must not take the model pod out of its Service
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(sidecar["resources"][kind]), kind
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|USERNAME|KEY", re.I)
    names = set()
    for env in sidecar["env"]:
        names.add(env["name"])
        if secretish.search(env["name"]):
            assert "value" not in env, f"{env['name']} has a literal value"
            assert "secretKeyRef" in env["valueFrom"], env["name"]
        # DRIFTLINE_KAFKA__X would be read as the config field kafka.x (and rejected).
        assert not env["name"].startswith("DRIFTLINE_KAFKA__"), env["name"]
    assert "DRIFTLINE_KAFKA_SASL_PASSWORD" in names
    (podmonitor,) = _k8s_docs("podmonitor.yaml")
    (endpoint,) = podmonitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "dl-metrics"
    assert {"action": "replace", "targetLabel": "job", "replacement": "driftline"} in endpoint[
        "relabelings"]


def test_k8s_configmap_holds_no_secret_values() -> None:
    """librdkafka secret settings in the ConfigMap are {env: ...} or {file: ...} indirections."""
    (cm,) = _k8s_docs("configmap.yaml")
    config = yaml.safe_load(cm["data"]["config.yaml"])
    settings = config["kafka"]["settings"]
    secret_keys = [k for k in settings if re.search(r"password|secret|sasl\.username", k)]
    assert secret_keys
    for key in secret_keys:
        assert isinstance(settings[key], dict) and set(settings[key]) <= {"env", "file"}, key
    assert config["metrics"]["addr"] == "0.0.0.0"


@pytest.mark.parametrize("source", ["k8s-configmap", "compose-inline"])
def test_shipped_driftline_configs_validate(source: str, tmp_path: Path) -> None:
    """The driftline configs in the ConfigMap and docker-compose validate with driftline.config."""
    config_mod = pytest.importorskip("driftline.config")
    if source == "k8s-configmap":
        (cm,) = _k8s_docs("configmap.yaml")
        text = cm["data"]["config.yaml"]
    else:
        text = _compose()["configs"]["driftline-config"]["content"]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    cfg = config_mod.load_config(path)
    assert cfg.metrics.addr == "0.0.0.0"
    assert cfg.metrics.port == 9108


def test_dockerfile_essentials() -> None:
    """The Dockerfile: python:3.11-slim, non-root, HEALTHCHECK, EXPOSE 9108, CLI entrypoint."""
    text = DOCKERFILE.read_text()
    instructions = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert instructions[0].startswith("FROM python:3.11-slim")
    user = [ln for ln in instructions if ln.startswith("USER ")]
    assert user and "root" not in user[-1] and user[-1].split()[1].split(":")[0] != "0"
    assert "HEALTHCHECK" in text and "urllib.request" in text and "/metrics" in text
    assert "EXPOSE 9108" in instructions
    assert 'ENTRYPOINT ["driftline"]' in instructions
    assert 'CMD ["run", "--config", "/etc/driftline/config.yaml"]' in instructions
    for line in instructions:
        if line.startswith("COPY") and "--from" not in line:
            for src in line.split()[1:-1]:
                if not any(ch in src for ch in "*?["):
                    assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[0 if ignore[0] == "*" else ignore.index("*")] == "*"
    assert "!src/" in ignore and "!pyproject.toml" in ignore


def test_local_prometheus_run_script_is_executable() -> None:
    """deploy/local/prometheus/run.sh exists, is executable and is valid bash."""
    script = DEPLOY / "local" / "prometheus" / "run.sh"
    assert os.access(script, os.X_OK)
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr


def test_dashboard_and_rules_need_no_star_model_and_no_created_series() -> None:
    """Every series is labelled by its model: no `model=~"$model|[*]"` workaround; driftline
    exports no _created series, so neither the dashboard nor a rule may read one."""
    dash = json.loads(DASHBOARD.read_text())
    exprs = _dashboard_exprs(dash)
    rules = RULES.read_text()
    for expr in [*exprs, rules]:
        assert "[*]" not in expr and 'model="*"' not in expr, expr
        assert "_created" not in expr, expr
    assert any('model=~"$model"' in e for e in exprs if "driftline_threshold" in e)
