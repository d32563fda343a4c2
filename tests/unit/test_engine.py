"""The engine: batching never changes a verdict, checkpoints resume exactly, windows are sized sanely.

Most tests replay a shortened demo stream (the drifts come early) through the demo
config; findings are recorded at the incident manager's door, so every judged
statistic of every window (clean ones too) can be compared.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synth import T0, event, record_findings, rounded, run_engine, split, stream

from driftline import demo
from driftline.cli.summary import summarize
from driftline.config import Config, load_config
from driftline.engine import Engine
from driftline.judge import benjamini_hochberg

DEMO_CONFIG = Path(__file__).parents[2] / "configs" / "demo.yaml"
SHORT = demo.Scenario(windows=18, warmup=4, region_start=5, region_ramp=2, region_end=10,
                      unit_start=12, unit_end=14, creep_start=40)


@functools.cache
def demo_messages(seed: int = 7, scenario: demo.Scenario = SHORT) -> tuple[bytes, ...]:
    return tuple(m for _, ms in demo.stream(seed, scenario) for m in ms)


@functools.cache
def demo_windows(seed: int = 7, scenario: demo.Scenario = SHORT) -> tuple[list[bytes], ...]:
    return tuple(ms for _, ms in demo.stream(seed, scenario))


def demo_engine(**kw: Any) -> Engine:
    return Engine(load_config(DEMO_CONFIG), **kw)


def judged(findings: list[Any]) -> list[tuple[Any, ...]]:
    """What a finding says, comparable across runs."""
    return [(f.key, f.window.index, f.evaluation.statistic, f.evaluation.n_current,
             f.evaluation.n_reference, f.level, f.evaluation.value) for f in findings]


def same_statistics(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Equal findings; statistic values equal up to float summation order (1e-9 relative)."""
    return len(a) == len(b) and all(
        x[:-1] == y[:-1] and math.isclose(x[-1], y[-1], rel_tol=1e-9, abs_tol=1e-12)
        for x, y in zip(a, b, strict=True))


# -- merging panes is processing the concatenation -------------------------------------------
def test_one_batch_and_many_batches_judge_every_window_alike() -> None:
    """The same events in one batch, per window, or in random small batches give equal statistics."""
    messages = list(demo_messages())
    rng = np.random.default_rng(3)
    runs = []
    for batches in ([messages], list(demo_windows()),
                    split(messages, rng.integers(0, len(messages), 120).tolist())):
        engine = demo_engine()
        findings = record_findings(engine)
        events = run_engine(engine, batches)
        runs.append((judged(findings), rounded(events)))
    (one, one_events), *others = runs
    assert len(one) > 100
    for many, many_events in others:
        assert same_statistics(one, many)
        assert many_events == one_events


# -- checkpoints ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cut", [1, 3, 7, 11, 15], ids=lambda c: f"after-batch-{c}")
def test_snapshot_restore_mid_stream_emits_the_same_incidents(cut: int) -> None:
    """Restoring a JSON round trip of a snapshot and going on gives exactly the uninterrupted events."""
    batches = list(demo_windows())
    straight = run_engine(demo_engine(), batches)
    assert {e["type"].rsplit(".", 1)[1] for e in straight} >= {"opened", "resolved"}

    first = demo_engine()
    offset = sum(len(b) for b in batches[:cut])
    events = []
    for i, b in enumerate(batches[:cut]):
        start = sum(len(x) for x in batches[:i])
        events += first.process(b, np.arange(start, start + len(b))).incidents
    state = json.loads(json.dumps(first.snapshot()))
    resumed = demo_engine()
    resumed.restore(state)
    for b in batches[cut:]:
        events += resumed.process(b, np.arange(offset, offset + len(b))).incidents
        offset += len(b)
    events += resumed.finish().incidents
    assert events == straight
    assert resumed.totals.read == sum(len(b) for b in batches)


def test_a_snapshot_before_any_event_restores_to_a_fresh_engine() -> None:
    """The snapshot of an engine that has seen nothing restores to one that behaves as new."""
    state = json.loads(json.dumps(demo_engine().snapshot()))
    engine = demo_engine()
    engine.restore(state)
    assert run_engine(engine, list(demo_windows())) == run_engine(demo_engine(), list(demo_windows()))


# -- count windows ------------------------------------------------------------------------------
def test_count_windows_hold_exactly_their_number_of_events() -> None:
    """With window=5000, every evaluated window is 5000 consecutive valid events, named by count."""
    engine = demo_engine(window=5000)
    findings = record_findings(engine)
    messages = list(demo_messages())
    run_engine(engine, list(demo_windows()))
    assert engine.spec is not None and engine.spec.kind == "count"
    whole = [f for f in findings if not f.segment]
    assert whole
    for f in whole:
        assert f.window.kind == "count"
        assert (f.window.start, f.window.end) == (f.window.index * 5000, (f.window.index + 1) * 5000)
        assert f.evaluation.n_current == 5000
    windows = {f.window.index for f in findings}
    warmup = load_config(DEMO_CONFIG).reference.warmup_windows
    assert windows == set(range(warmup, len(messages) // 5000))


@pytest.mark.parametrize("n", [499, 500, 501])
def test_the_last_complete_count_window_is_evaluated_at_the_end(n: int) -> None:
    """At the end of input a count window holding all its events closes; a partial one does not."""
    cfg = Config(detection={"min_samples": 20},
                 monitors=[{"name": "psi-x", "signal": "feature:x", "detector": "psi"}])
    engine = Engine(cfg, window=100)
    findings = record_findings(engine)
    rng = np.random.default_rng(0)
    messages = [event(T0 + i, x=float(rng.normal())) for i in range(n)]
    run_engine(engine, split(messages, range(70, n, 70)))
    assert [(f.window.start, f.window.end) for f in findings] == \
        [(s, s + 100) for s in range(100, (n // 100) * 100, 100)]
    assert all(f.evaluation.n_current == 100 for f in findings)


# -- window size ----------------------------------------------------------------------------------
def test_auto_window_on_the_demo_stream_is_five_minutes() -> None:
    """The demo's ~5,000 events per 5 minutes give a 5-minute window for the default target."""
    engine = Engine(Config())
    engine.process(list(demo_windows()[0]))
    assert engine.spec is not None and (engine.spec.kind, engine.spec.size) == ("time", 300.0)


# -- Benjamini–Hochberg -------------------------------------------------------------------------
def brute_force_bh(p: list[float]) -> list[float]:
    """q_i = min(1, min over p_j ≥ p_i of p_j·n / rank_j), rank_j = #{k: p_k ≤ p_j}."""
    n = len(p)
    rank = [sum(1 for pk in p if pk <= pj) for pj in p]
    return [min(1.0, min(pj * n / rank[j] for j, pj in enumerate(p) if pj >= pi)) for pi in p]


def test_benjamini_hochberg_textbook_example() -> None:
    """Four p-values adjust to the hand-computed q-values, in input order."""
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(q, [0.02, 0.04, 0.04, 0.02])


def test_benjamini_hochberg_of_nothing_is_nothing() -> None:
    """No p-values, no q-values."""
    assert benjamini_hochberg([]).size == 0


@given(st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.05, 0.5, 1.0])),
                min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_benjamini_hochberg_equals_the_brute_force_definition(p: list[float]) -> None:
    """BH q-values equal the step-up definition, ties included; q ≥ p and q ≤ 1, order preserved."""
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q, brute_force_bh(p), rtol=1e-12, atol=1e-300)
    assert np.all(q >= np.asarray(p) - 1e-15) and np.all(q <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= -1e-15)


# -- zero-config preset on the demo ---------------------------------------------------------------
def preset_run(seed: int, scenario: demo.Scenario) -> tuple[Engine, list[dict[str, Any]]]:
    engine = Engine(Config())
    return engine, run_engine(engine, [ms for _, ms in demo.stream(seed, scenario)])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_zero_config_preset_raises_no_incident_on_a_clean_stream(seed: int) -> None:
    """With no monitors configured, 30 clean demo windows raise no incident at all."""
    engine, events = preset_run(seed, demo.Scenario(clean=True, windows=30))
    assert len(engine.monitors) > 10
    assert engine.totals.windows > 20
    assert events == []


def test_zero_config_preset_names_the_drifted_signal_and_segment() -> None:
    """On the drifting demo, the preset opens the region rate for south and psi/ks on parcel_weight."""
    sc = demo.Scenario(windows=24, region_start=8, region_end=16, unit_start=18, unit_end=21,
                       creep_start=40)
    _, events = preset_run(7, sc)
    opened = [e["data"] for e in events if e["type"] == "io.driftline.incident.opened"]
    start = {e["data"]["incident_id"]: e["data"]["window"]["start"] for e in events}
    region_at = _iso(sc.window_start(sc.region_start))
    unit_at = _iso(sc.window_start(sc.unit_start))
    rate = [d for d in opened if d["monitor"].startswith("rate-") and
            d["monitor"].endswith("-by-region")]
    assert rate and {tuple(d["segment"].items()) for d in rate} == {(("region", "south"),)}
    assert all(start[d["incident_id"]] >= region_at for d in rate)
    weight = {d["monitor"] for d in opened if d["signal"] == "feature:parcel_weight"}
    assert weight == {"psi-parcel_weight", "ks-parcel_weight"}
    assert all(start[d["incident_id"]] >= unit_at for d in opened
               if d["signal"] == "feature:parcel_weight")
    assert all(d["signal"] in ("decision=standard", "decision=prioritize", "feature:parcel_weight",
                               "prediction", "decision") for d in opened), \
        [(d["monitor"], d["segment"]) for d in opened]


def _iso(ts: float) -> str:
    from driftline.timestamps import iso
    return iso(ts)


# -- cardinality flood through the engine ------------------------------------------------------
def test_a_segment_flood_is_processed_counted_and_reported_but_not_invalid() -> None:
    """Overflowing segment values are valid events under __other__; the summary shows them apart."""
    cfg = Config(limits={"segment_cardinality": 200}, detection={"min_samples": 20},
                 monitors=[{"name": "volume-region", "signal": "volume",
                            "detector": "segment_volume", "segment_by": "region"}])
    engine = Engine(cfg, window="60s")
    messages = [event(T0 + i * 0.06, region=f"r{i:05d}") for i in range(10_000)]
    dead = []
    for chunk in split(messages, range(1000, 10_000, 1000)):
        dead += engine.process(chunk).dead_letters
    engine.finish()
    assert len(engine.decoder.segment_values["region"]) <= 201  # type: ignore[union-attr]
    assert engine.totals.valid == 10_000
    # reported once per distinct value (the first 1,000 of them), every event counted
    assert engine.totals.invalid == {"cardinality_overflow": 1_000}
    assert [d.reason for d in dead] == ["cardinality_overflow"] * 1_000
    events = summarize(engine, 1.0)["events"]
    assert (events["valid"], events["invalid"]) == (10_000, 0)
    assert events["invalid_by_reason"] == {"cardinality_overflow": 1_000}
    assert events["overflow"] == {"cardinality_overflow": 9_800}


def test_a_count_window_incident_is_dated_by_its_last_event() -> None:
    """A count window's CloudEvent ``time`` is the event time of its last event, not 1970."""
    from driftline.timestamps import iso

    times = [T0 + i for i in range(6000)]
    messages = stream(times[:3000], seed=1) + stream(times[3000:], seed=2, shift=2.0)
    engine = Engine(Config(monitors=[{"name": "psi-x", "signal": "feature:x", "detector": "psi"}],
                           window={"size": 1000}, detection={"min_samples": 100}))
    events = run_engine(engine, [messages])
    assert events, "the shift must open an incident"
    for e in events:
        assert e["data"]["window"]["kind"] == "count"
        assert e["time"] == iso(T0 + int(e["data"]["window"]["end"]) - 1)


def test_output_names_the_models_a_step_decoded() -> None:
    """What the runtime checks the input's partitioning with: the models of each step, the
    prelude's events included once it is decoded, never the dead letters' names."""
    engine = Engine(Config())
    first = [event(T0 + i, model="a" if i % 2 else "b") for i in range(10)]
    held = engine.process(first)
    assert held.models == set()  # still in the prelude: nothing decoded
    rest = [event(T0 + 10 + i, model="c") for i in range(2000)] + [b"{not json", b'{"x": 1}']
    out = engine.process(rest)
    assert out.models == {"a", "b", "c"}
    assert engine.process([event(T0 + 3000, model="a")]).models == {"a"}
