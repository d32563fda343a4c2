"""The Prometheus rules, configs and the Grafana dashboard against real promtool and Prometheus.

No driftline is needed: a stand-in exporter serves every driftline metric (same names and labels,
made with prometheus_client) and a real local Prometheus scrapes it every second.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

try:
    from .prometheus_server import REPO_ROOT, RULES_FILE, PrometheusServer, render_config
except ImportError:  # tests/integration is not a package: rootdir-relative import
    from prometheus_server import REPO_ROOT, RULES_FILE, PrometheusServer, render_config

pytestmark = pytest.mark.integration

RULES_TEST_FILE = REPO_ROOT / "deploy" / "prometheus" / "tests" / "driftline.rules.test.yml"
COMPOSE_PROMETHEUS_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "driftline.json"
WAIT_S = 60.0


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install the Debian package `prometheus`"
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=REPO_ROOT)


def test_promtool_check_rules_passes() -> None:
    """`promtool check rules` accepts the driftline rules file."""
    proc = _promtool("check", "rules", str(RULES_FILE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    """`promtool test rules` passes every alert firing / not-firing case of the rules test file."""
    proc = _promtool("test", "rules", str(RULES_TEST_FILE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr


def test_rendered_local_config_passes_promtool(tmp_path: Path) -> None:
    """The local config template, rendered with target and rules, passes promtool check config."""
    config = tmp_path / "prometheus.yml"
    config.write_text(render_config("127.0.0.1:9108"))
    body = re.sub(r"#.*", "", config.read_text())
    assert "__TARGET__" not in body and "__RULES_FILE__" not in body
    proc = _promtool("check", "config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_prometheus_config_passes_promtool() -> None:
    """The docker-compose Prometheus config and its rule file pass promtool check config."""
    proc = _promtool("check", "config", str(COMPOSE_PROMETHEUS_CONFIG))
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- a real Prometheus scraping a stand-in exporter ------------------------------------------


class FakeDriftline:
    """Serves every metric driftline exports; counters and histograms advance on each scrape."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        ns = "driftline"
        stat_labels = ["monitor", "model", "detector", "signal", "segment"]
        self.events = Counter("events", "events", ["model", "outcome"], namespace=ns, registry=r)
        self.invalid = Counter("events_invalid", "invalid", ["reason"], namespace=ns, registry=r)
        self.late = Counter("events_late", "late", namespace=ns, registry=r)
        self.statistic = Gauge("statistic", "statistic", stat_labels, namespace=ns, registry=r)
        self.threshold = Gauge("threshold", "threshold",
                               ["monitor", "model", "detector", "signal", "level", "direction"],
                               namespace=ns, registry=r)
        self.breach = Gauge("breach", "breach", [*stat_labels, "direction"], namespace=ns,
                            registry=r)
        self.incidents_open = Gauge("incidents_open", "open", ["monitor", "severity"],
                                    namespace=ns, registry=r)
        self.incident_events = Counter("incident_events", "incident events",
                                       ["type", "monitor", "severity"], namespace=ns, registry=r)
        self.windows_closed = Counter("windows_closed", "windows", ["monitor"], namespace=ns,
                                      registry=r)
        self.close_lag = Histogram("window_close_lag_seconds", "lag", namespace=ns, registry=r)
        self.batch = Histogram("batch_processing_seconds", "batch", namespace=ns, registry=r)
        self.watermark = Gauge("watermark_seconds", "wm", ["model"], namespace=ns, registry=r)
        self.last_event = Gauge("last_event_timestamp_seconds", "last", ["model"], namespace=ns,
                                registry=r)
        self.segment_events = Counter("segment_events", "seg", ["model", "segment_key", "segment"],
                                      namespace=ns, registry=r)
        self.lag = Gauge("consumer_lag", "lag", ["topic", "partition"], namespace=ns, registry=r)
        self.position = Gauge("consumer_position", "pos", ["topic", "partition"], namespace=ns,
                              registry=r)
        self.dead_letters = Counter("dead_letters", "dlq", ["reason"], namespace=ns, registry=r)
        Gauge("build_info", "build", ["version"], namespace=ns, registry=r).labels("0.1.0").set(1)

        psi = {"monitor": "score-psi", "model": "routing", "detector": "psi",
               "signal": "prediction"}
        self.statistic.labels(**psi, segment="region=north").set(0.31)
        self.statistic.labels(**psi, segment="__all__").set(0.08)
        for level, value in (("warning", 0.1), ("critical", 0.25)):
            self.threshold.labels(**psi, level=level, direction="above").set(value)
        self.breach.labels(**psi, segment="region=north", direction="above").set(2)
        self.breach.labels(**psi, segment="__all__", direction="above").set(0)
        segments = Gauge("segments", "segment values by state", ["monitor", "model", "state"],
                         namespace=ns, registry=r)
        for state, n in (("judged", 40), ("breaching", 1), ("too_small", 960)):
            segments.labels("rate-by-store", "routing", state).set(n)
        Gauge("segment_worst_q_value", "worst q", ["monitor", "model"], namespace=ns,
              registry=r).labels("rate-by-store", "routing").set(1e-5)
        self.monitor_windows = Counter("monitor_windows", "outcomes", ["monitor", "outcome"],
                                       namespace=ns, registry=r)
        Gauge("monitor_blind_windows", "blind", ["monitor"], namespace=ns,
              registry=r).labels("score-psi").set(0)
        self.incidents_open.labels("score-psi", "critical").set(1)
        self.incidents_open.labels("score-psi", "high").set(0)
        self.lag.labels("predictions", "0").set(10)
        self._lock = threading.Lock()
        self._position = 0
        self._server: ThreadingHTTPServer | None = None

    def advance(self) -> None:
        """One scrape's worth of activity: 100 valid, 2 invalid, 1 late event, and so on."""
        with self._lock:
            self.events.labels("routing", "valid").inc(100)
            self.events.labels("routing", "invalid").inc(2)
            self.events.labels("routing", "late").inc(1)
            self.invalid.labels("malformed_json").inc(2)
            self.late.inc(1)
            self.dead_letters.labels("malformed_json").inc(2)
            self.incident_events.labels("updated", "score-psi", "critical").inc()
            self.windows_closed.labels("score-psi").inc()
            self.monitor_windows.labels("score-psi", "evaluated").inc()
            self.close_lag.observe(0.3)
            self.batch.observe(0.01)
            now = time.time()
            self.watermark.labels("routing").set(now - 30)
            self.last_event.labels("routing").set(now - 1)
            self.segment_events.labels("routing", "region", "north").inc(50)
            self._position += 100
            self.position.labels("predictions", "0").set(self._position)

    def start(self) -> str:
        """Serve on a free 127.0.0.1 port; return ``HOST:PORT``."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.advance()
                body = generate_latest(fake.registry)
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture(scope="module")
def scraped_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping a FakeDriftline, after it has a rate of driftline events."""
    fake = FakeDriftline()
    target = fake.start()
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), target)
    try:
        server.start()
        server.wait_for('sum(rate(driftline_events_total{job="driftline"}[5m])) > 0',
                        timeout=WAIT_S)
        yield server
    finally:
        try:
            server.stop()
        finally:
            fake.stop()


def _dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target, annotation and variable of the dashboard."""
    dash = json.loads(DASHBOARD.read_text())
    out: list[tuple[str, str]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            for t in p.get("targets", []):
                out.append((f"panel {p['title']!r} {t.get('refId')}", t["expr"]))
            walk(p.get("panels", []))

    walk(dash["panels"])
    for a in dash["annotations"]["list"]:
        if a.get("expr"):
            out.append((f"annotation {a['name']!r}", a["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q.strip())
            assert m, f"variable {v['name']}: unexpected query {q!r}"
            out.append((f"variable {v['name']!r}", m.group(1)))
    return out


def _substitute(expr: str) -> str:
    """Replace the dashboard's template variables by the 'All' regex ``.*``."""
    return re.sub(r"\$\{?(model|monitor|segment)\}?", ".*", expr)


def test_local_prometheus_loads_every_rule_healthy(scraped_prometheus: PrometheusServer) -> None:
    """A real Prometheus started by run.sh loads every rule group and evaluates each cleanly."""
    expected = {g: len(r) for g, r in _rule_names_by_group().items()}
    deadline = time.monotonic() + WAIT_S
    while True:
        groups = scraped_prometheus.rule_groups()
        loaded = {g["name"]: len(g["rules"]) for g in groups}
        unhealthy = [(r["name"], r.get("health"), r.get("lastError"))
                     for g in groups for r in g["rules"] if r.get("health") != "ok"]
        if loaded == expected and not unhealthy:
            return
        assert time.monotonic() < deadline, (loaded, expected, unhealthy)
        time.sleep(0.5)


def _rule_names_by_group() -> dict[str, list[str]]:
    doc = yaml.safe_load(RULES_FILE.read_text())
    return {g["name"]: [r.get("alert") or r["record"] for r in g["rules"]] for g in doc["groups"]}


def test_dashboard_queries_are_valid_and_return_data(scraped_prometheus: PrometheusServer) -> None:
    """Every dashboard query (variables = '.*') is valid PromQL and returns driftline data."""
    pending = {where: _substitute(expr) for where, expr in _dashboard_queries()}
    assert len(pending) > 20
    for where, expr in pending.items():
        assert "$" not in expr, f"{where}: unsubstituted variable in {expr!r}"
        scraped_prometheus.query(expr)  # raises PrometheusError on invalid PromQL
    deadline = time.monotonic() + WAIT_S
    while pending:
        pending = {w: e for w, e in pending.items() if not scraped_prometheus.query(e)}
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not pending, f"queries without data after {WAIT_S:.0f}s: {pending}"


def test_recording_rules_compute_from_scraped_metrics(scraped_prometheus: PrometheusServer) -> None:
    """The invalid-ratio and per-model rate recording rules compute the expected values."""
    ratio = scraped_prometheus.wait_for("driftline:events_invalid:ratio_rate5m", timeout=WAIT_S)
    assert len(ratio) == 1
    assert float(ratio[0]["value"][1]) == pytest.approx(2 / 103, rel=1e-6)
    by_model = scraped_prometheus.wait_for("driftline:events_by_model:rate5m", timeout=WAIT_S)
    assert {r["metric"]["model"] for r in by_model} == {"routing"}
    assert float(by_model[0]["value"][1]) > 0


def test_alerts_fire_and_stay_quiet_on_a_real_server(scraped_prometheus: PrometheusServer) -> None:
    """A critical incident fires at once, a critical breach is pending (for: 10m), nothing else."""
    deadline = time.monotonic() + WAIT_S
    while True:
        alerts = {(a["labels"]["alertname"], a["state"]) for a in scraped_prometheus.alerts()}
        want = {("DriftlineIncidentOpenCritical", "firing"),
                ("DriftlineStatisticCritical", "pending")}
        # until exactly these: right after the first scrapes DriftlineNotConsuming can be
        # pending from an evaluation before the rate existed; the next evaluation clears it
        if alerts == want or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert alerts == want
    firing = next(a for a in scraped_prometheus.alerts()
                  if a["labels"]["alertname"] == "DriftlineIncidentOpenCritical")
    assert firing["labels"]["monitor"] == "score-psi"
    assert firing["labels"]["severity"] == "critical"
    assert firing["annotations"]["runbook_url"].endswith("#driftlineincidentopencritical")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_target_is_down_and_alert_pending(tmp_path: Path) -> None:
    """An unreachable target gives up == 0 and a pending DriftlineDown, nothing else."""
    with PrometheusServer(tmp_path / "prom", f"127.0.0.1:{_closed_port()}") as server:
        assert server.url is not None and server.url.startswith("http://127.0.0.1:")
        server.wait_for('up{job="driftline"} == 0', timeout=WAIT_S)
        deadline = time.monotonic() + WAIT_S
        while True:
            names = {a["labels"]["alertname"]: a["state"] for a in server.alerts()}
            if "DriftlineDown" in names or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert names == {"DriftlineDown": "pending"}
    assert not server.is_running()
