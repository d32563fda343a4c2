"""The one shape every detector has.

A detector is a *test*: it fits a reference sketch, names the sketch it reads
(``sketch_key``; detectors with equal keys share one sketch per pane), and
evaluates a current sketch against the reference. Mutable state lives only in
sketches (``sketches.py``), which merge exactly across panes and partitions.

Detectors are pure: no I/O, no clock, no metrics. Whether an evaluation is a
breach (thresholds, minimum counts, FDR) and what severity it gets is decided
by the pipeline and the incident manager, not here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from driftline.detectors.sketches import (
    CountTable,
    FloatArray,
    IntArray,
    Moments,
    QuantileHistogram,
    ScoreHistogram,
    Sketch,
)
from driftline.detectors.table import BoolArray, Evaluation, SegmentTable

__all__ = ["Evaluation", "SegmentTable"]

Direction = Literal["above", "below", "both"]


@dataclass(frozen=True)
class EvalContext:
    """Names for the integer codes a sketch holds.

    ``segments`` lists the segment codes to evaluate with their names; None means
    the monitor is not segmented (one evaluation over everything).
    """

    segments: Sequence[tuple[int, str]] | None = None
    categories: Sequence[str] = ()
    min_reference: int = 100


class Memory(Protocol):
    """Cross-window state of a detector that remembers (plain data in its snapshot)."""

    def snapshot(self) -> dict[str, Any]: ...


class Detector(ABC):
    """A statistical test of a current window's sketch against a reference sketch."""

    name: ClassVar[str]
    statistic: ClassVar[str]
    #: "above": larger values are worse (PSI, D); "below": smaller are worse (a ratio);
    #: "both": a departure either way is (a rate difference, a mean shift).
    direction: ClassVar[Direction] = "above"
    #: (warning, critical) on ``Evaluation.value`` when the config gives none.
    default_thresholds: ClassVar[tuple[float, float]]
    #: "numeric" detectors read floats, "categorical" read vocabulary codes,
    #: "binary" read 0/1 outcomes, "volume" read only segment codes, "scored" read
    #: (score, label) pairs (``performance.py``'s ``score_label``), "estimated" read
    #: (score, decision, wrong) triples (``estimated_error``).
    input_kind: ClassVar[Literal["numeric", "categorical", "binary", "volume", "scored",
                                 "estimated"]]

    @abstractmethod
    def sketch_key(self) -> Hashable:
        """Detectors whose keys are equal can read the same sketch."""

    @abstractmethod
    def new_sketch(self, reference: Sketch | None = None) -> Sketch:
        """An empty sketch with the layout of ``reference`` (or a layout-free one)."""

    def fit(self, values: FloatArray | IntArray, segments: IntArray | None) -> Sketch:
        """Build the reference sketch from reference values."""
        sketch = self.new_sketch()
        sketch.update(values, segments)  # type: ignore[arg-type]  # kinds checked by input_kind
        return sketch

    @abstractmethod
    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        """Compare ``current`` with ``reference``, one evaluation per segment in ``ctx``.

        ``memory`` is what ``new_memory`` gave for this monitor and model, carried from
        window to window (None for detectors without memory): evaluating updates it.
        """

    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """``evaluate`` as columns; detectors that evaluate segments as arrays override it."""
        return SegmentTable.of(self.name, self.statistic,
                               self.evaluate(current, reference, ctx, memory))

    def sufficient_rows(self, table: SegmentTable, min_samples: int) -> BoolArray:
        """``sufficient`` for every row of ``table`` (False where the row is no evaluation)."""
        out: BoolArray = (table.n_current >= min_samples) & table.keep
        return out

    def new_memory(self) -> Memory | None:
        """Fresh cross-window memory; None for detectors that judge each window alone."""
        return None

    def restore_memory(self, snap: dict[str, Any]) -> Memory:
        """The memory ``snapshot()`` gave, validated (``StateError`` if it is not one)."""
        raise TypeError(f"{type(self).__name__} keeps no memory across windows")

    def sufficient(self, evaluation: Evaluation, min_samples: int) -> bool:
        """Whether the evaluation rests on enough events to be judged at all."""
        return evaluation.n_current >= min_samples


class ColumnarDetector(Detector):
    """A detector that tests every segment at once, as arrays: ``evaluate_table`` is the
    test, ``evaluate`` the same rows as objects (explain, doctests, the generic checks)."""

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        return self.evaluate_table(current, reference, ctx, memory).evaluations()

    @abstractmethod
    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """Every segment's test as the columns of one table."""


class MomentsDetector(Detector):
    """A detector of a numeric signal read on count, sum and sum of squares (``Moments``):
    the mean shift and the gradual detector of one signal share that sketch."""

    input_kind: ClassVar = "numeric"

    def sketch_key(self) -> Hashable:
        return ("moments",)

    def new_sketch(self, reference: Sketch | None = None) -> Moments:
        if reference is None:
            return Moments()
        assert isinstance(reference, Moments)
        return reference.empty()

    def fit(self, values: FloatArray | IntArray, segments: IntArray | None) -> Moments:
        sketch = Moments.fit(np.asarray(values, np.float64))
        sketch.update(np.asarray(values, np.float64), segments)
        return sketch


class QuantileDetector(Detector):
    """A detector of a numeric signal read on the shared reference-quantile histogram.

    Subclasses are dataclasses with a ``grid`` field: detectors with equal grids
    (PSI and KS by default) share one histogram per signal.
    """

    grid: int
    input_kind: ClassVar = "numeric"

    def sketch_key(self) -> Hashable:
        return ("quantile_histogram", self.grid)

    def new_sketch(self, reference: Sketch | None = None) -> QuantileHistogram:
        if reference is None:
            return QuantileHistogram.fit(np.empty(0), self.grid)
        assert isinstance(reference, QuantileHistogram)
        return reference.empty()

    def fit(self, values: FloatArray | IntArray, segments: IntArray | None) -> QuantileHistogram:
        values = np.asarray(values, np.float64)
        sketch = QuantileHistogram.fit(values, self.grid)
        sketch.update(values, segments)
        return sketch


class ScoreDetector(ColumnarDetector):
    """A detector of (score, label) pairs read on the shared ``ScoreHistogram``.

    Subclasses are dataclasses with ``grid`` (bins of the sketch: detectors with equal grids
    share one per slot) and ``min_class`` (fewer positives or negatives: nothing to judge).
    A table row's ``columns["minority"]`` is the window's count of its rarer class.
    """

    grid: int
    min_class: int
    input_kind: ClassVar = "scored"

    def sketch_key(self) -> Hashable:
        return ("score_histogram", self.grid)

    def new_sketch(self, reference: Sketch | None = None) -> ScoreHistogram:
        if reference is None:
            return ScoreHistogram.fit(np.empty((0, 2)), self.grid)
        assert isinstance(reference, ScoreHistogram)
        return reference.empty()

    def fit(self, values: FloatArray | IntArray, segments: IntArray | None) -> ScoreHistogram:
        values = np.asarray(values, np.float64).reshape(-1, 2)
        sketch = ScoreHistogram.fit(values, self.grid)
        sketch.update(values, segments)
        return sketch

    def sufficient_rows(self, table: SegmentTable, min_samples: int) -> BoolArray:
        """Enough labelled events, and at least ``min_class`` of each class."""
        out: BoolArray = (table.n_current >= min_samples) & table.keep & (
            table.columns["minority"] >= self.min_class)
        return out

    def sufficient(self, evaluation: Evaluation, min_samples: int) -> bool:
        d = evaluation.details
        return evaluation.n_current >= min_samples and min(
            d.get("positives", 0), d.get("negatives", 0)) >= self.min_class


class CountDetector(Detector):
    """A detector reading a per-segment count table (categories, outcomes or volumes)."""

    table: ClassVar[str] = "count_table"

    def sketch_key(self) -> Hashable:
        return (self.table,)

    def new_sketch(self, reference: Sketch | None = None) -> CountTable:
        return CountTable()


def segment_rows(ctx: EvalContext) -> Sequence[tuple[int | None, str | None]]:
    """The (code, name) pairs to evaluate; (None, None) stands for 'all events'."""
    if ctx.segments is None:
        return [(None, None)]
    return list(ctx.segments)


def reference_row(
    reference_counts: IntArray, overall: IntArray, min_reference: int
) -> tuple[IntArray, str]:
    """A segment's own reference when it has enough events, else the overall one."""
    if reference_counts.sum() >= min_reference:
        return reference_counts, "segment"
    return overall, "overall"

