"""The ``auto`` window: target events at a rate read from the middle half of the first events."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.windows import NICE_SECONDS, auto_window
from driftline.windows.sizing import event_rate

T0 = 1_770_962_400.0
DAY = 86_400.0
WIDEST = math.sqrt(2.5) * (1 + 1e-9)  # 2 s → 5 s is the widest step of NICE_SECONDS


@given(rate=st.floats(1e-4, 1000), target=st.integers(100, 50_000), n=st.integers(50, 1000),
       start=st.floats(1e9, 2e9))
@settings(max_examples=200, deadline=None)
def test_auto_window_holds_about_the_target_number_of_events(rate: float, target: int, n: int,
                                                             start: float) -> None:
    """'auto' picks the nice duration nearest (in ratio) to target events at the observed rate."""
    ts = start + np.arange(n) / rate
    spec = auto_window(ts, target)
    assert spec.kind == "time" and spec.size in NICE_SECONDS
    ideal = target / rate
    if NICE_SECONDS[0] <= ideal <= NICE_SECONDS[-1]:
        assert 1 / WIDEST <= spec.size * rate / target <= WIDEST
    best = min(NICE_SECONDS, key=lambda s: abs(math.log(s / ideal)))
    assert math.isclose(math.log(spec.size / ideal), math.log(best / ideal), abs_tol=1e-6)


@given(outliers=st.lists(st.floats(-3e8, 3e8), max_size=240), seed=st.integers(0, 99))
@settings(max_examples=100, deadline=None)
def test_strays_outside_the_middle_half_do_not_change_the_rate(outliers: list[float],
                                                               seed: int) -> None:
    """Up to 24% of the sample anywhere in ±10 years (a 1970-ish default, a 2099, a host hours
    off) leave the estimate within 25% of the true rate, as long as they are strays."""
    rng = np.random.default_rng(seed)
    bulk = T0 + np.cumsum(rng.exponential(1 / 20.0, 1000 - len(outliers)))
    far = bulk[0] + np.asarray(outliers) + np.sign(np.asarray(outliers) + 0.5) * 3600
    rate = event_rate(np.concatenate([bulk, far]))
    assert rate is not None and 0.75 * 20 <= rate <= 1.33 * 20


def test_the_rules_that_went_wrong_before() -> None:
    """The first-batch strays of the time issue: an event 2 h behind kept 1 h windows, a 1970
    stamp made them a day; both now keep the stream's own 5 minutes (20 events/s)."""
    times = T0 + np.arange(1000) / 20.0
    for stray in (times[0] - 7200, 0.0, times[0] + 365 * DAY):
        ts = times.copy()
        ts[5] = stray
        assert auto_window(ts, 5000).size == 300.0


def test_a_slow_stream_gets_weeks_not_a_starving_day() -> None:
    """150 events a day: 5,000 events take 33 days, and the window is 28 days (was: 1 day)."""
    times = T0 + np.cumsum(np.random.default_rng(3).exponential(DAY / 150, 1000))
    assert auto_window(times, 5000).size == 28 * DAY


def test_auto_window_without_a_time_span_counts_events() -> None:
    """Events that mostly share one timestamp (or a single event) get a count window."""
    one_time = np.concatenate([np.full(100, T0), [T0 + 3600]])
    for ts in (np.full(100, T0), np.array([T0]), np.array([T0, np.nan, np.inf]), one_time):
        spec = auto_window(ts, 5000)
        assert (spec.kind, spec.size) == ("count", 5000.0)
