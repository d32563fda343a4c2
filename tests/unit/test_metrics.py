"""Metrics: the engines' state is exported at scrape time by one collector, summed over engines."""

from __future__ import annotations

from prometheus_client import generate_latest
from synth import per_window, run_engine, stream

from driftline.config import Config
from driftline.engine import Engine
from driftline.metrics import EngineGauges, Metrics

MONITORS = [{"name": "psi-x", "signal": "feature:x", "detector": "psi"}]
SEVERITIES = ("low", "medium", "high", "critical")


def open_incidents(metrics: Metrics, monitor: str = "psi-x") -> float:
    return sum(metrics.registry.get_sample_value(
        "driftline_incidents_open", {"monitor": monitor, "severity": s}) or 0.0 for s in SEVERITIES)


def drifting_engine(metrics: Metrics | None = None) -> Engine:
    engine = Engine(Config(monitors=MONITORS, window={"size": "60s"},
                           detection={"min_samples": 50, "resolve_after": 99}), metrics=metrics)
    times = per_window(8, 200)
    run_engine(engine, [stream(times[:800], seed=1) + stream(times[800:], seed=2, shift=3.0)])
    return engine


def test_an_engine_with_its_own_metrics_exports_its_open_incidents_and_statistics() -> None:
    """A lone engine's open incident and last statistic are read at scrape time."""
    engine = drifting_engine()
    r = engine.metrics.registry
    assert open_incidents(engine.metrics) == 1
    value = r.get_sample_value("driftline_statistic", {
        "monitor": "psi-x", "model": "m", "detector": "psi", "signal": "feature:x",
        "segment": "__all__"})
    assert value is not None and value > 0.25
    assert r.get_sample_value("driftline_breach", {
        "monitor": "psi-x", "model": "m", "detector": "psi", "signal": "feature:x",
        "segment": "__all__", "direction": "above"}) == 2


def test_one_collector_sums_the_open_incidents_of_every_engine_it_watches() -> None:
    """Engines sharing a registry are one writer: a scrape sums them, never reads one alone."""
    metrics = Metrics()
    engines = [drifting_engine(metrics), drifting_engine(metrics)]
    metrics.watch(lambda: [e.gauges for e in engines])
    assert open_incidents(metrics) == 2
    engines.pop()
    assert open_incidents(metrics) == 1


def test_before_any_window_closes_every_monitor_shows_zero_open_incidents() -> None:
    """Declared monitors have their open-incident series at 0 from the start."""
    metrics = Metrics()
    metrics.watch(lambda: [EngineGauges(("a", "b"))])
    text = generate_latest(metrics.registry).decode()
    for m in ("a", "b"):
        for sev in SEVERITIES:
            assert f'driftline_incidents_open{{monitor="{m}",severity="{sev}"}} 0.0' in text


def test_build_info_names_the_version_and_the_decoder_that_runs() -> None:
    """driftline_build_info{version, decoder}: which decoder a process runs is visible."""
    from driftline import __version__
    from driftline.decode import native

    m = Metrics()
    assert m.registry.get_sample_value(
        "driftline_build_info", {"version": __version__, "decoder": native.name()}) == 1.0
    assert native.name() in ("native", "python")
