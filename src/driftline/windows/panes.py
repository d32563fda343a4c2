"""Event-time (or event-count) windows built from panes, closed by a watermark.

A window of ``k`` panes slides by one pane (the hop); tumbling windows are the
case ``k = 1``. Pane ``p`` covers keys ``[p·hop, (p+1)·hop)``; window ``e`` (named
by its last pane) covers panes ``e−k+1 … e`` and closes once the watermark
(max key seen − allowed lateness) reaches its end ``(e+1)·hop``. Its content is
the merge of its panes' sketches, which is exact because sketches add.

An event whose every window has closed is *late*: the caller dead-letters and
counts it, it is never dropped silently. Keys are event times in seconds, or
for count windows the running index of valid events (lateness 0).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.detectors.sketches import FloatArray, IntArray, Sketch, merge, sketch_from_state
from driftline.errors import StateError
from driftline.state import FactsState, PaneState, WindowsState, validated

Ranges = dict[int, tuple[int, int]]
#: the facts of a pane read from a checkpoint written before facts were kept per model: what
#: every model of that pane cites, as it did then
LEGACY = ""


@dataclass
class Facts:
    """What one model's events in a pane say about where they came from, which an incident
    cites as evidence: how many, their model versions (codes), their source positions (and
    those of the labels they joined) and their last (key, event time). Kept per model, so
    that an incident of one model cites its own events, and a model's panes can be summed
    from many inputs without the others'."""

    count: int = 0
    versions: set[int] = field(default_factory=set)
    #: partition → (first position, last position) of the events
    positions: Ranges = field(default_factory=dict)
    #: the same for the labels these events joined (partition -1: a labels file)
    label_positions: Ranges = field(default_factory=dict)
    #: (key, event time) of the last event by key: a count window's time
    last: tuple[float, float] | None = None

    def note(self, keys: FloatArray, times: FloatArray, versions: IntArray,
             partitions: IntArray, positions: IntArray,
             label_partitions: IntArray | None, label_positions: IntArray | None) -> None:
        """Add a slice of accepted events (keys and columns aligned)."""
        if not keys.size:
            return
        i = int(np.argmax(keys))
        if self.last is None or keys[i] > self.last[0]:
            self.last = (float(keys[i]), float(times[i]))
        self.count += int(keys.size)
        self.versions.update(int(v) for v in np.unique(versions) if v >= 0)
        _note(self.positions, partitions, positions)
        if label_partitions is not None and label_positions is not None:
            read = label_positions >= 0  # -1: no label joined
            if read.any():
                _note(self.label_positions, label_partitions[read], label_positions[read])

    def merge(self, other: Facts) -> Facts:
        last = self.last if other.last is None or (
            self.last is not None and self.last[0] >= other.last[0]) else other.last
        return Facts(self.count + other.count, self.versions | other.versions,
                     _union(self.positions, other.positions),
                     _union(self.label_positions, other.label_positions), last)

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count, "versions": sorted(self.versions),
                "positions": {str(p): list(v) for p, v in self.positions.items()},
                "label_positions": {str(p): list(v) for p, v in self.label_positions.items()},
                "last": None if self.last is None else list(self.last)}

    @classmethod
    def from_state(cls, s: FactsState) -> Facts:
        return cls(s.count, set(s.versions),
                   {int(p): (lo, hi) for p, (lo, hi) in s.positions.items()},
                   {int(p): (lo, hi) for p, (lo, hi) in s.label_positions.items()},
                   None if s.last is None else (s.last[0], s.last[1]))


@dataclass
class Pane:
    """Sketches of one pane, keyed by (model, slot), and the facts of each model's events."""

    sketches: dict[tuple[str, str], Sketch] = field(default_factory=dict)  # (model, slot)
    models: dict[str, Facts] = field(default_factory=dict)

    def facts(self, model: str) -> Facts:
        """``model``'s facts in this pane (a legacy pane's: the whole pane's; none: empty)."""
        own, legacy = self.models.get(model), self.models.get(LEGACY)
        if legacy is None:
            return own if own is not None else Facts()
        return legacy if own is None else legacy.merge(own)

    def facts_of(self, model: str) -> Facts:
        """``model``'s facts, to be added to (created on first use)."""
        got = self.models.get(model)
        if got is None:
            got = self.models[model] = Facts()
        return got

    @property
    def whole(self) -> Facts:
        """The facts of every model's events together."""
        out = Facts()
        for f in self.models.values():
            out = out.merge(f)
        return out

    @property
    def count(self) -> int:
        return sum(f.count for f in self.models.values())

    @property
    def versions(self) -> set[int]:
        return self.whole.versions

    def merge(self, other: Pane) -> Pane:
        out = Pane(dict(self.sketches), dict(self.models))
        for key, sk in other.sketches.items():
            mine = out.sketches.get(key)
            out.sketches[key] = sk if mine is None else merge(mine, sk)
        for model, f in other.models.items():
            mine_f = out.models.get(model)
            out.models[model] = f if mine_f is None else mine_f.merge(f)
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"models": {m: f.snapshot() for m, f in sorted(self.models.items())},
                "sketches": {json.dumps(list(k), ensure_ascii=False): s.snapshot()
                             for k, s in self.sketches.items()}}

    @classmethod
    def from_state(cls, s: PaneState) -> Pane:
        if s.models is not None:
            models = {m: Facts.from_state(f) for m, f in s.models.items()}
        else:  # a checkpoint of a driftline that kept one set of facts per pane
            models = {LEGACY: Facts.from_state(s)}
        return cls({_pair(k): sketch_from_state(sk) for k, sk in s.sketches.items()}, models)


def _note(ranges: Ranges, partitions: IntArray, positions: IntArray) -> None:
    """Widen each partition's (first, last) range to hold ``positions``."""
    for part in np.unique(partitions):
        sel = positions[partitions == part]
        lo, hi = int(sel.min()), int(sel.max())
        old = ranges.get(int(part))
        ranges[int(part)] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))


def _union(a: Ranges, b: Ranges) -> Ranges:
    """Per partition, the range that holds both."""
    out = dict(a)
    for part, (lo, hi) in b.items():
        old = out.get(part)
        out[part] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    return out


def _pair(key: str) -> tuple[str, str]:
    """A pane sketch's key as saved: the JSON array [model, slot]."""
    try:
        model, slot = json.loads(key)
    except (ValueError, TypeError) as exc:
        raise StateError(f"pane sketch key {key!r} is not [model, slot]") from exc
    if not isinstance(model, str) or not isinstance(slot, str):
        raise StateError(f"pane sketch key {key!r} is not [model, slot]")
    return model, slot


@dataclass(frozen=True)
class ClosedWindow:
    """A window ready to evaluate: its bounds (in key units) and merged content."""

    index: int
    start: float
    end: float
    content: Pane


class Windows:
    """Panes by id, the watermark, and the windows that close as it advances.

    The watermark (``mark``) is the clock's (``clock.py``): the engine observes it after each
    batch, and asks, per event, whether the windows it belongs to had closed by the mark in
    force when it arrived.
    """

    def __init__(self, hop: float, panes_per_window: int = 1) -> None:
        if hop <= 0 or panes_per_window < 1:
            raise ValueError("hop > 0, panes_per_window >= 1")
        self.hop = float(hop)
        self.k = int(panes_per_window)
        self.panes: dict[int, Pane] = {}
        self.mark = -np.inf
        self.last_closed: int | None = None  # index of the last closed window
        self.first_pane: float = np.inf

    @property
    def size(self) -> float:
        return self.hop * self.k

    @property
    def watermark(self) -> float:
        return self.mark

    def pane_ids(self, keys: FloatArray) -> IntArray:
        return np.floor(np.asarray(keys, np.float64) / self.hop).astype(np.int64)

    def closed_through(self, marks: FloatArray) -> IntArray:
        """Per mark, the index of the last window closed by it (or before it, by a cut)."""
        with np.errstate(invalid="ignore"):
            by_mark = np.where(np.isfinite(marks), np.floor(marks / self.hop) - 1, -np.inf)
        floor = -np.inf if self.last_closed is None else self.last_closed
        out: IntArray = np.maximum(by_mark, floor)
        return out

    def late(self, pane_ids: IntArray, marks_before: FloatArray) -> np.ndarray:
        """Events whose every window had closed when they arrived."""
        out: np.ndarray = pane_ids + self.k - 1 <= self.closed_through(marks_before)
        return out

    def pane(self, pane_id: int) -> Pane:
        p = self.panes.get(pane_id)
        if p is None:
            p = self.panes[pane_id] = Pane()
            self.first_pane = min(self.first_pane, pane_id)
        return p

    def observe(self, mark: float) -> None:
        self.mark = max(self.mark, float(mark))

    def bounds(self, index: int) -> tuple[float, float]:
        return (index - self.k + 1) * self.hop, (index + 1) * self.hop

    def close_ready(self) -> Iterable[ClosedWindow]:
        """Windows whose end the watermark has passed, in order.

        Only windows that contain at least one pane are produced: a gap in the
        stream closes no empty windows (and an absurd timestamp cannot make us
        iterate over years of them). Hopping windows that would start before
        the first pane of the stream are partial and skipped.
        """
        if self.mark == -np.inf:
            return
        last = int(np.floor(self.mark / self.hop)) - 1  # (e+1)·hop <= mark
        first = -np.inf if self.last_closed is None else self.last_closed + 1
        candidates = sorted({p + j for p in self.panes for j in range(self.k)})
        for e in candidates:
            if e < first or e > last or e - self.k + 1 < self.first_pane:
                continue
            members = [self.panes[p] for p in range(e - self.k + 1, e + 1) if p in self.panes]
            content = members[0]
            for m in members[1:]:
                content = content.merge(m)
            start, end = self.bounds(e)
            self.last_closed = e
            yield ClosedWindow(e, start, end, content)
            for p in [p for p in self.panes if p + self.k - 1 <= e]:
                del self.panes[p]
        # windows up to `last` are closed even when empty or skipped: data for them is late now
        if self.last_closed is None or last > self.last_closed:
            self.last_closed = last
        for p in [p for p in self.panes if p + self.k - 1 <= last]:
            del self.panes[p]

    def snapshot(self) -> dict[str, Any]:
        return {"hop": self.hop, "k": self.k,
                "mark": None if self.mark == -np.inf else self.mark,
                "last_closed": self.last_closed,
                "first_pane": None if self.first_pane == np.inf else int(self.first_pane),
                "panes": {str(p): pane.snapshot() for p, pane in self.panes.items()}}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Windows:
        return cls.from_state(validated(WindowsState, snap, "windows"))

    @classmethod
    def from_state(cls, s: WindowsState) -> Windows:
        w = cls(s.hop, s.k)
        w.mark = -np.inf if s.mark is None else s.mark
        w.last_closed = s.last_closed
        w.first_pane = np.inf if s.first_pane is None else s.first_pane
        w.panes = {int(p): Pane.from_state(ps) for p, ps in s.panes.items()}
        return w

    def start_at(self, cut: float) -> None:
        """Evaluation starts at key ``cut`` (the end of a warm-up): nothing before it closes."""
        self.first_pane = int(np.floor(cut / self.hop))
        self.last_closed = self.first_pane - 1
        self.panes.clear()
