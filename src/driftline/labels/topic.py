"""Labels from a topic into the store, and the labels' watermark that says when a window's
performance is final.

Each partition's label times go through a watermark of its own, the one the events have
(``windows/watermark.py``): its frontier is the median of the partition's recent label
times, so one label with a skewed clock moves nothing — a label stamped a year ahead
neither makes the labels after it late nor releases predictions before their labels came.
A label more than ``window.max_ahead`` ahead of its partition's recent labels is a bad
timestamp (``ahead``: counted, not stored). The partition's **watermark** is its frontier −
``labels.lateness`` (default: the TTL, at most 1 h), recomputed every ``BLOCK`` (8) labels,
−∞ until the partition's first 8.

A label is **late** (``late_arrival``: counted, not stored) when its time is below its
partition's watermark as it arrives, or below the highest labels' watermark a prediction
was ever released on (``floor``: what binds a partition added to the topic later, whose
first labels no watermark of its own checks). So once every partition's watermark has passed
t + TTL, no label that counts for a prediction stamped t can still come: a prediction whose
label has not arrived by then never gets one, in this run or any other. The **labels'
watermark** is the least over the topic's partitions (a partition without a watermark yet
holds it at −∞: the performance layer waits, and says so); the performance engine is fed a
prediction only once the labels' watermark has passed its time + TTL.

This module knows no Kafka: the runtime polls, this module stores (``LabelStore.add_at``,
the rows with the positions and the partition's watermark after them in one transaction)
and keeps the watermark.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import orjson

from driftline.errors import StateError
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader, Row
from driftline.windows.watermark import FUTURE, Watermark

FLOOR = -1  # the store's positions row that keeps ``LabelTopic.floor``
#: labels per watermark step: fewer than the events' 64, since a labels partition may carry
#: a few labels a day (a step still needs half the recent sample to move the median)
BLOCK = 8


class LabelTopic:
    """One labels topic read into a ``LabelJoin``'s store; the labels' watermark."""

    def __init__(self, join: LabelJoin, reader: LabelReader, topic: str,
                 lateness: float, max_ahead: float = FUTURE) -> None:
        self.join, self.reader, self.topic, self.lateness = join, reader, topic, lateness
        self.max_ahead = max_ahead
        self.partitions: set[int] = set()  # the topic's partitions, once known
        #: partition → next offset to read, and its labels' watermark: what the store holds
        self.offsets: dict[int, int] = {}
        self.clocks: dict[int, Watermark] = {}
        #: the highest labels' watermark predictions were released on (kept in the store)
        self.floor = -math.inf
        self.counts: Counter[str] = Counter()  # read, stored, late_arrival, ahead
        for p, (offset, clock) in join.store.positions(topic).items():
            self._restore(p, offset, clock)

    def _restore(self, p: int, offset: int, clock: str | None) -> None:
        """A stored position; one whose clock does not read back is read again from the
        partition's beginning (counted corrupt, as a store row would be)."""
        try:
            state = orjson.loads(clock) if clock is not None else None
            if p == FLOOR:
                if isinstance(state, float) and math.isfinite(state):
                    self.floor = state
                return
            wm = self._clock()
            if state is not None:
                wm.restore(state)
        except (orjson.JSONDecodeError, StateError):
            self.join.store.corrupt += 1
            return
        self.offsets[p], self.clocks[p] = offset, wm

    def _clock(self) -> Watermark:
        return Watermark(self.lateness, self.max_ahead, BLOCK)

    def start_offset(self, partition: int) -> int:
        """Where to read ``partition`` from: after what the store holds (0: everything)."""
        return self.offsets.get(partition, 0)

    def add(self, partition: int, offsets: list[int], lines: list[bytes]) -> None:
        """One polled batch of a partition (in offset order): its labels stored, the late
        and ahead ones counted, the position and watermark moved past it — all in one store
        transaction."""
        if not offsets:
            return
        clock = self.clocks.setdefault(partition, self._clock())
        rows = self.reader.rows(lines, offsets, partition)
        kept, late, ahead = rows, 0, 0
        if rows:
            times = np.fromiter((r[3] for r in rows), np.float64, len(rows))
            step = clock.advance(times)
            is_late = ~step.future & (times < np.maximum(step.marks_before, self.floor))
            kept = [r for r, drop in zip(rows, step.future | is_late, strict=True) if not drop]
            late, ahead = int(is_late.sum()), int(step.future.sum())
        self.offsets[partition] = offsets[-1] + 1
        self._store(kept, partition)
        self.join.invalid = self.reader.invalid.copy()
        self.join.counts["invalid"] = sum(self.reader.invalid.values())
        self.counts.update({"read": len(lines), "stored": len(kept), "late_arrival": late,
                            "ahead": ahead})

    def _store(self, rows: list[Row], partition: int) -> None:
        at: dict[int, tuple[int, str | None]] = {partition: (
            self.offsets[partition], orjson.dumps(self.clocks[partition].snapshot()).decode())}
        if math.isfinite(self.floor):
            at[FLOOR] = (0, orjson.dumps(self.floor).decode())
        self.join.counts["duplicate"] += self.join.store.add_at(rows, self.topic, at)

    def skip_to(self, partition: int, offset: int) -> None:
        """Go on at ``offset`` (what was before it is gone from the topic)."""
        self.clocks.setdefault(partition, self._clock())
        self.offsets[partition] = offset
        self._store([], partition)

    def released(self, watermark: float) -> None:
        """Predictions were released on ``watermark``: no later label below it may count."""
        self.floor = max(self.floor, watermark)

    def watermark(self) -> float:
        """The labels' watermark: the least partition watermark (−∞ until every partition
        of the topic has one)."""
        if not self.partitions:
            return -math.inf
        return float(min(self._mark(p) for p in self.partitions))

    def _mark(self, partition: int) -> float:
        clock = self.clocks.get(partition)
        return clock.mark if clock is not None else -math.inf

    def silent(self) -> list[int]:
        """The partitions that hold the watermark at −∞ (no watermark yet: fewer labels
        than one block)."""
        return [p for p in sorted(self.partitions) if not math.isfinite(self._mark(p))]


def ready(times: np.ndarray, watermark: float, ttl: float) -> int:
    """How many of a partition's next predictions (``times``, in offset order; NaN: no
    readable time — a dead letter, no label can matter) may be judged now: the prefix whose
    times are all below the labels' watermark − TTL."""
    with np.errstate(invalid="ignore"):
        blocked = ~(np.isnan(times) | (times + ttl < watermark))
    return int(np.argmax(blocked)) if blocked.any() else int(times.size)
