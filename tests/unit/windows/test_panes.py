"""Windows: panes merged into tumbling or hopping windows, closed by a watermark, late events named.

The property test drives ``Windows`` exactly as the engine does (late check, then panes,
then observe, then close) over random event times cut into random batches, and checks
it against a brute-force recomputation from the raw events: each event belongs to the
windows ``[start, end)`` that contain it, a window closes once the watermark passes its
end, and an event is late when every window containing it had closed before its batch.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synth import T0, event, per_window, record_findings, split, stream

from driftline.config import Config
from driftline.engine import Engine
from driftline.windows import Windows
from driftline.windows.frontier import MAX_FUTURE_SKEW


def feed(w: Windows, keys: list[float], final: bool = False) -> tuple[list[bool], dict[int, int]]:
    """One batch, as the engine feeds it: (late flags, {closed window index: event count})."""
    arr = np.asarray(keys, np.float64)
    panes = w.pane_ids(arr)
    late = w.late(panes) if arr.size else np.zeros(0, bool)
    accepted = arr[~late]
    for p in panes[~late]:
        w.pane(int(p)).count += 1
    if accepted.size:
        w.observe(float(accepted.max()))
    closed = {c.index: c.content.count for c in w.close_ready(final=final)}
    return late.tolist(), closed


def run(w: Windows, batches: list[list[float]]) -> tuple[list[bool], dict[int, int]]:
    late: list[bool] = []
    closed: dict[int, int] = {}
    for b in batches:
        lt, cl = feed(w, b)
        late += lt
        assert not set(cl) & set(closed), "a window closed twice"
        closed.update(cl)
    _, cl = feed(w, [], final=True)
    closed.update(cl)
    return late, closed


def brute_force(batches: list[list[int]], hop: int, k: int, lateness: int,
                ) -> tuple[list[bool], dict[int, int]]:
    """Late flags and closed-window counts, from the definitions alone (integer times)."""
    late: list[bool] = []
    accepted: list[int] = []
    closed: dict[int, int] = {}
    last_closed: int | None = None  # every window up to here has ended behind the watermark
    high = None  # max accepted event time

    def close_up_to(last: int) -> None:
        nonlocal last_closed
        first_pane = min(t // hop for t in accepted)
        windows = {t // hop + j for t in accepted for j in range(k)}  # windows with an event
        for e in sorted(windows):
            if (last_closed is None or e > last_closed) and e <= last and e - k + 1 >= first_pane:
                start, end = (e - k + 1) * hop, (e + 1) * hop
                closed[e] = sum(1 for t in accepted if start <= t < end)
        last_closed = last if last_closed is None else max(last_closed, last)

    for batch in batches:
        for t in batch:
            # late: every window containing t, the last being t//hop + k − 1, has closed
            is_late = last_closed is not None and t // hop + k - 1 <= last_closed
            late.append(is_late)
            if not is_late:
                accepted.append(t)
                high = t if high is None else max(high, t)
        if high is not None:
            close_up_to(math.floor((high - lateness) / hop) - 1)
    if high is not None:
        close_up_to(high // hop - 1)  # end of input: no lateness, the trailing window stays open
    return late, closed


# -- the property ------------------------------------------------------------------------------
@st.composite
def streams(draw: Any) -> tuple[list[list[int]], int, int, int]:
    hop = draw(st.integers(1, 30))
    k = draw(st.integers(1, 4))
    lateness = draw(st.integers(0, 60))
    times = draw(st.lists(st.integers(0, 600), min_size=1, max_size=120))
    cuts = draw(st.lists(st.integers(1, max(1, len(times) - 1)), max_size=12))
    return split(times, cuts), hop, k, lateness


@given(streams())
@settings(max_examples=400, deadline=None)
def test_windows_equal_a_brute_force_recomputation(case: tuple[list[list[int]], int, int, int],
                                                   ) -> None:
    """For random times and batch splits, window counts and late events match the definitions."""
    batches, hop, k, lateness = case
    late, closed = run(Windows(hop, k, lateness), [[float(t) for t in b] for b in batches])
    want_late, want_closed = brute_force(batches, hop, k, lateness)
    assert late == want_late
    assert closed == want_closed


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=200), st.integers(1, 50),
       st.integers(1, 3), st.lists(st.integers(1, 199), max_size=10))
@settings(max_examples=200, deadline=None)
def test_in_order_streams_lose_nothing_and_fill_every_window(times: list[int], hop: int, k: int,
                                                             cuts: list[int]) -> None:
    """Sorted times are never late, and each closed window holds every event in [start, end)."""
    times = sorted(times)
    late, closed = run(Windows(hop, k, 0), [[float(t) for t in b] for b in split(times, cuts)])
    assert not any(late)
    for e, count in closed.items():
        start, end = (e - k + 1) * hop, (e + 1) * hop
        assert count == sum(1 for t in times if start <= t < end)


# -- examples -----------------------------------------------------------------------------------
def test_tumbling_windows_close_when_the_watermark_passes_their_end() -> None:
    """Hop 10, no lateness: [0,10) closes once an event at ≥ 10 is seen; [10,20) stays open."""
    w = Windows(10, 1, 0)
    assert feed(w, [1, 5, 9]) == ([False] * 3, {})
    assert feed(w, [12]) == ([False], {0: 3})
    assert w.bounds(0) == (0, 10)
    assert feed(w, [15, 19]) == ([False, False], {})


def test_hopping_windows_overlap_and_skip_the_partial_first_ones() -> None:
    """Size 30 hop 10: window e covers [(e−2)·10, (e+1)·10); windows before the first pane are skipped."""
    w = Windows(10, 3, 0)
    _, closed = feed(w, [5, 15, 25, 35, 45, 55])
    assert closed == {2: 3, 3: 3, 4: 3}
    assert w.bounds(4) == (20, 50)


def test_out_of_order_within_lateness_is_accepted() -> None:
    """An event behind the max time but not behind the watermark joins its still-open window."""
    w = Windows(10, 1, 5)
    feed(w, [2, 12])  # watermark 7: [0,10) still open
    late, closed = feed(w, [8])
    assert late == [False]
    _, closed = feed(w, [16])  # watermark 11: [0,10) closes with 2 and the out-of-order 8
    assert closed == {0: 2}


def test_beyond_lateness_is_late() -> None:
    """An event whose every window has closed is flagged late and counted nowhere."""
    w = Windows(10, 1, 5)
    feed(w, [2, 16])  # watermark 11: [0,10) closed
    late, _ = feed(w, [9, 10])
    assert late == [True, False]
    _, closed = feed(w, [31])  # watermark 26: [10,20) closes with 16 and 10, not 9
    assert closed == {1: 2}


def test_hopping_event_in_a_partly_closed_range_counts_in_its_open_windows() -> None:
    """With overlapping windows an event is late only when its last window has closed."""
    w = Windows(10, 2, 0)
    feed(w, [1, 11, 21])  # closes window 1 = [0, 20)
    late, _ = feed(w, [12, 5])
    assert late == [False, True]
    _, closed = feed(w, [30])
    assert closed == {2: 3}  # [10, 30): 11, 21 and the out-of-order 12


def test_gaps_close_no_empty_windows() -> None:
    """A jump over empty windows produces no evaluation for them (and does not iterate over them)."""
    w = Windows(1, 1, 0)
    feed(w, [0.5])
    _, closed = feed(w, [1e9])  # ~31 years of empty one-second windows
    assert closed == {0: 1}
    assert w.last_closed == 1e9 - 1


def test_windows_snapshot_round_trips_through_json() -> None:
    """A JSON round trip of the panes and watermark gives a Windows that closes the same windows."""
    a = Windows(10, 2, 5)
    feed(a, [1, 3, 14, 22])
    b = Windows.restore(json.loads(json.dumps(a.snapshot())))
    assert feed(a, [8, 27, 44]) == feed(b, [8, 27, 44])


def test_invalid_window_shapes_are_rejected() -> None:
    """A non-positive hop, fewer than one pane or a negative lateness are refused at construction."""
    for args in ((0, 1, 0), (10, 0, 0), (10, 1, -1)):
        with pytest.raises(ValueError):
            Windows(*args)


# -- through the engine ------------------------------------------------------------------------------
def engine(lateness: str = "10s") -> Engine:
    cfg = Config(window={"size": "60s", "lateness": lateness}, detection={"min_samples": 20},
                 monitors=[{"name": "psi-x", "signal": "feature:x", "detector": "psi"}])
    return Engine(cfg)


def accounted(e: Engine) -> bool:
    """Every read event is valid or dead-lettered once (overflow rows are valid and reported)."""
    t = e.totals
    invalid = sum(n for r, n in t.invalid.items() if r != "cardinality_overflow")
    return t.read == t.valid + invalid


def test_the_engine_dead_letters_late_events_and_counts_them() -> None:
    """Events behind the watermark become 'late' dead letters with their bytes; totals.late counts them."""
    e = engine()
    e.process(stream(per_window(3, 50)))  # warm-up window 0, then windows 1 and 2
    stale = [event(T0 + 5), event(T0 + 61)]
    out = e.process(stale, np.array([900, 901]))
    assert [(d.reason, d.raw, d.position) for d in out.dead_letters] == \
        [("late", stale[0], 900), ("late", stale[1], 901)]
    assert e.totals.late == 2
    assert e.totals.invalid["late"] == 2
    assert accounted(e)


def test_the_engine_accepts_out_of_order_events_within_lateness() -> None:
    """An event a few seconds behind the newest, inside the lateness, is counted in its window."""
    e = engine()
    findings = record_findings(e)
    times = per_window(3, 50)
    e.process(stream(times[:100]))  # max T0+119.4, watermark T0+109.4: [60, 120) open
    e.process([event(T0 + 112)])
    e.process(stream(times[100:]))
    e.finish()
    assert e.totals.late == 0
    counts = {f.window.start: f.evaluation.n_current for f in findings}
    assert counts == {T0 + 60: 51}
    assert accounted(e)


def test_the_engine_evaluates_no_window_for_a_gap() -> None:
    """Windows with no events between two busy ones are never evaluated."""
    e = engine()
    findings = record_findings(e)
    times = per_window(3, 50) + per_window(2, 50, start=T0 + 600)
    e.process(stream(times))
    e.finish()
    starts = sorted({f.window.start - T0 for f in findings})
    assert starts == [60, 120, 600]


def test_a_far_future_timestamp_is_a_bad_timestamp_and_does_not_move_the_watermark() -> None:
    """An event more than MAX_FUTURE_SKEW ahead is dead-lettered; the stream goes on unharmed."""
    e = engine()
    times = per_window(4, 50)
    e.process(stream(times[:100]))
    hostile = event(T0 + 120 + MAX_FUTURE_SKEW + 3600)
    far = event(T0 + 1e9)
    out = e.process([hostile, *stream(times[100:150]), far], np.arange(100, 152))
    assert [(d.reason, d.position) for d in out.dead_letters] == \
        [("bad_timestamp", 100), ("bad_timestamp", 151)]
    assert e.windows is not None and e.windows.max_key < T0 + 240
    out = e.process(stream(times[150:]))
    assert out.dead_letters == []
    assert e.totals.late == 0
    assert accounted(e)


def test_a_gap_of_more_than_a_day_does_not_stop_the_stream() -> None:
    """After two days without events (a model offline), the stream's events are evaluated again."""
    e = engine()
    findings = record_findings(e)
    for times in (per_window(5, 50), per_window(5, 50, start=T0 + 2 * 86400)):
        for b in split(stream(times), range(50, len(times), 50)):
            e.process(b)
    e.finish()
    assert e.totals.invalid == {}
    assert any(f.window.start > T0 + 86400 for f in findings)


def test_a_low_rate_replay_keeps_every_event() -> None:
    """One event every 30 s read 10,000 at a time (3.5 days per batch) loses no event."""
    cfg = Config(window={"size": "6h"}, detection={"min_samples": 20},
                 monitors=[{"name": "psi-x", "signal": "feature:x", "detector": "psi"}])
    e = Engine(cfg)
    messages = stream([T0 + 30 * i for i in range(20_000)])
    for b in split(messages, [10_000]):
        e.process(b)
    e.finish()
    assert e.totals.invalid == {}


def test_an_absurdly_old_timestamp_cannot_become_the_reference() -> None:
    """One event stamped 1970 in the first batch does not displace the warm-up's reference."""
    e = engine()
    times = per_window(4, 50)
    e.process([event(1.0), *stream(times[:100])])
    e.process(stream(times[100:]))
    e.finish()
    assert e.reference is not None and e.reference.n_events >= 50
