"""The stream's frontier in event time, and the events too far ahead of it to be believed.

The frontier is the 99th percentile of the recent event times (accepted or not)
and the batch's: one absurd timestamp is rejected instead of dragging the
watermark (and so closing every window) into the future, while a stream that
resumes after a long gap is accepted again after ~1% of the recent sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline.state import FrontierState, validated

MAX_FUTURE_SKEW = 86400.0  # an event this far ahead of the stream is a bad timestamp
RECENT_TIMES = 1000  # event times kept to anchor the far-future check


class Frontier:
    """Recent event times, and which new ones lie more than ``MAX_FUTURE_SKEW`` ahead."""

    def __init__(self) -> None:
        self.recent = np.empty(0, np.float64)

    def future(self, times: np.ndarray) -> np.ndarray:
        """Mask of ``times`` too far ahead of the stream; remembers them all."""
        recent = np.concatenate([self.recent, times])
        anchor = float(np.quantile(recent, 0.99, method="lower"))
        self.recent = recent[-RECENT_TIMES:]
        mask: np.ndarray = times > anchor + MAX_FUTURE_SKEW
        return mask

    def snapshot(self) -> dict[str, Any]:
        return {"recent": self.recent.tolist()}

    def restore(self, snap: dict[str, Any]) -> None:
        self.recent = np.asarray(validated(FrontierState, snap, "frontier").recent, np.float64)
