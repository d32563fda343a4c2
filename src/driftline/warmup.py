"""Warm-up: without a reference profile, the first window(s) of the stream become the reference.

Decoded columns (not objects) are buffered until the watermark passes the end of
the warm-up — the first ``reference.warmup_windows`` windows after the stream's robust start
(the clock's) — or until ``MAX_WARMUP_EVENTS`` are held; then the reference is fitted from
the events before the cut and the rest are replayed into panes. Both ends are decided event
by event (``split``), so the reference is the same whatever the batches are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline.decode import Batch
from driftline.state import WarmUpState, validated
from driftline.windows import Windows

MAX_WARMUP_EVENTS = 1_000_000


class WarmUp:
    """The buffered first events of a stream, and where the warm-up ends."""

    def __init__(self, windows: int) -> None:
        self.windows = windows
        self.batches: list[Batch] = []
        self.keys: list[np.ndarray] = []
        self.end: float | None = None

    def __bool__(self) -> bool:
        return bool(self.batches)

    @property
    def events(self) -> int:
        return sum(len(b) for b in self.batches)

    def begin(self, start: float, w: Windows) -> None:
        """The warm-up ends ``windows`` windows after the pane of ``start``."""
        if self.end is None:
            first = int(np.floor(start / w.hop))
            self.end = (first + w.k * self.windows) * w.hop

    def split(self, marks_before: np.ndarray) -> int | None:
        """The index of the first event after the warm-up in a batch, or None (all in it)."""
        over = np.flatnonzero(marks_before >= self.end) if self.end is not None \
            else np.empty(0, np.int64)
        room = MAX_WARMUP_EVENTS - self.events
        first = int(over[0]) if over.size else None
        if room <= marks_before.size and (first is None or room < first):
            return max(room, 0)
        return first

    def add(self, batch: Batch, keys: np.ndarray) -> None:
        self.batches.append(batch)
        self.keys.append(keys)

    def take(self, w: Windows) -> tuple[Batch, np.ndarray, float]:
        """Every buffered event, its keys, and the cut: keys below it are the reference."""
        batch, keys = Batch.concat(self.batches), np.concatenate(self.keys)
        self.batches, self.keys = [], []
        if self.end is None:  # a stream too short for a start: from its own keys
            self.begin(float(np.quantile(keys, 0.5, method="lower")), w)
        assert self.end is not None
        cut, hop = self.end, w.hop
        if len(batch) >= MAX_WARMUP_EVENTS:  # bounded memory: the warm-up ends at the cap
            cut = float(np.floor(np.sort(keys)[MAX_WARMUP_EVENTS - 1] / hop) * hop) or cut
        return batch, keys, cut

    def snapshot(self) -> dict[str, Any]:
        return {"batches": [b.snapshot() for b in self.batches],
                "keys": [k.tolist() for k in self.keys], "end": self.end}

    def restore(self, snap: dict[str, Any]) -> None:
        s = validated(WarmUpState, snap, "warm-up")
        self.batches = [Batch.from_state(b) for b in s.batches]
        self.keys = [np.asarray(k, np.float64) for k in s.keys]
        self.end = s.end
