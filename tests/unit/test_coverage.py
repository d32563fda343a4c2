"""Coverage: every blind spot ends in a coverage incident, a warning or an exit — never silence."""

from __future__ import annotations

from typing import Any

import numpy as np
from synth import T0, per_window, record_findings, run_engine, stream

from driftline.cli.summary import summarize
from driftline.config import load_config
from driftline.coverage import BLIND_MONITOR, MODEL_MONITOR
from driftline.engine import Engine

WINDOW = 60.0
N = 1_000  # events per window: 250 per region, above the default min_samples (200)


def engine(**kw: Any) -> Engine:
    return Engine(load_config(None), window="1m", **kw)


def opened(events: list[dict[str, Any]], monitor: str | None = None) -> list[dict[str, Any]]:
    return [e for e in events if e["type"].endswith(".opened")
            and (monitor is None or e["data"]["monitor"] == monitor)]


def window_index(e: dict[str, Any]) -> int:
    from driftline.timestamps import parse_rfc3339

    end = parse_rfc3339(e["data"]["window"]["end"])
    assert end is not None
    return round((end - T0) / WINDOW) - 1


def renamed(messages: list[bytes], model: str) -> list[bytes]:
    return [m.replace(b'"model_id":"m"', f'"model_id":"{model}"'.encode()) for m in messages]


def test_a_clean_stream_raises_no_coverage_incident_and_every_monitor_is_evaluated() -> None:
    e = engine()
    events = run_engine(e, [stream(per_window(12, N), seed=1)])
    assert not [ev for ev in events if ev["data"]["detector"] == "coverage"]
    cov = summarize(e, 1.0)["coverage"]
    assert cov["monitors"] and all(row["evaluated"] == 11 and row["blind_windows_now"] == 0
                                   for row in cov["monitors"].values())
    assert cov["models_without_reference"] == {}


def test_a_reference_of_another_model_opens_coverage_incidents_not_silence() -> None:
    """Reference of model m, events of model n: m's monitors see no event (one incident for m,
    naming them, after ``coverage_after`` windows) and n's events are counted, not compared."""
    ref = engine()
    run_engine(ref, [stream(per_window(2, N), seed=2)])
    assert ref.reference is not None
    e = engine(reference=ref.reference)
    events = run_engine(e, [renamed(stream(per_window(8, N, start=T0 + 600), seed=3), "n")])
    blind, unref = opened(events, BLIND_MONITOR), opened(events, MODEL_MONITOR)
    assert [b["data"]["model_id"] for b in blind] == ["m"]
    details = blind[0]["data"]["evidence"]["details"]
    assert details["monitors"] and {d["outcome"] for d in details["monitors"].values()} == \
        {"no_events"}
    assert blind[0]["data"]["value"] == len(details["monitors"])
    assert [u["data"]["model_id"] for u in unref] == ["n"]
    assert unref[0]["data"]["counts"]["current"] > 0
    assert not [ev for ev in events if ev["data"]["detector"] != "coverage"]
    assert summarize(e, 1.0)["coverage"]["models_without_reference"]["n"] == 8 * N


def test_a_model_first_seen_after_the_warm_up_is_reported_while_the_other_is_watched() -> None:
    first = stream(per_window(10, N), seed=4)
    late_model = renamed(stream(per_window(5, 100, start=T0 + 5 * WINDOW), seed=5), "n")
    merged = sorted(first + late_model, key=lambda m: float(m.split(b'"timestamp":')[1]
                                                            .split(b",")[0]))
    events = run_engine(engine(), [merged])
    out = opened(events, MODEL_MONITOR)
    assert [o["data"]["model_id"] for o in out] == ["n"]
    # its first events arrive while window 4 is still open (the watermark trails the
    # newest events): the first window to close after them reports it
    assert window_index(out[0]) in (4, 5)
    assert not opened(events, BLIND_MONITOR)


def test_windows_too_small_open_after_coverage_after_windows_and_resolve_when_filled() -> None:
    """Windows 1–5 hold 50 events (< min_samples 200): blind from window 1, the incident opens
    at window 3 (coverage_after 3) and resolves three full windows after the rate returns."""
    times = per_window(1, N) + per_window(5, 50, start=T0 + WINDOW) + \
        per_window(6, N, start=T0 + 6 * WINDOW)
    e = engine()
    events = run_engine(e, [stream(times, seed=6)])
    cov = [ev for ev in events if ev["data"]["monitor"] == BLIND_MONITOR]
    kinds = [(ev["type"].rsplit(".", 1)[1], window_index(ev)) for ev in cov]
    assert kinds[0] == ("opened", 3)
    assert kinds[-1] == ("resolved", 8)  # windows 6, 7, 8 evaluated
    monitors = cov[0]["data"]["evidence"]["details"]["monitors"]
    assert {d["outcome"] for d in monitors.values()} == {"insufficient"}
    whole = {k: d for k, d in monitors.items() if "by-region" not in k}
    assert whole and all(d["n_current"] == 50 and d["min_samples"] == 200
                         for d in whole.values())
    assert monitors["rate-standard-by-region"]["tests_too_small"] == 4  # each region


def test_a_blind_regulatory_monitor_is_a_serious_incident() -> None:
    """Triage weighs the impact class of the blind monitors: regulatory → high, internal → low."""
    def severity(impact: str) -> str:
        cfg = load_config(None).model_copy(deep=True)
        cfg = cfg.model_validate({**cfg.model_dump(), "monitors": [
            {"name": "x-psi", "signal": "feature:x", "detector": "psi", "impact": impact}]})
        times = per_window(1, N) + per_window(5, 20, start=T0 + WINDOW)
        e = Engine(cfg, window="1m")
        events = run_engine(e, [stream(times, seed=7)])
        return opened(events, BLIND_MONITOR)[0]["data"]["severity"]

    assert (severity("internal"), severity("regulatory")) == ("low", "high")


def test_coverage_survives_a_restart_exactly() -> None:
    """Blind streaks are in the checkpoint: a restart mid-blindness opens the same incident."""
    times = per_window(1, N) + per_window(6, 50, start=T0 + WINDOW)
    messages = stream(times, seed=8)
    whole = run_engine(engine(), [messages])
    a = engine()
    cut = N + 2 * 50 + 10
    first = a.process(messages[:cut], np.arange(cut)).incidents
    b = engine()
    b.restore(a.snapshot())
    rest = b.process(messages[cut:], np.arange(cut, len(messages))).incidents
    rest += b.finish().incidents
    assert [ev["id"] for ev in first + rest] == [ev["id"] for ev in whole]
    assert opened(whole, BLIND_MONITOR)


def test_coverage_findings_are_recorded_apart_from_drift_findings() -> None:
    e = engine()
    cov = record_findings(e, coverage=True)
    run_engine(e, [stream(per_window(4, N), seed=9)])
    assert cov and {f.evaluation.detector for f in cov} == {"coverage"}
    assert all(f.level == 0 for f in cov)
