"""The window key of each event and how far the stream has got: event time or event count.

For time windows the key is the event time and progress is the robust watermark
(``watermark.py``); for count windows the key is the running index of valid events and
progress is the count itself (nothing is ever late, nothing is ahead).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.config import WindowConfig, WindowSpec, parse_duration
from driftline.errors import StateError
from driftline.state import Count, State, validated
from driftline.windows.watermark import FUTURE, Watermark


class ClockState(State):
    kind: str
    count: Count
    watermark: dict[str, Any] | None


@dataclass(frozen=True)
class Tick:
    """One batch on the clock: per event its key, too far ahead or not, and the mark in force
    when it arrived; the mark after the batch."""

    keys: np.ndarray
    future: np.ndarray
    marks_before: np.ndarray
    mark: float

    def take(self, idx: np.ndarray | slice) -> Tick:
        """These events only (a mask, indices or a slice); the mark after the batch stays."""
        return Tick(self.keys[idx], self.future[idx], self.marks_before[idx], self.mark)


class Clock:
    """Keys and progress of one source, decided event by event (never by batch)."""

    def __init__(self, kind: str, lateness: float, max_ahead: float = FUTURE) -> None:
        self.kind = kind
        self.count = 0
        self.watermark = Watermark(lateness, max_ahead) if kind == "time" else None

    @classmethod
    def of(cls, spec: WindowSpec, window: WindowConfig) -> Clock:
        """The clock of a window group's windows, with the config's lateness and bound."""
        lateness = parse_duration(window.lateness) if spec.kind == "time" else 0.0
        return cls(spec.kind, lateness, parse_duration(window.max_ahead))

    def tick(self, times: np.ndarray) -> Tick:
        if self.watermark is None:
            n = times.size
            keys = np.arange(self.count, self.count + n, dtype=np.float64)
            self.count += n
            return Tick(keys, np.zeros(n, bool), keys, float(self.count))
        adv = self.watermark.advance(times)
        return Tick(times, adv.future, adv.marks_before, adv.mark)

    @property
    def mark(self) -> float:
        return float(self.count) if self.watermark is None else self.watermark.mark

    def final(self) -> float:
        """The mark at the end of the input (every complete window closes)."""
        return float(self.count) if self.watermark is None else self.watermark.final()

    @property
    def start(self) -> float | None:
        """The robust start of the stream (the first block's median), once known."""
        if self.watermark is None:
            return 0.0
        return self.watermark.start

    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count,
                "watermark": None if self.watermark is None else self.watermark.snapshot()}

    def restore(self, snap: dict[str, Any]) -> None:
        s = validated(ClockState, snap, "clock")
        self.count = s.count
        if self.watermark is not None:
            if s.watermark is None:
                raise StateError("clock: a time clock's state holds a watermark")
            self.watermark.restore(s.watermark)


def segments(marks_before: np.ndarray, mark: float, hops: list[float],
             ) -> list[tuple[int, int, float]]:
    """A batch cut where the watermark closes a window: (start, end, mark after the slice).

    Windows close as the mark passes their ends, event by event: an event that arrives after
    a window closed must not reach it, even when (hopping windows) it still joins a later one
    through a shared pane. Feeding each slice, then closing at the mark it ends with, gives
    exactly that — and a slice per close, not per event (a close is rare within a batch).
    """
    n = marks_before.size
    if n == 0:
        return []
    cuts: set[int] = set()
    with np.errstate(invalid="ignore"):
        for hop in hops:
            through = np.where(np.isfinite(marks_before), np.floor(marks_before / hop), -np.inf)
            cuts |= set((np.flatnonzero(through[1:] != through[:-1]) + 1).tolist())
    edges = [0, *sorted(cuts), n]
    return [(a, b, float(marks_before[b]) if b < n else mark)
            for a, b in itertools.pairwise(edges)]
