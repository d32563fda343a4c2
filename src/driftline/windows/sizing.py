"""The ``auto`` window: a size that holds about the target number of events at the stream's rate."""

from __future__ import annotations

import math

import numpy as np

from driftline.config import WindowSpec

NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                43200, 86400)


def auto_window(timestamps: np.ndarray, target_events: int) -> WindowSpec:
    """A window holding about ``target_events`` at the observed rate, rounded to a nice size."""
    ts = timestamps[np.isfinite(timestamps)]
    span = float(ts.max() - ts.min()) if ts.size > 1 else 0.0
    if span <= 0:
        return WindowSpec(kind="count", size=float(target_events))
    seconds = target_events * span / (ts.size - 1)
    nice = min(NICE_SECONDS, key=lambda s: abs(math.log(s / seconds)))
    return WindowSpec(kind="time", size=float(nice))
