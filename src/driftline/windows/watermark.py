"""Event-time progress that a few events cannot bend: the robust frontier and the watermark.

Stream processors bound out-of-orderness with the *maximum* event time seen: Flink's
``BoundedOutOfOrderness`` watermark is ``max − bound``, Kafka Streams' stream time is the
maximum, Beam's Kafka source likewise. One event with a clock an hour ahead then moves the
watermark an hour, and every on-time event after it is late. driftline follows the bulk of
the stream instead:

- events are taken in blocks of ``BLOCK`` (64) valid events, counted from the start of the
  source — so the blocks, and everything decided per block, are the same whatever the
  batches are;
- the **frontier** is the median (``QUANTILE``) of the last ``SAMPLE`` (512) event times,
  recomputed after each block: fewer than half the recent events can never move it;
- an event more than ``max_ahead`` (24 h) ahead of the **anchor** — the ``ANCHOR`` (0.99)
  quantile of the recent times and its own block's — is a bad timestamp: a stray 2099 is one
  of the top 1%, a stream resuming after a long pause fills its own block and is accepted
  at once. An event ahead by less is windowed at its own time, without moving anything;
- the **watermark** is ``frontier − lateness``, never moving back; a window closes once it
  passes its end, and an event whose windows have all closed is late.

Failure modes, by construction: if half or more of the recent events come from clocks that
run ahead (or an input is not in time order), the frontier follows them. The watermark
trails the newest events by about ``SAMPLE / 2`` events plus the lateness (at 150 events a
day, under two days; at 20 a second, 13 s), which only delays closing windows. After a pause
longer than ``max_ahead`` the first events of the block that ends it (at most 1% of a
block) are bad timestamps. At the end of the input the remaining complete windows close at
the ``FINAL_QUANTILE`` (0.99) of the recent sample plus ``FINAL_SLACK`` (4%) of the time between
its 1st percentile and its median — about ten inter-arrival gaps, measured where a skewed
clock cannot stretch them, so a file that ends at a window boundary has its
last window evaluated, while a stray event ahead (not the maximum) does not close windows
the bulk has not filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from driftline.state import Count, Finite, State, validated

BLOCK = 64
SAMPLE = 512
QUANTILE = 0.5
ANCHOR = 0.99
FINAL_QUANTILE = 0.99
FINAL_SLACK = 0.04
FUTURE = 86_400.0  # the default max_ahead


class WatermarkState(State):
    recent: list[Finite] = Field(max_length=SAMPLE)
    seen: Count
    mark: Finite | None
    frontier: Finite | None
    start: Finite | None


def lower_quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q, method="lower")``, by one partition."""
    k = int(np.floor(q * (values.size - 1)))
    return float(np.partition(values, k)[k])


#: at most this many windows are copied out at once (576 values each: 4.7 MB)
CHUNK = 1024


def _window_quantiles(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, q: float) -> np.ndarray:
    """``lower_quantile(values[lo[i]:hi[i]], q)`` for every ``i``: windows of one length are
    stacked (a strided view, copied ``CHUNK`` at a time) and partitioned in one call."""
    out = np.empty(lo.size, np.float64)
    sizes = hi - lo
    for size in np.unique(sizes):
        which = np.flatnonzero(sizes == size)
        k = int(np.floor(q * (int(size) - 1)))
        view = np.lib.stride_tricks.sliding_window_view(values, int(size))
        for c in range(0, which.size, CHUNK):
            part = which[c:c + CHUNK]
            out[part] = np.partition(view[lo[part]], k, axis=1)[:, k]
    return out


@dataclass(frozen=True)
class Advance:
    """What one batch did to event time: per event, too far ahead or not; per block, the
    watermark in force before it and the number of events it holds."""

    future: np.ndarray
    marks_before: np.ndarray  # per event: the watermark when it arrived
    mark: float  # after the batch


class Watermark:
    """The frontier and watermark of one source, advanced block by block."""

    def __init__(self, lateness: float, future: float = FUTURE, block: int = BLOCK) -> None:
        self.lateness = lateness
        self.future_bound = future
        #: events per step (the labels topic's partitions step more often: few labels)
        self.block = block
        self.recent = np.empty(0, np.float64)
        self.seen = 0  # valid events so far: block boundaries are multiples of BLOCK
        self.mark = -np.inf
        self.frontier = -np.inf
        self.start: float | None = None  # the first block's median: where the stream starts

    def advance(self, times: np.ndarray) -> Advance:
        """Take a batch's valid event times, in order.

        Block by block, as the module says, but computed for the whole batch at once: the
        anchor of each piece of a block and the frontier after each complete block are order
        statistics of windows of ``every`` (the recent sample, then the batch), taken for all
        windows of one length in one partition. Exactly the block-by-block values."""
        n = times.size
        if n == 0:
            return Advance(np.zeros(0, bool), np.empty(0, np.float64), self.mark)
        r = self.recent.size
        every = np.concatenate([self.recent, times])
        # the batch's pieces of blocks: [starts[s], ends[s]) within the batch
        block = self.block
        ends = np.append(np.arange(block - self.seen % block, n, block), n)
        starts = np.concatenate([[0], ends[:-1]])
        # a piece's anchor sample: the recent sample before it, then the piece
        anchors = _window_quantiles(every, np.maximum(0, r + starts - SAMPLE), r + ends, ANCHOR)
        future = times > np.repeat(anchors + self.future_bound, ends - starts)
        closes = (self.seen + ends) % block == 0  # the piece completes its block: a step
        hi = r + ends[closes]
        frontiers = _window_quantiles(every, np.maximum(0, hi - SAMPLE), hi, QUANTILE)
        marks = np.maximum.accumulate(np.concatenate([[self.mark], frontiers - self.lateness]))
        # the mark before a piece: after the steps of the pieces before it
        steps_before = np.concatenate([[0], np.cumsum(closes)[:-1]])
        before = np.repeat(marks[steps_before], ends - starts)
        if frontiers.size:
            if self.start is None:  # one stray early event must not be where the stream starts
                self.start = float(frontiers[0])
            self.frontier = float(frontiers[-1])
            self.mark = float(marks[-1])
        self.recent = every[-SAMPLE:].copy()
        self.seen += n
        return Advance(future, before, self.mark)

    def final(self) -> float:
        """The mark at the end of the input: no lateness, the bulk's high end (plus a few
        inter-arrival gaps: the bulk's last events fall just short of where the input ends)."""
        if not self.recent.size:
            return self.mark
        high = lower_quantile(self.recent, FINAL_QUANTILE)
        span = lower_quantile(self.recent, QUANTILE) - lower_quantile(self.recent, 1 - FINAL_QUANTILE)
        return max(self.mark, high + FINAL_SLACK * span)

    def snapshot(self) -> dict[str, Any]:
        return {"recent": self.recent.tolist(), "seen": self.seen,
                "mark": None if self.mark == -np.inf else self.mark,
                "frontier": None if self.frontier == -np.inf else self.frontier,
                "start": self.start}

    def restore(self, snap: dict[str, Any]) -> None:
        s = validated(WatermarkState, snap, "watermark")
        self.recent = np.asarray(s.recent, np.float64)
        self.seen, self.mark = s.seen, -np.inf if s.mark is None else s.mark
        self.frontier = -np.inf if s.frontier is None else s.frontier
        self.start = s.start
