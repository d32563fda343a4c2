"""End to end: a real driftline, scraped by a real Prometheus, seen through the dashboard and rules.

``driftline demo`` runs as a subprocess serving /metrics, paced (0.5 s per 5-minute window,
about 35 s for the 60 windows) so that a real local Prometheus (1 s scrape and rule evaluation,
``deploy/local/prometheus/run.sh``) scrapes it many times while incidents open and resolve;
``--hold`` keeps it serving after the stream ends. Everything is then asserted through
Prometheus' HTTP API: the Grafana dashboard's queries, the alerting rules, and the segment label
cardinality under a flood of new segment values (a second driftline, this file run as a script,
feeds the Engine a generated stream with 10,000 distinct segment values).

Run alone: ``.venv/bin/python -m pytest -q tests/integration/test_prometheus_e2e.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

try:
    from .prometheus_server import REPO_ROOT, RULES_FILE, PrometheusServer
except ImportError:  # tests/integration is not a package (or this file runs as the flood driver)
    from prometheus_server import REPO_ROOT, RULES_FILE, PrometheusServer

pytestmark = pytest.mark.integration

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "driftline.json"
RENDER_SCRIPT = REPO_ROOT / "deploy" / "grafana" / "render.py"
PACE_S = 0.5  # wall-clock seconds per demo window: 2 scrapes per window, ~35 s for the stream
DEMO_TIMEOUT_S = 150.0  # the demo must finish its stream within this (it takes ~35 s)
HOLD_S = 600.0  # the demo keeps serving after its stream; the fixture kills it at teardown
SCRAPE_WAIT_S = 30.0
# Panels of this row read driftline_consumer_lag/_position, exported by the Kafka consumer
# (`driftline run`) only; the demo has no Kafka, so they are checked for valid PromQL only.
RUN_MODE_ROW = "Kafka (run mode)"
# The demo scenario (src/driftline/demo.py) drifts these; the dashboard must show them when picked.
DEMO_PICK = {"model": "routing", "monitor": "region-priority-rate", "segment": "south"}
FLOOD_DISTINCT = 10_000
FLOOD_CAP = 20  # limits.metric_segment_cardinality of the flooded driftline
FLOOD_TIMEOUT_S = 90.0


def _require_prometheus() -> None:
    missing = [b for b in ("prometheus", "promtool") if shutil.which(b) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not on PATH: these tests need a real Prometheus. "
                    "Install the Debian package `prometheus` (`make test` does it through "
                    "scripts/ensure-services.sh).", pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A subprocess whose stdout lines are read by a thread (so waits are bounded)."""

    def __init__(self, name: str, argv: list[str], stderr_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.stderr_path = stderr_path
        self._stderr = stderr_path.open("w")
        self.popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._stderr,
                                      stdin=subprocess.DEVNULL, text=True, cwd=REPO_ROOT)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_line(self, prefix: str, timeout: float, on_tick: Any = None) -> str:
        """The first stdout line starting with ``prefix``; fail after ``timeout`` s or on exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                line = ""
            if on_tick is not None:
                on_tick()
            if line is None:
                pytest.fail(f"{self.name} exited ({self.popen.wait()}) before printing "
                            f"{prefix!r}\n{self.tail()}", pytrace=False)
            if line:
                self.lines.append(line)
                if line.startswith(prefix):
                    return line
        pytest.fail(f"no {prefix!r} line within {timeout:.0f}s\n{self.tail()}", pytrace=False)

    def tail(self) -> str:
        self._stderr.flush()
        err = self.stderr_path.read_text(errors="replace").splitlines()[-20:]
        return ("--- stdout ---\n" + "\n".join(self.lines[-20:]) + "\n--- stderr ---\n"
                + "\n".join(err))

    def stop(self) -> None:
        """SIGTERM (it only sleeps in --hold), bounded wait, then SIGKILL; only this pid."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._stderr.close()


def query_range(server: PrometheusServer, promql: str, start: float, end: float,
                step: float = 1.0) -> list[dict[str, Any]]:
    """Range query; the ``result`` list (raises PrometheusError on invalid PromQL)."""
    data = server.api("query_range", {"query": promql, "start": f"{start:.3f}",
                                      "end": f"{end:.3f}", "step": f"{step:g}"})
    return list(data["result"])


# --- the demo, scraped ------------------------------------------------------------------------


@dataclass
class DemoRun:
    """A finished demo stream, still served, and what Prometheus recorded of it."""

    prometheus: PrometheusServer
    target: str
    started: float  # unix time just before the demo process started
    finished: float  # unix time its "done:" line was read
    events: int
    incidents: list[dict[str, Any]]
    # (alertname, state, monitor) seen on /api/v1/alerts while the stream ran
    alerts_seen: set[tuple[str, str, str]] = field(default_factory=set)
    alert_samples: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """A real Prometheus scraping `driftline demo` (paced), after the whole stream was scraped."""
    _require_prometheus()
    tmp = tmp_path_factory.mktemp("e2e-demo")
    target = f"127.0.0.1:{_free_port()}"
    server = PrometheusServer(tmp / "prometheus", target)
    server.start()  # before the demo: the first windows are scraped too
    incidents_file = tmp / "incidents.jsonl"
    proc: Proc | None = None
    try:
        started = time.time()
        proc = Proc("driftline demo", [sys.executable, "-m", "driftline.cli", "demo", "--pace", str(PACE_S),
                     "--metrics-port", target.rsplit(":", 1)[1], "--metrics-addr", "127.0.0.1",
                     "--hold", str(HOLD_S), "--incidents-out", str(incidents_file)],
                    tmp / "demo.stderr")
        run = DemoRun(server, target, started, 0.0, 0, [])
        metrics_line = proc.wait_line("metrics:", 60)
        assert metrics_line == f"metrics: http://{target}/metrics", metrics_line

        def record_alerts() -> None:
            for a in server.alerts():
                key = (a["labels"]["alertname"], a["state"], a["labels"].get("monitor", ""))
                run.alerts_seen.add(key)
                run.alert_samples.setdefault("/".join(key), a)

        done = proc.wait_line("done:", DEMO_TIMEOUT_S, on_tick=record_alerts)
        run.finished = time.time()
        m = re.match(r"done: (\d+) events", done)
        assert m, done
        run.events = int(m.group(1))
        # every event was scraped: the final counters are in Prometheus (bounded wait)
        server.wait_for(f'sum(driftline_events_total{{job="driftline"}}) == {run.events}',
                        timeout=SCRAPE_WAIT_S)
        record_alerts()
        run.incidents = [json.loads(line) for line in incidents_file.read_text().splitlines()]
        yield run
    finally:
        try:
            if proc is not None:
                proc.stop()
        finally:
            server.stop()


@dataclass(frozen=True)
class DashboardQuery:
    where: str  # "panel 'Title' A (row 'Row')" / "annotation 'Name'" / "variable 'name'"
    row: str
    expr: str


def _render_module() -> Any:
    """deploy/grafana/render.py, loaded once: its panel walk serves the figures and these tests."""
    if "driftline_render" not in sys.modules:
        spec = importlib.util.spec_from_file_location("driftline_render", RENDER_SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["driftline_render"]


def dashboard_queries() -> list[DashboardQuery]:
    """Every PromQL expression of the dashboard: panel targets, annotations, query variables."""
    dash = json.loads(DASHBOARD.read_text())
    out = [DashboardQuery(f"panel {t.panel['title']!r} {t.ref} (row {t.row!r})", t.row, t.expr)
           for t in _render_module().targets(DASHBOARD)]
    for a in dash["annotations"]["list"]:
        if a.get("expr"):
            out.append(DashboardQuery(f"annotation {a['name']!r}", "", a["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q.strip())
            assert m, f"variable {v['name']}: unexpected query {q!r}"
            out.append(DashboardQuery(f"variable {v['name']!r}", "", m.group(1)))
    return out


def substitute(expr: str, values: dict[str, str] | None = None) -> str:
    """Grafana's interpolation: variables by their 'All' value ``.*`` (or ``values``), intervals by 1m."""
    values = values or {}
    expr = re.sub(r"\$\{?(model|monitor|segment)\}?", lambda m: values.get(m.group(1), ".*"), expr)
    return re.sub(r"\$\{?__(rate_)?interval\}?", "1m", expr)


def _empty_queries(run: DemoRun, values: dict[str, str] | None = None) -> list[str]:
    """Dashboard queries (outside the run-mode row) without any data over the run."""
    end = time.time()
    empty = []
    for q in dashboard_queries():
        expr = substitute(q.expr, values)
        assert "$" not in expr, f"{q.where}: unsubstituted variable in {expr!r}"
        result = query_range(run.prometheus, expr, run.started, end)  # invalid PromQL raises
        if q.row != RUN_MODE_ROW and not result:
            empty.append(f"{q.where}: {expr}")
    return empty


def test_every_dashboard_query_returns_data_from_a_real_driftline(demo_run: DemoRun) -> None:
    """Every panel, annotation and variable query ('All' selected) shows data for a real demo run."""
    queries = dashboard_queries()
    assert len(queries) > 30
    assert {q.row for q in queries} >= {"Overview", "Incidents", RUN_MODE_ROW}
    empty = _empty_queries(demo_run)
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)


def test_dashboard_queries_return_data_with_a_model_monitor_and_segment_picked(
        demo_run: DemoRun) -> None:
    """With routing / region-priority-rate / south picked in the variables, every query still shows data."""
    for var, value in DEMO_PICK.items():  # the picks are values the variables offer
        q = next(q for q in dashboard_queries() if q.where == f"variable {var!r}")
        offered = {r["metric"][var] for r in demo_run.prometheus.query(substitute(q.expr, DEMO_PICK))}
        assert value in offered, (var, offered)
    empty = _empty_queries(demo_run, DEMO_PICK)
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)


def _alert_rule(name: str) -> dict[str, Any]:
    doc = yaml.safe_load(RULES_FILE.read_text())
    return next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == name)


def _open_at_end(incidents: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(monitor, severity) of the incidents whose last event is not ``resolved``."""
    last: dict[str, dict[str, Any]] = {}
    for ev in incidents:
        last[ev["data"]["incident_id"]] = ev
    return {(ev["data"]["monitor"], ev["data"]["severity"]) for ev in last.values()
            if not ev["type"].endswith(".resolved")}


def test_critical_incident_alert_fires_while_the_incident_is_open(demo_run: DemoRun) -> None:
    """DriftlineIncidentOpenCritical fires for exactly the monitors with a critical incident, then clears."""
    rule = _alert_rule("DriftlineIncidentOpenCritical")
    # the demo's critical incidents stay open ~4-8 s of wall time: the rule must not wait longer
    assert "for" not in rule, rule
    critical = {ev["data"]["monitor"] for ev in demo_run.incidents
                if ev["data"]["severity"] == "critical"
                and ev["type"].rsplit(".", 1)[1] in ("opened", "escalated")}
    assert critical >= {"region-priority-rate", "parcel-weight-psi"}, critical

    seen = {mon for name, state, mon in demo_run.alerts_seen
            if name == "DriftlineIncidentOpenCritical" and state == "firing"}
    assert seen == critical, f"alerts API showed firing for {seen}, critical incidents {critical}"
    alert = demo_run.alert_samples["DriftlineIncidentOpenCritical/firing/region-priority-rate"]
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["instance"] == demo_run.target
    assert alert["annotations"]["runbook_url"].endswith("#driftlineincidentopencritical")

    span = int(time.time() - demo_run.started) + 5
    recorded = demo_run.prometheus.query(
        f'max by (monitor) (max_over_time(ALERTS{{alertname="DriftlineIncidentOpenCritical",'
        f'alertstate="firing"}}[{span}s]))')
    assert {r["metric"]["monitor"] for r in recorded} == critical

    # after the stream: alerts follow the incidents still open (the demo resolves its critical ones)
    open_now = _open_at_end(demo_run.incidents)
    want = {("DriftlineIncidentOpenCritical" if sev == "critical" else "DriftlineIncidentOpenHigh", mon)
            for mon, sev in open_now if sev in ("critical", "high")}
    deadline = time.monotonic() + SCRAPE_WAIT_S
    while True:
        firing = {(a["labels"]["alertname"], a["labels"]["monitor"])
                  for a in demo_run.prometheus.alerts()
                  if a["state"] == "firing" and a["labels"]["alertname"].startswith("DriftlineIncident")}
        if firing == want or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert firing == want, f"open incidents {open_now}"


def test_render_script_finds_data_for_every_figure(demo_run: DemoRun) -> None:
    """deploy/grafana/render.py's queries (the docs/img figures) all return series from the run."""
    data = _render_module().collect(demo_run.prometheus.url, demo_run.started, demo_run.finished + 3)
    empty = [key for key, series in data.items() if not series]
    assert not empty, f"figure queries without data: {empty}"


# --- a flood of new segment values ------------------------------------------------------------


def flood_batches(distinct: int, windows: int = 11, per_window: int = 2000,
                  seed: int = 1) -> Iterator[list[bytes]]:
    """One batch per 1-minute window; segment ``store`` takes ``distinct`` values in total."""
    import numpy as np
    import orjson

    rng = np.random.default_rng(seed)
    t0 = 1_770_962_400.0
    regions = ("north", "south", "east", "west", "central")
    for w in range(windows):
        ts = np.sort(rng.uniform(t0 + 60 * w, t0 + 60 * (w + 1), per_window))
        score = rng.beta(2, 2, per_window)
        x = rng.normal(10, 2, per_window)
        batch = []
        for i in range(per_window):
            k = w * per_window + i
            region = regions[k % 5]
            batch.append(orjson.dumps({
                "event_id": f"f{k}", "model_id": "flooded", "timestamp": round(float(ts[i]), 3),
                "features": {"x": round(float(x[i]), 3), "region": region},
                "prediction": round(float(score[i]), 4),
                "decision": "yes" if score[i] >= 0.5 else "no",
                "segments": {"region": region, "store": f"store-{k % distinct:05d}"},
            }))
        yield batch


def _flood_main(argv: list[str]) -> int:
    """This file as a script: a driftline Engine serving /metrics over a segment-value flood."""
    from driftline.config import load_config
    from driftline.engine import Engine
    from driftline.metrics import serve

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--distinct", type=int, default=FLOOD_DISTINCT)
    p.add_argument("--cap", type=int, default=FLOOD_CAP)
    p.add_argument("--pace", type=float, default=0.3)
    p.add_argument("--hold", type=float, default=HOLD_S)
    args = p.parse_args(argv)
    config = load_config(None, **{"instance": "flood", "window.size": "1m",
                                  "limits.metric_segment_cardinality": args.cap})
    engine = Engine(config)
    port = serve(engine.metrics, "127.0.0.1", args.port)
    print(f"metrics: http://127.0.0.1:{port}/metrics", flush=True)
    stores: set[bytes] = set()
    for batch in flood_batches(args.distinct):
        stores.update(re.findall(rb'"store":"([^"]+)"', b"\n".join(batch)))
        engine.process(batch)
        time.sleep(args.pace)
    engine.finish()
    print(f"done: {engine.totals.read} events, {len(stores)} distinct stores, "
          f"{engine.totals.windows} windows", flush=True)
    time.sleep(args.hold)
    return 0


def test_segment_label_cardinality_stays_under_the_cap_during_a_flood(tmp_path: Path) -> None:
    """10,000 new segment values give at most cap + 1 label values per segment key (+ __all__)."""
    _require_prometheus()
    target = f"127.0.0.1:{_free_port()}"
    with PrometheusServer(tmp_path / "prometheus", target) as server:
        proc = Proc("flood driver", [sys.executable, str(Path(__file__).resolve()), "--port",
                     target.rsplit(":", 1)[1], "--cap", str(FLOOD_CAP)], tmp_path / "flood.stderr")
        try:
            proc.wait_line("metrics:", 60)
            done = proc.wait_line("done:", FLOOD_TIMEOUT_S)
            m = re.match(r"done: (\d+) events, (\d+) distinct stores, (\d+) windows", done)
            assert m, done
            events, stores, windows = map(int, m.groups())
            assert stores == FLOOD_DISTINCT and windows >= 5, done
            server.wait_for(f'sum(driftline_events_total{{job="driftline"}}) == {events}',
                            timeout=SCRAPE_WAIT_S)
            server.wait_for("sum(driftline_windows_closed_total) > 0", timeout=SCRAPE_WAIT_S)
            # the flood did overflow: folded events and an __other__ label in both metrics
            assert server.query('driftline_dead_letters_total{reason="cardinality_overflow"} > 0')
            # the cap holds per segment key: the flooded key cannot take another key's labels.
            # driftline_statistic has no segment_key label; each monitor reads one key.
            counts = {}
            for metric, by in (("driftline_statistic", "monitor"),
                               ("driftline_segment_events_total", "segment_key")):
                labels: dict[str, set[str]] = {}
                for r in server.query(f"count by ({by}, segment) ({metric})"):
                    labels.setdefault(r["metric"][by], set()).add(r["metric"]["segment"])
                assert any("__other__" in v for v in labels.values()), (metric, labels)
                for key, values in labels.items():
                    counts[(metric, key)] = len(values - {"__all__"})
                    assert len(values - {"__all__"}) <= FLOOD_CAP + 1, (metric, key, sorted(values))
            series = int(server.query('count({__name__=~"driftline_.+"})')[0]["value"][1])
            assert series < 5000, f"{series} driftline series after the flood ({counts})"
        finally:
            proc.stop()


if __name__ == "__main__":
    sys.exit(_flood_main(sys.argv[1:]))
