"""Mergeable sufficient statistics ("sketches") that detectors evaluate.

A sketch is the only mutable state a detector needs. Sketches have fixed layout
(edges, vocabularies are decided when the reference is fitted), counts that add
exactly, and memory bounded by bins × segments — never by events per window.
Several detectors can read one sketch: PSI and KS share a quantile histogram.

Segments are integer codes (0..S-1) from a bounded vocabulary kept by the
pipeline; ``segments=None`` puts every value in row 0.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt

from driftline.errors import StateError
from driftline.state import (
    CountTableState,
    DecisionHistogramState,
    MomentsState,
    QuantileHistogramState,
    ScoreHistogramState,
    SketchState,
    validated,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _grow(counts: IntArray, rows: int, cols: int) -> IntArray:
    """Return ``counts`` zero-padded to at least ``rows`` × ``cols``."""
    r, c = counts.shape
    if r >= rows and c >= cols:
        return counts
    out = np.zeros((max(r, rows), max(c, cols)), dtype=np.int64)
    out[:r, :c] = counts
    return out


def _add_aligned(a: IntArray, b: IntArray) -> IntArray:
    rows, cols = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
    out = _grow(a, rows, cols).copy()
    out[: b.shape[0], : b.shape[1]] += b
    return out


def _bincount2d(rows: IntArray | None, cols: IntArray, n_cols: int, counts: IntArray) -> IntArray:
    """Add the pairs (row, col) to ``counts`` with one bincount; grows rows as needed."""
    if cols.size == 0:
        return counts
    if rows is None:
        add = np.bincount(cols, minlength=n_cols)
        counts = _grow(counts, 1, n_cols)
        counts[0, : add.size] += add
        return counts
    n_rows = int(rows.max()) + 1
    counts = _grow(counts, n_rows, n_cols)
    flat = rows * n_cols + cols
    add = np.bincount(flat, minlength=n_rows * n_cols).reshape(n_rows, n_cols)
    counts[:n_rows, :n_cols] += add
    return counts


class QuantileHistogram:
    """Counts per segment over fixed bins whose inner edges are reference quantiles.

    ``edges`` has B-1 sorted inner edges (duplicates allowed: a tied reference
    yields empty bins, which keeps coarse groupings aligned); bin ``i`` holds
    ``edges[i-1] <= x < edges[i]``. NaN values are skipped (missing feature).
    """

    kind = "quantile_histogram"
    __slots__ = ("counts", "edges")

    def __init__(self, edges: FloatArray, counts: IntArray | None = None) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        bins = self.edges.size + 1
        self.counts = np.zeros((1, bins), np.int64) if counts is None else counts

    @classmethod
    def fit(cls, values: FloatArray, grid: int) -> Self:
        """Edges at the reference's i/grid quantiles (empty histogram)."""
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return cls(np.zeros(grid - 1))
        qs = np.arange(1, grid) / grid
        return cls(np.quantile(values, qs, method="inverted_cdf"))

    @property
    def bins(self) -> int:
        return self.edges.size + 1

    def update(self, values: FloatArray, segments: IntArray | None = None) -> None:
        keep = ~np.isnan(values)
        if not keep.all():
            values = values[keep]
            segments = None if segments is None else segments[keep]
        # Binary search is ~9x faster over sorted data (numpy reuses the previous
        # position), so sort first: without segments, search the edges in the sorted
        # values and difference the positions; with segments, bin in sorted order.
        if segments is None:
            ordered = np.sort(values)
            below = np.searchsorted(ordered, self.edges, side="left")  # values < edge
            add = np.diff(below, prepend=0, append=ordered.size)
            self.counts = _grow(self.counts, 1, self.bins)
            self.counts[0] += add
            return
        order = np.argsort(values, kind="stable")
        idx = np.empty(values.size, np.int64)
        idx[order] = np.searchsorted(self.edges, values[order], side="right")
        self.counts = _bincount2d(segments, idx, self.bins, self.counts)

    def empty(self) -> Self:
        return type(self)(self.edges)

    def merge(self, other: Self) -> Self:
        return type(self)(self.edges, _add_aligned(self.counts, other.counts))

    def row(self, segment: int | None) -> IntArray:
        """Counts for one segment, or all segments summed when ``segment`` is None."""
        if segment is None:
            total: IntArray = self.counts.sum(axis=0)
            return total
        if segment >= self.counts.shape[0]:
            return np.zeros(self.bins, np.int64)
        own: IntArray = self.counts[segment]
        return own

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": self.edges.tolist(), "counts": self.counts.tolist()}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Self:
        return cls.from_state(validated(QuantileHistogramState, snap, "quantile histogram"))

    @classmethod
    def from_state(cls, s: QuantileHistogramState) -> Self:
        return cls(np.asarray(s.edges, np.float64),
                   np.asarray(s.counts, np.int64).reshape(len(s.counts), len(s.edges) + 1))


class CountTable:
    """Counts per (segment, code): category counts, or per-segment volumes with one column.

    Codes come from bounded vocabularies, so the table grows only up to the caps.
    """

    kind = "count_table"
    __slots__ = ("counts",)

    def __init__(self, counts: IntArray | None = None) -> None:
        self.counts = np.zeros((1, 1), np.int64) if counts is None else counts

    def update(self, codes: IntArray, segments: IntArray | None = None) -> None:
        keep = codes >= 0
        if not keep.all():
            codes = codes[keep]
            segments = None if segments is None else segments[keep]
        if codes.size == 0:
            return
        n_cols = max(int(codes.max()) + 1, self.counts.shape[1])
        self.counts = _bincount2d(segments, codes, n_cols, self.counts)

    def empty(self) -> Self:
        return type(self)()

    def merge(self, other: Self) -> Self:
        return type(self)(_add_aligned(self.counts, other.counts))

    def row(self, segment: int | None, width: int | None = None) -> IntArray:
        width = self.counts.shape[1] if width is None else width
        out: IntArray
        if segment is None:
            out = self.counts.sum(axis=0)
        elif segment >= self.counts.shape[0]:
            out = np.zeros(self.counts.shape[1], np.int64)
        else:
            out = self.counts[segment]
        if out.size < width:
            out = np.concatenate([out, np.zeros(width - out.size, np.int64)])
        return out

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "counts": self.counts.tolist()}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Self:
        return cls.from_state(validated(CountTableState, snap, "count table"))

    @classmethod
    def from_state(cls, s: CountTableState) -> Self:
        rows = s.counts
        width = max((len(r) for r in rows), default=1)
        counts = np.zeros((max(len(rows), 1), width), np.int64)
        for i, r in enumerate(rows):
            counts[i, : len(r)] = r
        return cls(counts)


class Moments:
    """Count, sum and sum of squares of ``x − shift`` per segment: mergeable mean and variance.

    ``shift`` is layout, fixed when the reference is fitted (the lower median of its finite
    values, the "shifted data" algorithm): raw sums of squares lose the variance to
    cancellation when the mean is large against the spread (mean 1e8, sd 1 gives variance 0),
    and a constant signal would get a spurious positive variance. Sketches with different
    shifts still merge exactly in exact arithmetic (sums are re-centred); with equal shifts
    the sums simply add. Values further than ``MAX_DEVIATION`` from the shift are left out,
    as non-finite ones are: one absurd value (1e152) would overflow the sum of squares and
    make the moments — and every checkpoint holding them — infinite.
    """

    kind = "moments"
    __slots__ = ("data", "shift")

    def __init__(self, data: FloatArray | None = None, shift: float = 0.0) -> None:
        # columns: n, sum, sum of squares (of x - shift)
        self.data = np.zeros((1, 3)) if data is None else data
        self.shift = float(shift)

    MAX_DEVIATION = 1e100

    @classmethod
    def fit(cls, values: FloatArray) -> Self:
        """An empty sketch shifted by the reference's lower median (0 when it has no value)."""
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        return cls(shift=float(np.quantile(finite, 0.5, method="lower")) if finite.size else 0.0)

    def update(self, values: FloatArray, segments: IntArray | None = None) -> None:
        with np.errstate(invalid="ignore", over="ignore"):
            keep = np.abs(values - self.shift) <= self.MAX_DEVIATION  # NaN, ±inf: False
        values = values[keep] - self.shift
        if values.size == 0:
            return
        if segments is None:
            # not np.dot: BLAS splits it over its threads, so the sum's rounding (and every
            # statistic after it) would depend on the machine's CPU count
            self.data[0] += (values.size, values.sum(), np.sum(values * values))
            return
        segments = segments[keep]
        rows = int(segments.max()) + 1
        if rows > self.data.shape[0]:
            self.data = np.vstack([self.data, np.zeros((rows - self.data.shape[0], 3))])
        self.data[:rows, 0] += np.bincount(segments, minlength=rows)
        self.data[:rows, 1] += np.bincount(segments, weights=values, minlength=rows)
        self.data[:rows, 2] += np.bincount(segments, weights=values * values, minlength=rows)

    def empty(self) -> Self:
        return type(self)(shift=self.shift)

    def _centred(self, shift: float) -> FloatArray:
        """``data`` as sums of ``x − shift``."""
        d = self.shift - shift
        if d == 0:
            return self.data
        n, s, ss = self.data.T
        return np.column_stack([n, s + n * d, ss + 2 * d * s + n * d * d])

    def merge(self, other: Self) -> Self:
        shift = self.shift if self.total or not other.total else other.shift
        a, b = self._centred(shift), other._centred(shift)
        rows = max(a.shape[0], b.shape[0])
        out = np.zeros((rows, 3))
        out[: a.shape[0]] += a
        out[: b.shape[0]] += b
        return type(self)(out, shift)

    def stats(self, segment: int | None = None) -> tuple[float, float, float]:
        """(n, mean, population variance) for a segment or all."""
        if segment is None:
            n, s, ss = self.data.sum(axis=0)
        elif segment >= self.data.shape[0]:
            return 0.0, float("nan"), float("nan")
        else:
            n, s, ss = self.data[segment]
        if n == 0:
            return 0.0, float("nan"), float("nan")
        mean = s / n
        return float(n), float(self.shift + mean), float(max(ss / n - mean * mean, 0.0))

    @property
    def total(self) -> int:
        return int(self.data[:, 0].sum())

    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": self.data.tolist(), "shift": self.shift}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Self:
        return cls.from_state(validated(MomentsState, snap, "moments"))

    @classmethod
    def from_state(cls, s: MomentsState) -> Self:
        return cls(np.asarray(s.data, np.float64).reshape(-1, 3), s.shift)


class ScoreHistogram:
    """Per segment and score bin: labelled negatives, positives, and the sum of their scores.

    The sketch of the score-based performance monitors (``auc``, ``calibration``): it reads
    the ``score_label`` signal, an (n, 2) column of (score, 1.0 positive / 0.0 other label /
    NaN unlabelled). Bins are ``QuantileHistogram``'s — inner ``edges`` at the reference's
    quantiles, bin ``i`` holds ``edges[i-1] <= score < edges[i]`` — so a few distinct scores
    each get a bin of their own. Counts add exactly; score sums add as floats. Events without
    a label or a finite score, or with ``|score| > MAX_SCORE`` (a sum must stay finite), are
    left out.
    """

    kind = "score_histogram"
    __slots__ = ("counts", "edges", "sums")
    MAX_SCORE = 1e100

    def __init__(self, edges: FloatArray, counts: IntArray | None = None,
                 sums: FloatArray | None = None) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        bins = self.edges.size + 1
        # counts: [negatives of bins 0..B-1, positives of bins 0..B-1] per segment row
        self.counts = np.zeros((1, 2 * bins), np.int64) if counts is None else counts
        self.sums = np.zeros((1, bins)) if sums is None else sums

    @classmethod
    def fit(cls, values: FloatArray, grid: int) -> Self:
        """Edges at the i/grid quantiles of the labelled reference scores (empty sketch)."""
        keep = cls._kept(values)
        return cls(QuantileHistogram.fit(values[keep, 0], grid).edges)

    @classmethod
    def _kept(cls, values: FloatArray) -> npt.NDArray[np.bool_]:
        with np.errstate(invalid="ignore"):
            keep: npt.NDArray[np.bool_] = ~np.isnan(values[:, 1]) & (
                np.abs(values[:, 0]) <= cls.MAX_SCORE)
        return keep

    @property
    def bins(self) -> int:
        return self.edges.size + 1

    def update(self, values: FloatArray, segments: IntArray | None = None) -> None:
        values = np.asarray(values, np.float64).reshape(-1, 2)
        keep = self._kept(values)
        if not keep.all():
            values = values[keep]
            segments = None if segments is None else segments[keep]
        if values.shape[0] == 0:
            return
        score = values[:, 0]
        idx = np.searchsorted(self.edges, score, side="right")
        cols = idx + self.bins * (values[:, 1] == 1.0)
        self.counts = _bincount2d(segments, cols, 2 * self.bins, self.counts)
        rows = 1 if segments is None else int(segments.max()) + 1
        if rows > self.sums.shape[0]:
            self.sums = np.vstack([self.sums, np.zeros((rows - self.sums.shape[0], self.bins))])
        flat = idx if segments is None else segments * self.bins + idx
        self.sums[:rows] += np.bincount(flat, weights=score,
                                        minlength=rows * self.bins).reshape(rows, self.bins)

    def empty(self) -> Self:
        return type(self)(self.edges)

    def merge(self, other: Self) -> Self:
        rows = max(self.sums.shape[0], other.sums.shape[0])
        sums = np.zeros((rows, self.bins))
        sums[: self.sums.shape[0]] += self.sums
        sums[: other.sums.shape[0]] += other.sums
        return type(self)(self.edges, _add_aligned(self.counts, other.counts), sums)

    def rows(self, codes: IntArray | None) -> tuple[IntArray, IntArray, FloatArray]:
        """(negatives, positives, score sums) per bin, one row per code (None: one row, all
        segments summed); zeros for codes the sketch never saw."""
        if codes is None:
            counts, sums = self.counts.sum(axis=0)[None, :], self.sums.sum(axis=0)[None, :]
        else:
            counts = np.zeros((codes.size, 2 * self.bins), np.int64)
            sums = np.zeros((codes.size, self.bins))
            inside = codes < self.counts.shape[0]
            counts[inside] = self.counts[codes[inside]]
            inside_s = codes < self.sums.shape[0]
            sums[inside_s] = self.sums[codes[inside_s]]
        return counts[:, : self.bins], counts[:, self.bins:], sums

    def row(self, segment: int | None) -> IntArray:
        """Labelled events per bin of one segment (None: all), as ``QuantileHistogram.row``."""
        neg, pos, _ = self.rows(None if segment is None else np.array([segment], np.int64))
        out: IntArray = (neg + pos)[0]
        return out

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def snapshot(self) -> dict[str, Any]:
        b = self.bins
        return {"kind": self.kind, "edges": self.edges.tolist(),
                "negatives": self.counts[:, :b].tolist(), "positives": self.counts[:, b:].tolist(),
                "sums": self.sums.tolist()}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Self:
        return cls.from_state(validated(ScoreHistogramState, snap, "score histogram"))

    @classmethod
    def from_state(cls, s: ScoreHistogramState) -> Self:
        b = len(s.edges) + 1
        neg = np.asarray(s.negatives, np.int64).reshape(-1, b)
        pos = np.asarray(s.positives, np.int64).reshape(-1, b)
        return cls(np.asarray(s.edges, np.float64), np.hstack([neg, pos]),
                   np.asarray(s.sums, np.float64).reshape(-1, b))


class DecisionHistogram:
    """Per segment, decision and score bin: events, labelled events, and wrong decisions.

    The sketch of the estimated (CBPE-style) error rate (``cbpe``): it reads the
    ``estimated_error`` signal, an (n, 3) column of (score, decision code, 1.0 wrong / 0.0
    right / NaN unlabelled). A cell is a (decision, score bin) pair; bins are the reference's
    score quantiles (``edges``, as ``QuantileHistogram``'s) plus one last bin for events
    without a finite score. Row r, column ``3·(decision·B + bin) + k`` counts k = 0 the
    events, 1 the labelled ones, 2 the wrong ones: new decision codes append columns, so
    counts add exactly across panes and partitions. Events without a decision are left out.
    """

    kind = "decision_histogram"
    __slots__ = ("counts", "edges")

    def __init__(self, edges: FloatArray, counts: IntArray | None = None) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self.counts = np.zeros((1, 3 * self.bins), np.int64) if counts is None else counts

    @classmethod
    def fit(cls, values: FloatArray, grid: int) -> Self:
        """Edges at the i/grid quantiles of the reference's finite scores (empty sketch)."""
        values = np.asarray(values, np.float64).reshape(-1, 3)
        return cls(QuantileHistogram.fit(values[values[:, 1] >= 0, 0], grid).edges)

    @property
    def bins(self) -> int:
        """Score bins, the last one for events without a finite score."""
        return self.edges.size + 2

    @property
    def decisions(self) -> int:
        return int(self.counts.shape[1]) // (3 * self.bins)

    def update(self, values: FloatArray, segments: IntArray | None = None) -> None:
        values = np.asarray(values, np.float64).reshape(-1, 3)
        keep = values[:, 1] >= 0
        if not keep.all():
            values = values[keep]
            segments = None if segments is None else segments[keep]
        if values.shape[0] == 0:
            return
        score, wrong = values[:, 0], values[:, 2]
        finite = np.isfinite(score)
        idx = np.where(finite, np.searchsorted(self.edges, np.where(finite, score, 0.0),
                                               side="right"), self.bins - 1)
        cell = 3 * (values[:, 1].astype(np.int64) * self.bins + idx)
        width = 3 * self.bins * (int(values[:, 1].max()) + 1)
        labelled = ~np.isnan(wrong)
        bad = labelled & (wrong == 1.0)
        cols = np.concatenate([cell, cell[labelled] + 1, cell[bad] + 2])
        rows = None if segments is None else np.concatenate(
            [segments, segments[labelled], segments[bad]])
        self.counts = _bincount2d(rows, cols, max(width, self.counts.shape[1]), self.counts)

    def empty(self) -> Self:
        return type(self)(self.edges)

    def merge(self, other: Self) -> Self:
        return type(self)(self.edges, _add_aligned(self.counts, other.counts))

    def cells(self, codes: IntArray | None, decisions: int | None = None) -> IntArray:
        """(rows, 3, decisions, bins): events, labelled, wrong per cell, one row per code
        (None: one row, every segment summed); zeros for codes and decisions never seen."""
        d = max(self.decisions, decisions or 0)
        width = 3 * self.bins * d
        if codes is None:
            flat = _grow(self.counts.sum(axis=0)[None, :], 1, width)
        else:
            flat = np.zeros((codes.size, width), np.int64)
            inside = codes < self.counts.shape[0]
            flat[inside, : self.counts.shape[1]] = self.counts[codes[inside]]
        out: IntArray = flat.reshape(-1, d, self.bins, 3).transpose(0, 3, 1, 2)
        return out

    def row(self, segment: int | None) -> IntArray:
        """Events per score bin of one segment (None: all), decisions summed."""
        cells = self.cells(None if segment is None else np.array([segment], np.int64))
        out: IntArray = cells[0, 0].sum(axis=0)
        return out

    @property
    def total(self) -> int:
        return int(self.counts[:, 0::3].sum())

    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": self.edges.tolist(), "counts": self.counts.tolist()}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Self:
        return cls.from_state(validated(DecisionHistogramState, snap, "decision histogram"))

    @classmethod
    def from_state(cls, s: DecisionHistogramState) -> Self:
        width = len(s.counts[0])
        return cls(np.asarray(s.edges, np.float64),
                   np.asarray(s.counts, np.int64).reshape(len(s.counts), width))


Sketch = QuantileHistogram | CountTable | Moments | ScoreHistogram | DecisionHistogram

_KINDS: dict[str, type[Sketch]] = {
    QuantileHistogram.kind: QuantileHistogram,
    CountTable.kind: CountTable,
    Moments.kind: Moments,
    ScoreHistogram.kind: ScoreHistogram,
    DecisionHistogram.kind: DecisionHistogram,
}


def merge(a: Sketch, b: Sketch) -> Sketch:
    """``a`` merged with ``b``, which must be a sketch of the same kind and layout."""
    if isinstance(a, QuantileHistogram) and isinstance(b, QuantileHistogram):
        return a.merge(b)
    if isinstance(a, CountTable) and isinstance(b, CountTable):
        return a.merge(b)
    if isinstance(a, Moments) and isinstance(b, Moments):
        return a.merge(b)
    if isinstance(a, ScoreHistogram) and isinstance(b, ScoreHistogram):
        return a.merge(b)
    if isinstance(a, DecisionHistogram) and isinstance(b, DecisionHistogram):
        return a.merge(b)
    raise TypeError(f"cannot merge a {type(a).__name__} with a {type(b).__name__}")


def sketch_from_state(s: SketchState) -> Sketch:
    """The sketch a validated state describes."""
    if isinstance(s, QuantileHistogramState):
        return QuantileHistogram.from_state(s)
    if isinstance(s, CountTableState):
        return CountTable.from_state(s)
    if isinstance(s, ScoreHistogramState):
        return ScoreHistogram.from_state(s)
    if isinstance(s, DecisionHistogramState):
        return DecisionHistogram.from_state(s)
    return Moments.from_state(s)


def restore_sketch(snap: dict[str, Any]) -> Sketch:
    """Rebuild any sketch from its ``snapshot()``, validated (``StateError`` if it is not one)."""
    kind = snap.get("kind") if isinstance(snap, dict) else None
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise StateError(f"sketch: unknown kind {kind!r} (one of {sorted(_KINDS)})")
    return cls.restore(snap)
