"""Warm-up: without a reference profile, the first window(s) of the stream become the reference.

Decoded columns (not objects) are buffered until the watermark passes the end of
the warm-up, bounded at ``MAX_WARMUP_EVENTS``; then the reference is fitted from
the events before the cut and the rest are replayed into panes.
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

    def add(self, batch: Batch, keys: np.ndarray, w: Windows, count_keys: bool) -> bool:
        """Buffer a batch; True once the warm-up is over (watermark past its end, or full)."""
        if self.end is None:
            # a robust start: one stray ancient timestamp must not become the whole reference
            # (it still joins the reference, as every event before the cut does)
            first = int(w.pane_ids(keys[:1])[0]) if count_keys \
                else int(np.floor(float(np.quantile(keys, 0.01, method="lower")) / w.hop))
            self.end = (first + w.k * self.windows) * w.hop
        self.batches.append(batch)
        self.keys.append(keys)
        w.observe(float(keys.max()))
        return w.watermark >= self.end or self.events >= MAX_WARMUP_EVENTS

    def take(self, hop: float) -> tuple[Batch, np.ndarray, float]:
        """Every buffered event, its keys, and the cut: keys below it are the reference."""
        assert self.end is not None
        batch, keys = Batch.concat(self.batches), np.concatenate(self.keys)
        self.batches, self.keys = [], []
        cut = self.end
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
