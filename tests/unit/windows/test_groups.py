"""Monitors with their own window run in their own window group, beside the global one."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from driftline.config import load_config
from driftline.demo import Scenario, stream
from driftline.engine import Engine
from driftline.errors import ConfigError

SCENARIO = Scenario(windows=24, warmup=4, region_start=8, region_ramp=2, region_end=18,
                    unit_start=30, unit_end=31, creep_start=40)


def _config(**window: object) -> object:
    monitors = [
        {"name": "rate-30m", "signal": "decision=prioritize", "detector": "segment_rate",
         "segment_by": "region", "window": window or None},
        {"name": "psi-weight", "signal": "feature:parcel_weight", "detector": "psi"},
    ]
    return load_config(None, **{"monitors": monitors, "window.size": "5m",
                                "reference.warmup_windows": 4})


def _run(engine: Engine, cut_at: set[int] | None = None) -> tuple[list[dict], Engine]:
    events: list[dict] = []
    for w, messages in stream(3, SCENARIO):
        events += engine.process(messages).incidents
        if cut_at and w in cut_at:
            state = json.dumps(engine.snapshot())
            engine = Engine(engine.config)
            engine.restore(json.loads(state))
    events += engine.finish().incidents
    return events, engine


def _minutes(window: dict) -> float:
    start = datetime.fromisoformat(window["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(window["end"].replace("Z", "+00:00"))
    return (end - start).total_seconds() / 60


def test_a_monitor_window_is_evaluated_on_its_own_size_and_hop() -> None:
    """A 30-minute window hopping by 10 minutes is judged on its own panes, beside 5-minute ones."""
    events, engine = _run(Engine(_config(size="30m", hop="10m")))
    assert set(engine.groups) == {"default", "30m/10m"}
    assert [m.name for m in engine.groups["30m/10m"].monitors] == ["rate-30m"]
    slow = [e for e in events if e["data"]["monitor"] == "rate-30m"]
    assert slow, "the south region's drop must be seen by the 30-minute monitor"
    assert {_minutes(e["data"]["window"]) for e in slow} == {30.0}
    assert all(e["data"]["segment"] == {"region": "south"} for e in slow)
    # the default group still closes 5-minute windows for the other monitor
    default_closed = engine.metrics.registry.get_sample_value(
        "driftline_windows_closed_total", {"monitor": "psi-weight"})
    hourly_closed = engine.metrics.registry.get_sample_value(
        "driftline_windows_closed_total", {"monitor": "rate-30m"})
    assert default_closed is not None and hourly_closed is not None
    assert default_closed > 1.5 * hourly_closed


def test_window_groups_survive_a_checkpoint() -> None:
    """Snapshot and restore in the middle of a stream keep every group's panes and watermark."""
    straight, _ = _run(Engine(_config(size="30m", hop="10m")))
    restored, _ = _run(Engine(_config(size="30m", hop="10m")), cut_at={2, 5, 9, 13})
    assert restored == straight


def test_a_monitor_window_of_another_kind_is_rejected() -> None:
    """Count windows cannot be mixed with the global event-time window."""
    with pytest.raises(ConfigError, match="same kind"):
        _run(Engine(_config(size=5000)))
