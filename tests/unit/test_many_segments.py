"""Thousands of segment values: incidents, tracks and gauges scale with breaches, not values.

One segment key, ``store``, with 3,000 values: a few large stores and a long tail of tiny
ones. One large store's decision rate collapses for three windows. The incident opens and
resolves for that store only; the incident manager holds tracks for breaching stores only;
the statistic gauges show the breaching store (and no stale breach after it resolves); the
per-monitor coverage says how many stores were judged and how many were too small.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from prometheus_client import generate_latest
from synth import T0

from driftline.config import Config
from driftline.engine import Engine

STORES = 3_000
WINDOW_S = 60.0
PER_WINDOW = 6_000
HOT = "store-0001"
MONITOR = {"name": "rate-by-store", "signal": "decision=yes", "detector": "segment_rate",
           "segment_by": "store"}


def events(window: int, rng: np.random.Generator, drop: bool, stores: int = STORES,
           ) -> list[bytes]:
    """A window of events: a third of the traffic in 4 stores, the rest over ``stores``."""
    big = rng.random(PER_WINDOW) < 1 / 3
    store = np.where(big, rng.integers(0, 4, PER_WINDOW), rng.integers(0, stores, PER_WINDOW))
    rate = np.where((store == 1) & big & drop, 0.1, 0.4)
    yes = rng.random(PER_WINDOW) < rate
    times = T0 + window * WINDOW_S + np.sort(rng.random(PER_WINDOW)) * WINDOW_S
    return [orjson.dumps({"model_id": "m", "timestamp": float(t), "features": {"x": 0.0},
                          "prediction": 0.5, "decision": "yes" if y else "no",
                          "segments": {"store": f"store-{s:04d}"}})
            for t, s, y in zip(times, store, yes, strict=True)]


def engine_over(windows: int, drop: range, **detection: Any) -> tuple[Engine, list[dict[str, Any]],
                                                                     list[int]]:
    engine = Engine(Config(monitors=[MONITOR], window={"size": "60s"},
                           limits={"segment_cardinality": STORES},
                           detection={"min_samples": 200, "min_reference": 200, **detection}))
    rng = np.random.default_rng(7)
    incidents: list[dict[str, Any]] = []
    tracks = []
    reference = [e for w in range(2) for e in events(w - 2, rng, False)]
    engine = Engine(engine.config, reference_events=reference)
    for w in range(windows):
        incidents += engine.process(events(w, rng, w in drop)).incidents
        tracks.append(len(engine.incidents.tracks))
    incidents += engine.finish().incidents
    return engine, incidents, tracks


def test_one_store_breaches_among_thousands_and_only_it_is_tracked_and_shown() -> None:
    engine, incidents, tracks = engine_over(11, range(3, 6))
    kinds = [(ev["type"].rsplit(".", 1)[1], ev["data"]["segment"]) for ev in incidents]
    assert kinds[0] == ("opened", {"store": HOT}), kinds
    assert {seg["store"] for _, seg in kinds} == {HOT}
    assert kinds[-1][0] == "resolved"
    assert max(tracks) <= 2 and tracks[-1] == 0, tracks  # never one track per store
    # gauges: a window after it resolved, no store of the monitor keeps a series (no stale
    # breach); the resolving window itself showed it at level 0
    series = engine.gauges.statistics[("rate-by-store", "m")]
    assert series == {}, series
    coverage = engine.gauges.coverage[("rate-by-store", "m")]
    assert coverage.judged == 4 and coverage.breaching == 0
    assert coverage.too_small > 2_000  # the long tail, counted, not hidden


def test_while_breaching_the_store_has_its_gauge_and_coverage_counts_it() -> None:
    engine, _, _ = engine_over(5, range(3, 6))
    series = engine.gauges.statistics[("rate-by-store", "m")]
    assert [labels[4] for labels in series] == [HOT]
    ((value, level, direction),) = series.values()
    assert value < -0.1 and level == 2 and direction == "both"
    coverage = engine.gauges.coverage[("rate-by-store", "m")]
    assert coverage.breaching == 1 and coverage.worst_q is not None and coverage.worst_q < 1e-6
    text = generate_latest(engine.metrics.registry).decode()
    assert 'driftline_segments{model="m",monitor="rate-by-store",state="breaching"} 1.0' in text
    assert 'driftline_segment_worst_q_value{model="m",monitor="rate-by-store"}' in text
    assert f'segment="{HOT}"' in text and 'segment="store-0002"' not in text.split(
        "driftline_statistic", 1)[1].split("# HELP", 1)[0]


def test_pending_hysteresis_is_followed_across_clean_and_small_windows() -> None:
    """open_after=2: the first breaching window leaves a pending track; the store's next
    window (breaching again) opens the incident — the pending track was followed."""
    _, incidents, tracks = engine_over(6, range(3, 5), open_after=2)
    opened = [ev for ev in incidents if ev["type"].endswith(".opened")]
    assert [ev["data"]["segment"] for ev in opened] == [{"store": HOT}]
    assert opened[0]["data"]["opened_window"]["start"].endswith("06:04:00.000Z")
    assert tracks[4:] == [1, 1], tracks  # window 3 closes during window 4: a pending track



def test_a_narrow_key_shows_every_segment_a_wide_one_only_what_breaches() -> None:
    """At most limits.metric_segment_cardinality values: a series per value (the dashboard's
    context, as before); more: only breaching and followed values — here none."""
    shown = {}
    for stores in (4, STORES):
        rng = np.random.default_rng(3)
        engine = Engine(Config(monitors=[MONITOR], window={"size": "60s"},
                               limits={"segment_cardinality": STORES},
                               detection={"min_samples": 200}),
                        reference_events=[e for w in range(2)
                                          for e in events(w - 2, rng, False, stores)])
        for w in range(3):
            engine.process(events(w, rng, False, stores))
        shown[stores] = {labels[4] for labels in engine.gauges.statistics[("rate-by-store", "m")]}
    assert shown == {4: {f"store-{s:04d}" for s in range(4)}, STORES: set()}
