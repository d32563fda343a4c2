"""Decoded events as numpy columns, and the dead letters of the ones that were not."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from driftline.detectors.sketches import FloatArray, IntArray
from driftline.state import ArrayState, BatchState


@dataclass
class DeadLetter:
    """A rejected message: the original bytes, why, and where it came from."""

    raw: bytes
    reason: str
    detail: str
    position: int
    partition: int = -1


@dataclass
class Columns:
    """What a decoder path read, before vocabularies: canonical strings and floats per row
    (the Arrow path, the per-line path and the native reader all end in ``Decoder._finish``)."""

    rows: IntArray
    model: Sequence[str | None] | pa.Array
    version: Sequence[str | None] | pa.Array
    timestamp: FloatArray
    prediction: FloatArray
    decision: Sequence[str | None] | pa.Array
    latency: FloatArray
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    categorical: dict[str, Sequence[str | None] | pa.Array] = field(default_factory=dict)
    segments: dict[str, Sequence[str | None] | pa.Array] = field(default_factory=dict)
    faults: list[tuple[str, str, np.ndarray]] = field(default_factory=list)  # fast path's
    # read only when the labels layer is on (``Schema.labels``): the ids as text, or (the
    # native reader, which hashes them) already as their keys
    event_id: Sequence[str | None] | pa.Array | None = None
    label: Sequence[str | None] | pa.Array | None = None
    label_value: FloatArray | None = None
    event_key: IntArray | None = None


@dataclass
class Batch:
    """Decoded events as columns. Codes index the decoder's vocabularies; -1 is missing."""

    rows: IntArray  # index of each event in the decoded message list (for its raw bytes)
    positions: IntArray
    partitions: IntArray
    timestamp: FloatArray
    model: IntArray
    version: IntArray
    prediction: FloatArray
    decision: IntArray
    latency: FloatArray
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    categorical: dict[str, IntArray] = field(default_factory=dict)
    segments: dict[str, IntArray] = field(default_factory=dict)
    # the labels layer's columns, None when it is off (so it costs nothing then):
    event_key: IntArray | None = None  # 64-bit hash of event_id (``keys.py``), 0: none
    label: IntArray | None = None  # code in the decoder's label vocabulary, -1: none
    label_value: FloatArray | None = None  # a numeric label, NaN: none or not a number
    # where each joined label was read (-1: none joined, or inline); set by the join:
    label_partition: IntArray | None = None  # a labels topic's partition, -1: a file
    label_position: IntArray | None = None  # its offset, or the file's 1-based line

    ARRAYS = ("rows", "positions", "partitions", "timestamp", "model", "version", "prediction",
              "decision", "latency")
    LABELS = ("event_key", "label", "label_value")
    JOINED = ("label_partition", "label_position")

    def __len__(self) -> int:
        return int(self.timestamp.size)

    @property
    def labelled(self) -> bool:
        """Whether the batch carries the labels layer's columns."""
        return self.event_key is not None

    @property
    def joined(self) -> bool:
        """Whether the join has set where each label was read."""
        return self.label_position is not None

    def _joined(self, name: str) -> IntArray:
        """A ``JOINED`` column; -1 (no label read) in a batch the join has not seen."""
        got: IntArray | None = getattr(self, name)
        return got if got is not None else np.full(len(self), -1, np.int64)

    def _map(self, fn: Callable[[np.ndarray], np.ndarray]) -> Batch:
        return Batch(**{k: fn(getattr(self, k)) for k in self.ARRAYS},
                     numeric={k: fn(v) for k, v in self.numeric.items()},
                     categorical={k: fn(v) for k, v in self.categorical.items()},
                     segments={k: fn(v) for k, v in self.segments.items()},
                     **{k: fn(getattr(self, k)) for k in self.LABELS if self.labelled},
                     **{k: fn(getattr(self, k)) for k in self.JOINED if self.joined})

    def take(self, idx: IntArray | np.ndarray | slice) -> Batch:
        """Rows ``idx`` (indices, a boolean mask or a slice) as a new batch."""
        return self._map(lambda a: a[idx])

    def dead_letters(self, messages: list[bytes], mask: np.ndarray, reason: str,
                     detail: str) -> list[DeadLetter]:
        """Dead letters for the rows of ``mask``, with the bytes of their messages."""
        return [DeadLetter(messages[self.rows[i]], reason, detail, int(self.positions[i]),
                           int(self.partitions[i])) for i in np.flatnonzero(mask)]

    @classmethod
    def concat(cls, batches: list[Batch]) -> Batch:
        first = batches[0]
        return Batch(**{k: np.concatenate([getattr(b, k) for b in batches]) for k in cls.ARRAYS},
                     numeric={k: np.concatenate([b.numeric[k] for b in batches])
                              for k in first.numeric},
                     categorical={k: np.concatenate([b.categorical[k] for b in batches])
                                  for k in first.categorical},
                     segments={k: np.concatenate([b.segments[k] for b in batches])
                               for k in first.segments},
                     **{k: np.concatenate([getattr(b, k) for b in batches])
                        for k in cls.LABELS if first.labelled},
                     **{k: np.concatenate([b._joined(k) for b in batches])
                        for k in cls.JOINED if any(b.joined for b in batches)})

    @classmethod
    def empty(cls, numeric: tuple[str, ...], categorical: tuple[str, ...],
              segments: tuple[str, ...], labels: bool = False) -> Batch:
        z, zi = np.empty(0, np.float64), np.empty(0, np.int64)
        return cls(zi, zi, zi, z, zi, zi, z, zi, z, {k: z for k in numeric},
                   {k: zi for k in categorical}, {k: zi for k in segments},
                   *((zi, zi, z) if labels else ()))

    def snapshot(self) -> dict[str, Any]:
        """Columns as base64 of their raw bytes (exact, compact): for warm-up checkpoints."""
        def enc(a: np.ndarray) -> dict[str, str]:
            return {"dtype": a.dtype.str, "b64": base64.b64encode(a.tobytes()).decode("ascii")}
        return {**{k: enc(getattr(self, k)) for k in self.ARRAYS},
                "numeric": {k: enc(v) for k, v in self.numeric.items()},
                "categorical": {k: enc(v) for k, v in self.categorical.items()},
                "segments": {k: enc(v) for k, v in self.segments.items()},
                **{k: enc(getattr(self, k)) for k in self.LABELS if self.labelled},
                **{k: enc(getattr(self, k)) for k in self.JOINED if self.joined}}

    @classmethod
    def from_state(cls, s: BatchState) -> Batch:
        """The columns a validated state holds (each of one dtype and one length)."""
        def dec(a: ArrayState) -> np.ndarray:
            return np.frombuffer(base64.b64decode(a.b64), dtype=np.dtype(a.dtype)).copy()
        cols: dict[str, Any] = {k: dec(getattr(s, k)) for k in cls.ARRAYS}
        labels = {k: dec(getattr(s, k)) for k in (*cls.LABELS, *cls.JOINED)
                  if getattr(s, k) is not None}
        return cls(**cols, numeric={k: dec(v) for k, v in s.numeric.items()},
                   categorical={k: dec(v) for k, v in s.categorical.items()},
                   segments={k: dec(v) for k, v in s.segments.items()}, **labels)
