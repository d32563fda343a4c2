"""Labels from a topic into the store, and the labels' watermark that says when a window's
performance is final.

A label line on partition p is **late** (``late_arrival``: counted, not stored) when its
time is below p's watermark as it arrives — the latest label time p has carried minus
``labels.lateness`` (default: the TTL, at most 1 h) — or below the highest labels'
watermark a prediction was ever released on (``floor``: what binds a partition added to the
topic later, whose first labels no watermark of its own checks). So once every partition's
watermark has passed
t + TTL, no label that counts for a prediction stamped t can still come: a prediction whose
label has not arrived by then never gets one, in this run or any other. The **labels'
watermark** is the least over the topic's partitions (a partition that never carried a
label holds it at −∞: the performance layer waits, and says so); the performance engine is
fed a prediction only once the labels' watermark has passed its time + TTL.

This module knows no Kafka: the runtime polls, this module stores (``LabelStore.add_at``,
the rows with the positions after them in one transaction) and keeps the watermark.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader

FLOOR = -1  # the store's positions row that keeps ``LabelTopic.floor``


class LabelTopic:
    """One labels topic read into a ``LabelJoin``'s store; the labels' watermark."""

    def __init__(self, join: LabelJoin, reader: LabelReader, topic: str,
                 lateness: float) -> None:
        self.join, self.reader, self.topic, self.lateness = join, reader, topic, lateness
        self.partitions: set[int] = set()  # the topic's partitions, once known
        #: partition → (next offset, latest label time): what the store holds
        self.positions = join.store.positions(topic)
        #: the highest labels' watermark predictions were released on (kept in the store)
        self.floor = self.positions.pop(FLOOR, (0, None))[1] or -math.inf
        self.counts: Counter[str] = Counter()  # read, stored, late_arrival

    def start_offset(self, partition: int) -> int:
        """Where to read ``partition`` from: after what the store holds (0: everything)."""
        at = self.positions.get(partition)
        return at[0] if at is not None else 0

    def add(self, partition: int, offsets: list[int], lines: list[bytes]) -> None:
        """One polled batch of a partition (in offset order): its labels stored, the late
        ones counted, the position moved past it — all in one store transaction."""
        if not offsets:
            return
        _, latest = self.positions.get(partition, (0, None))
        rows, late = [], 0
        for row in self.reader.rows(lines, offsets, partition):
            ts = row[3]
            if ts < self.floor or (latest is not None and ts < latest - self.lateness):
                late += 1
                continue
            rows.append(row)
            latest = ts if latest is None else max(latest, ts)
        self.positions[partition] = (offsets[-1] + 1, latest)
        at = {partition: self.positions[partition]}
        if math.isfinite(self.floor):
            at[FLOOR] = (0, self.floor)
        self.join.counts["duplicate"] += self.join.store.add_at(rows, self.topic, at)
        self.join.invalid = self.reader.invalid.copy()
        self.join.counts["invalid"] = sum(self.reader.invalid.values())
        self.counts.update({"read": len(lines), "stored": len(rows), "late_arrival": late})

    def skip_to(self, partition: int, offset: int) -> None:
        """Go on at ``offset`` (what was before it is gone from the topic)."""
        latest = self.positions.get(partition, (0, None))[1]
        self.positions[partition] = (offset, latest)
        self.join.store.add_at([], self.topic, {partition: self.positions[partition]})

    def released(self, watermark: float) -> None:
        """Predictions were released on ``watermark``: no later label below it may count."""
        self.floor = max(self.floor, watermark)

    def watermark(self) -> float:
        """The labels' watermark: the least partition watermark (−∞ until every partition
        of the topic has carried a label)."""
        if not self.partitions:
            return -math.inf
        marks = [self.positions.get(p, (0, None))[1] for p in sorted(self.partitions)]
        if any(m is None for m in marks):
            return -math.inf
        return float(min(m for m in marks if m is not None)) - self.lateness

    def silent(self) -> list[int]:
        """The partitions that hold the watermark at −∞ (no label yet)."""
        return [p for p in sorted(self.partitions)
                if self.positions.get(p, (0, None))[1] is None]


def ready(times: np.ndarray, watermark: float, ttl: float) -> int:
    """How many of a partition's next predictions (``times``, in offset order; NaN: no
    readable time — a dead letter, no label can matter) may be judged now: the prefix whose
    times are all below the labels' watermark − TTL."""
    with np.errstate(invalid="ignore"):
        blocked = ~(np.isnan(times) | (times + ttl < watermark))
    return int(np.argmax(blocked)) if blocked.any() else int(times.size)
