"""Windows: panes merged into tumbling or hopping windows, closed by the watermark, late events named.

``Windows`` is given the watermark (the clock decides it, test_watermark.py): the property test
drives a clock and windows exactly as the engine does — keys and marks from the clock, late
check, panes, observe, close — over random event times cut into random batches, and checks
the result against a recomputation from the definitions, event by event: each event belongs
to the windows ``[start, end)`` that contain it, a window closes once the watermark passes its
end, and an event is late when every window containing it had closed when it arrived.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from synth import split

from driftline.windows import Windows
from driftline.windows.clock import Clock, segments
from driftline.windows.watermark import BLOCK, FINAL_QUANTILE, FINAL_SLACK, QUANTILE, SAMPLE


def feed(w: Windows, keys: list[float], marks_before: list[float] | None = None,
         mark: float | None = None) -> tuple[list[bool], dict[int, int]]:
    """One batch with explicit marks: (late flags, {closed window index: event count})."""
    arr = np.asarray(keys, np.float64)
    before = np.asarray(marks_before if marks_before is not None else [w.mark] * arr.size)
    late = w.late(w.pane_ids(arr), before) if arr.size else np.zeros(0, bool)
    for p in w.pane_ids(arr[~late]):
        w.pane(int(p)).facts_of("m").count += 1
    w.observe(mark if mark is not None else (float(arr.max()) if arr.size else w.mark))
    return late.tolist(), {c.index: c.content.count for c in w.close_ready()}


def run(hop: int, k: int, lateness: int, batches: list[list[float]]
        ) -> tuple[list[bool], dict[int, int]]:
    """A clock and windows as the engine drives them, batch by batch, then the end of input."""
    w, clock = Windows(hop, k), Clock("time", float(lateness))
    late: list[bool] = []
    closed: dict[int, int] = {}
    for b in batches:
        tick = clock.tick(np.asarray(b, np.float64))
        for start, end, mark in segments(tick.marks_before, tick.mark, [float(hop)]):
            lt, cl = feed(w, b[start:end], tick.marks_before[start:end].tolist(), mark)
            late += lt
            assert not set(cl) & set(closed), "a window closed twice"
            closed.update(cl)
    w.observe(clock.final())
    closed.update({c.index: c.content.count for c in w.close_ready()})
    return late, closed


def lower(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[math.floor(q * (len(ordered) - 1))])


def definitions(times: list[int], hop: int, k: int, lateness: int
                ) -> tuple[list[bool], dict[int, int]]:
    """Late flags and closed-window counts from the definitions, one event at a time."""
    late: list[bool] = []
    accepted: list[int] = []
    recent: list[int] = []
    mark = -math.inf
    closed: dict[int, int] = {}
    settled = [-math.inf]  # every window up to this index has closed, empty ones too

    def close(through: float) -> None:  # every window ending at or before the mark, as it is now
        if not accepted or not math.isfinite(through):
            return
        first_pane = min(t // hop for t in accepted)
        last = math.floor(through / hop) - 1
        for e in sorted({t // hop + j for t in accepted for j in range(k)}):
            if settled[0] < e <= last and e - k + 1 >= first_pane:
                start, end = (e - k + 1) * hop, (e + 1) * hop
                closed[e] = sum(1 for t in accepted if start <= t < end)
        settled[0] = max(settled[0], last)

    for i, t in enumerate(times):
        closed_through = math.floor(mark / hop) - 1 if math.isfinite(mark) else -math.inf
        is_late = t // hop + k - 1 <= closed_through
        late.append(is_late)
        if not is_late:
            accepted.append(t)
        recent = [*recent, t][-SAMPLE:]  # far-future is impossible at these times
        if (i + 1) % BLOCK == 0:
            mark = max(mark, lower(recent, QUANTILE) - lateness)
            close(mark)
    if recent:
        high = lower(recent, FINAL_QUANTILE)
        span = lower(recent, QUANTILE) - lower(recent, 1 - FINAL_QUANTILE)
        close(max(mark, high + FINAL_SLACK * span))
    else:
        close(mark)
    return late, closed


# -- the property ------------------------------------------------------------------------------
@st.composite
def streams(draw: Any) -> tuple[list[int], list[int], int, int, int]:
    hop = draw(st.integers(1, 30))
    k = draw(st.integers(1, 4))
    lateness = draw(st.integers(0, 60))
    n = draw(st.integers(1, 400))
    # mostly in order, some disorder, a few far behind or ahead
    base = sorted(draw(st.lists(st.integers(0, 2000), min_size=n, max_size=n)))
    jitter = draw(st.lists(st.integers(-80, 80), min_size=n, max_size=n))
    times = [max(0, b + j) for b, j in zip(base, jitter, strict=True)]
    cuts = draw(st.lists(st.integers(1, max(1, n - 1)), max_size=12))
    return times, cuts, hop, k, lateness


# a window the mark passed while it was empty stays closed: the straggler at 5 joins window 6
# only (hypothesis found the definitions closing window 5 for it at the end)
STRAGGLER = ([0] * 94 + [6] + [20] * 25 + [48] + [6] * 22 + [7, 14, 17, 18, 19] + [20] * 61 + [5],
             [], 1, 2, 0)


@given(streams())
@example(STRAGGLER)
@settings(max_examples=300, deadline=None)
def test_windows_equal_a_recomputation_from_the_definitions(
        case: tuple[list[int], list[int], int, int, int]) -> None:
    """For random times and batch splits, window counts and late events match the definitions."""
    times, cuts, hop, k, lateness = case
    batches = [[float(t) for t in b] for b in split(times, cuts)]
    assert run(hop, k, lateness, batches) == definitions(times, hop, k, lateness)


@given(streams(), st.lists(st.integers(1, 399), max_size=12))
@settings(max_examples=150, deadline=None)
def test_batching_never_changes_a_verdict(case: tuple[list[int], list[int], int, int, int],
                                          other_cuts: list[int]) -> None:
    """The same events cut into other batches: the same late events, the same windows."""
    times, cuts, hop, k, lateness = case
    one = run(hop, k, lateness, [[float(t) for t in b] for b in split(times, cuts)])
    two = run(hop, k, lateness, [[float(t) for t in b] for b in split(times, other_cuts)])
    assert one == two


# -- examples (explicit marks) -------------------------------------------------------------------
def test_tumbling_windows_close_when_the_watermark_passes_their_end() -> None:
    """Hop 10: [0,10) closes once the mark reaches 10; [10,20) stays open."""
    w = Windows(10, 1)
    assert feed(w, [1, 5, 9], mark=9.0) == ([False] * 3, {})
    assert feed(w, [12], mark=12.0) == ([False], {0: 3})
    assert w.bounds(0) == (0, 10)
    assert feed(w, [15, 19], mark=19.0) == ([False, False], {})


def test_hopping_windows_overlap_and_skip_the_partial_first_ones() -> None:
    """Size 30 hop 10: window e covers [(e−2)·10, (e+1)·10); windows before the first pane are skipped."""
    w = Windows(10, 3)
    _, closed = feed(w, [5, 15, 25, 35, 45, 55], mark=55.0)
    assert closed == {2: 3, 3: 3, 4: 3}
    assert w.bounds(4) == (20, 50)


def test_an_event_is_late_only_against_the_mark_in_force_when_it_came() -> None:
    """Within one batch: before the mark passed 10 an event at 9 joins [0,10); after, it is late."""
    w = Windows(10, 1)
    late, closed = feed(w, [2, 9, 12, 9], marks_before=[-math.inf, 0.0, 5.0, 11.0], mark=11.0)
    assert late == [False, False, False, True]
    assert closed == {0: 2}


def test_hopping_event_in_a_partly_closed_range_counts_in_its_open_windows() -> None:
    """With overlapping windows an event is late only when its last window has closed."""
    w = Windows(10, 2)
    feed(w, [1, 11, 21], mark=20.0)  # closes window 1 = [0, 20)
    late, _ = feed(w, [12, 5], mark=20.0)
    assert late == [False, True]
    _, closed = feed(w, [30], mark=30.0)
    assert closed == {2: 3}  # [10, 30): 11, 21 and the out-of-order 12


def test_gaps_close_no_empty_windows() -> None:
    """A jump over empty windows produces no evaluation for them (and does not iterate over them)."""
    w = Windows(1, 1)
    feed(w, [0.5], mark=0.5)
    _, closed = feed(w, [1e9], mark=1e9)  # ~31 years of empty one-second windows
    assert closed == {0: 1}
    assert w.last_closed == 1e9 - 1


def test_windows_snapshot_round_trips_through_json() -> None:
    """A JSON round trip of the panes and watermark gives a Windows that closes the same windows."""
    a = Windows(10, 2)
    feed(a, [1, 3, 14, 22], mark=17.0)
    b = Windows.restore(json.loads(json.dumps(a.snapshot())))
    assert feed(a, [8, 27, 44], mark=39.0) == feed(b, [8, 27, 44], mark=39.0)


def test_invalid_window_shapes_are_rejected() -> None:
    """A non-positive hop or fewer than one pane are refused at construction."""
    for args in ((0, 1), (10, 0)):
        with pytest.raises(ValueError):
            Windows(*args)
