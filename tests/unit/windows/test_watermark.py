"""The watermark: the median of recent event times, which a minority of clocks cannot drag.

Each test states a stream a real source produces (a host ahead, a stray year, a pause, a
slow model) and what the watermark must do with it; the batching never matters.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.windows.watermark import ANCHOR, BLOCK, FUTURE, QUANTILE, SAMPLE, Watermark

T0 = 1_770_962_400.0
DAY = 86_400.0


def advance_all(times: np.ndarray, batch: int,
                lateness: float = 30.0) -> tuple[Watermark, np.ndarray, np.ndarray]:
    """Feed ``times`` in batches of ``batch``; per event the future flag and mark before it."""
    wm = Watermark(lateness)
    future, before = [], []
    for i in range(0, times.size, batch):
        adv = wm.advance(times[i:i + batch])
        future.append(adv.future)
        before.append(adv.marks_before)
    return wm, np.concatenate(future), np.concatenate(before)


def steady(n: int, rate: float, seed: int = 0) -> np.ndarray:
    """A Poisson stream of ``n`` event times at ``rate`` per second."""
    return T0 + np.cumsum(np.random.default_rng(seed).exponential(1 / rate, n))


def test_one_event_an_hour_ahead_moves_nothing() -> None:
    """The watermark of a stream with one event 1 h ahead equals the clean stream's, event by
    event (with the maximum rule, it jumped an hour and half the stream became late)."""
    clean = steady(20_000, 20.0)
    skewed = clean.copy()
    skewed[5_000] += 3600
    _, _f_clean, b_clean = advance_all(clean, 1000)
    _, f_skew, b_skew = advance_all(skewed, 1000)
    assert not f_skew.any()
    # the one event replaced an honest one in the samples: at most one rank of difference
    assert np.array_equal(b_skew[:BLOCK], b_clean[:BLOCK])  # -inf until the first block
    assert np.abs(b_skew[BLOCK:] - b_clean[BLOCK:]).max() < 1.0


def test_a_host_ten_minutes_ahead_does_not_make_the_others_late() -> None:
    """10% of events from a clock 10 min ahead: no honest event is behind the watermark."""
    times = steady(20_000, 20.0)
    times[::10] += 600
    _, future, before = advance_all(times, 500)
    honest = np.ones(times.size, bool)
    honest[::10] = False
    assert not future.any()
    assert (times[honest] >= before[honest] + 30.0 - 60).all()  # well within the lateness
    assert (times[honest] > before[honest]).all()


@given(k=st.integers(3, 20), offset=st.floats(60, 23 * 3600), batch=st.integers(1, 3000))
@settings(max_examples=40, deadline=None)
def test_a_minority_ahead_never_pulls_the_watermark_past_the_honest_events(
        k: int, offset: float, batch: int) -> None:
    """With every k-th event ahead (k ≥ 3: under half of any sample), the mark never passes the
    newest honest event minus the lateness — whatever the offset and the batches."""
    times = steady(5_000, 5.0, seed=k)
    times[::k] += offset
    _, _, before = advance_all(times, batch)
    honest = np.ones(times.size, bool)
    honest[::k] = False
    newest = np.maximum.accumulate(np.where(honest, times, -np.inf))
    assert (before[1:] <= newest[:-1] - 30.0).all()


def test_stray_years_are_bad_timestamps_and_a_day_ahead_is_not() -> None:
    """An event a year ahead, or in 2099, is beyond the 24 h bound; 23 h ahead is windowed."""
    times = steady(3_000, 1.0)
    times[1_000] += 365 * DAY
    times[1_500] = 4_070_908_800.0  # 2099-01-01
    times[2_000] += 23 * 3600
    _, future, _ = advance_all(times, 256)
    assert np.flatnonzero(future).tolist() == [1_000, 1_500]


def test_a_slow_stream_is_never_ahead_of_itself() -> None:
    """At 150 events a day the median of 512 events is ~1.7 days old: no event is 'future'
    (an anchor at the frontier itself would have rejected every new event)."""
    times = steady(20_000, 150 / DAY)
    _, future, before = advance_all(times, 1000)
    assert not future.any()
    assert (times[BLOCK:] > before[BLOCK:]).all()


def test_a_stream_resuming_after_a_long_pause_is_accepted() -> None:
    """A three-day pause (a weekend, an outage upstream) loses at most 1% of a block."""
    times = steady(4_000, 0.5)
    times[2_010:] += 3 * DAY
    _, future, _ = advance_all(times, 100)
    assert future.sum() <= BLOCK // 100 + 1


def test_a_pause_that_ends_inside_a_block_loses_nothing_after_it() -> None:
    """Once a block holds the resumed stream, every later event is accepted."""
    times = steady(4_000, 0.5)
    times[2_000:] += 30 * DAY
    _, future, _ = advance_all(times, 100)
    assert not future[2_000 + BLOCK:].any()


@given(cuts=st.lists(st.integers(1, 2_999), max_size=20))
@settings(max_examples=30, deadline=None)
def test_batching_never_changes_a_decision(cuts: list[int]) -> None:
    """Future flags and marks are the same for any cut of the stream into batches."""
    times = steady(3_000, 2.0)
    times[::37] += 900
    times[500] += 10 * DAY
    whole = Watermark(30.0).advance(times)
    wm, edges = Watermark(30.0), [0, *sorted(set(cuts)), times.size]
    parts = [wm.advance(times[a:b]) for a, b in itertools.pairwise(edges) if b > a]
    assert np.array_equal(np.concatenate([p.future for p in parts]), whole.future)
    assert np.array_equal(np.concatenate([p.marks_before for p in parts]), whole.marks_before)
    assert wm.mark == whole.mark


@pytest.mark.parametrize("cut", [1, BLOCK - 1, BLOCK, 700, SAMPLE * 3 + 5])
def test_a_restored_watermark_continues_exactly(cut: int) -> None:
    """Snapshot mid-stream (mid-block too), restore, continue: the same as never stopping."""
    times = steady(3_000, 2.0)
    times[::9] += 400
    whole = Watermark(30.0).advance(times)
    first = Watermark(30.0)
    head = first.advance(times[:cut])
    second = Watermark(30.0)
    second.restore(first.snapshot())
    tail = second.advance(times[cut:])
    assert np.array_equal(np.concatenate([head.marks_before, tail.marks_before]),
                          whole.marks_before)
    assert np.array_equal(np.concatenate([head.future, tail.future]), whole.future)


def test_the_start_is_the_first_blocks_median() -> None:
    """One event two hours behind in the first block does not move where the stream starts."""
    times = steady(1_000, 20.0)
    times[3] -= 7200
    wm, _, _ = advance_all(times, 1000)
    assert wm.start is not None and abs(wm.start - np.median(times[:BLOCK])) < 1.0


def test_the_end_of_input_closes_at_the_bulk_not_at_a_stray() -> None:
    """``final`` is the bulk's end: a stray 20 h ahead is ignored."""
    times = steady(2_000, 1.0)
    times[-1] += 20 * 3600
    wm, _, _ = advance_all(times, 2000)
    assert times[-2] - 60 < wm.final() <= times[-2] + 20
    assert FUTURE == DAY


def test_an_input_that_ends_at_a_window_boundary_closes_its_last_window() -> None:
    """Events up to just before 60 000 s: the mark at the end passes 60 000 (the bulk's 99th
    percentile alone stays a few events short of it), and not by more than a few gaps."""
    times = steady(2_000, 1.0)
    times += 59_999.5 - times[-1]  # the last event half a gap before 60 000
    wm, _, _ = advance_all(times, 2000)
    assert float(np.quantile(wm.recent, 0.99, method="lower")) < 60_000.0 <= wm.final()
    assert wm.final() < 60_000.0 + 20


def block_by_block(wm: Watermark, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The definition, one block piece at a time (what ``advance`` computes for a batch at
    once): per event the future flag and the mark before it; ``wm`` is advanced."""
    future, before = np.zeros(times.size, bool), np.empty(times.size)
    i = 0
    while i < times.size:
        j = min(times.size, i + BLOCK - wm.seen % BLOCK)
        sample = np.concatenate([wm.recent, times[i:j]])
        future[i:j] = times[i:j] > np.quantile(sample, ANCHOR, method="lower") + wm.future_bound
        before[i:j] = wm.mark
        wm.recent, wm.seen = sample[-SAMPLE:], wm.seen + j - i
        if wm.seen % BLOCK == 0:
            wm.frontier = float(np.quantile(wm.recent, QUANTILE, method="lower"))
            wm.start = wm.frontier if wm.start is None else wm.start
            wm.mark = max(wm.mark, wm.frontier - wm.lateness)
        i = j
    return future, before


@given(cuts=st.lists(st.integers(1, 2_999), max_size=12), seed=st.integers(0, 2**32 - 1),
       rate=st.sampled_from([0.01, 2.0, 500.0]))
@settings(max_examples=40, deadline=None)
def test_a_batch_at_once_is_the_block_by_block_definition(cuts: list[int], seed: int,
                                                          rate: float) -> None:
    """Streams with strays ahead and behind, cut anywhere: the same flags, marks, frontier,
    start and sample as advancing one block piece at a time."""
    rng = np.random.default_rng(seed)
    times = steady(3_000, rate, seed)
    times[rng.integers(0, 3_000, 40)] += rng.choice([-3 * DAY, -600.0, 900.0, 2 * DAY, 1e9], 40)
    fast, slow = Watermark(30.0), Watermark(30.0)
    for a, b in itertools.pairwise([0, *sorted(set(cuts)), times.size]):
        adv = fast.advance(times[a:b])
        future, before = block_by_block(slow, times[a:b])
        assert np.array_equal(adv.future, future) and np.array_equal(adv.marks_before, before)
        assert (fast.mark, fast.frontier, fast.start, fast.seen) == \
            (slow.mark, slow.frontier, slow.start, slow.seen)
        assert np.array_equal(fast.recent, slow.recent)
