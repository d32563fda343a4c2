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


# -- metrics hygiene ------------------------------------------------------------------------------
def scrape(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_no_created_series_are_exported() -> None:
    """The _created samples of counters and histograms are off (no panel or rule reads them)."""
    text = scrape(drifting_engine().metrics)
    assert "driftline_events_total{" in text and "driftline_batch_processing_seconds_bucket" in text
    assert "_created" not in text


def test_process_and_platform_metrics_are_on_driftlines_own_registry() -> None:
    """RSS, CPU, open fds and python_info, on the registry driftline serves."""
    r = Metrics().registry
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                 "process_open_fds", "process_start_time_seconds"):
        value = r.get_sample_value(name)
        assert value is not None and value >= 0, name
    assert "python_info{" in generate_latest(r).decode()


def test_no_series_carries_model_star_but_the_modelless_invalid_events() -> None:
    """Thresholds, watermark and newest event time are labelled by the model they are of."""
    engine = drifting_engine()
    text = scrape(engine.metrics)
    starred = [line for line in text.splitlines() if 'model="*"' in line]
    assert starred == ['driftline_events_total{model="*",outcome="invalid"} 0.0']
    r = engine.metrics.registry
    for level, value in (("warning", 0.1), ("critical", 0.25)):
        assert r.get_sample_value("driftline_threshold", {
            "monitor": "psi-x", "model": "m", "detector": "psi", "signal": "feature:x",
            "level": level, "direction": "above"}) == value
    assert r.get_sample_value("driftline_watermark_seconds", {"model": "m"}) is not None
    assert r.get_sample_value("driftline_last_event_timestamp_seconds", {"model": "m"}) is not None


def test_a_monitor_of_named_models_shows_thresholds_only_for_them() -> None:
    """A monitor's thresholds appear for each model it applies to, once the model is seen."""
    engine = Engine(Config(monitors=[{**MONITORS[0], "models": ["other"]},
                                     {"name": "ks-x", "signal": "feature:x", "detector": "ks"}],
                           window={"size": "60s"}, detection={"min_samples": 50}))
    run_engine(engine, [stream(per_window(3, 200), seed=1)])
    models = {s.labels["monitor"]: s.labels["model"] for f in engine.metrics.registry.collect()
              if f.name == "driftline_threshold" for s in f.samples}
    assert models == {"ks-x": "m"}
