"""The ``auto`` window: a duration that holds about ``target_events`` at the stream's rate.

**The rate** is read from the first ``RATE_SAMPLE`` (1,000) valid events (the engine's
prelude, so ``run`` and ``replay`` read the same events): sorted, the events between the
sample's 25th and 75th percentile times, divided by the time between them. A few stray
clocks — an event a year ahead, one from 2001, a host ten minutes off — sit outside that
middle half and change nothing; a burst of identical timestamps has no span and gives a
count window instead.

**The target** (``window.target_events``, 5,000) is what a window needs for the rate
monitors to see the changes they exist for. A segment's rate tested against a reference
known far better than one window (many windows of warm-up, or a profile) is a one-sample
test of a proportion; finding a change of δ = 0.05 from p = 0.5 at α = 0.01 (the default
``fdr_alpha``, two-sided) with power 0.8 needs

    n = ((z₀.₉₉₅·√(p(1−p)) + z₀.₈·√(p′(1−p′))) / δ)² = ((2.576·0.5 + 0.842·0.497) / 0.05)² ≈ 1,165

events of that segment; a segment with a quarter of the traffic reaches that in ≈ 4,660 —
so 5,000. The same window lets KS see a shift of 0.1 sd (its 1% critical distance at
n = 5,000 is 0.023, a 0.1-sd shift of a normal moves the CDF by 0.04).

**The duration** is ``target / rate`` rounded, in ratio, to the nearest of ``NICE_SECONDS``
— one second to 364 days, with no cap that would starve a slow stream: at 150 events a day
a window is 28 days.
"""

from __future__ import annotations

import math

import numpy as np

from driftline.config import WindowSpec

DAY = 86400
NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                43200, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 56 * DAY, 91 * DAY,
                182 * DAY, 364 * DAY)


def event_rate(timestamps: np.ndarray) -> float | None:
    """Events per second over the middle half of the sample's times (None: no time span)."""
    ts = np.sort(timestamps[np.isfinite(timestamps)])
    if ts.size < 2:
        return None
    lo, hi = int(np.floor(0.25 * (ts.size - 1))), int(np.ceil(0.75 * (ts.size - 1)))
    span = float(ts[hi] - ts[lo])
    return (hi - lo) / span if span > 0 else None


def window_for(rate: float | None, target_events: int) -> WindowSpec:
    """The nice duration nearest (in ratio) to ``target_events`` at ``rate`` per second; a
    count window of the target when there is no rate."""
    if rate is None:
        return WindowSpec(kind="count", size=float(target_events))
    seconds = target_events / rate
    nice = min(NICE_SECONDS, key=lambda s: abs(math.log(s / seconds)))
    return WindowSpec(kind="time", size=float(nice))


def auto_window(timestamps: np.ndarray, target_events: int) -> WindowSpec:
    """A window holding about ``target_events`` at the rate of ``timestamps``."""
    return window_for(event_rate(timestamps), target_events)
