"""Columnar evaluations: one row per segment value, so a monitor's segments are one numpy pass.

A segmented monitor over 10,000 store values used to cost 10,000 Python evaluations per
window, most of them of segments too small to judge or nowhere near a threshold. A
``SegmentTable`` holds the judged columns (value, p-value, counts) as arrays; the judge
reads them vectorised (one Benjamini–Hochberg step, levels, sufficiency) and only the
rows that matter — breaching, or with an incident to follow — become ``Evaluation``
objects, through ``evaluation(i)``, which builds exactly what the per-segment path built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from driftline.detectors.sketches import CountTable, FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Evaluation:
    """One statistic for one segment of one window, before any judgement."""

    detector: str
    statistic: str
    value: float
    p_value: float | None
    n_reference: int
    n_current: int
    segment: str | None = None
    top_contributors: tuple[dict[str, Any], ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    #: a sequential detector decides by itself (True: breach); None: p-value and thresholds do
    verdict: bool | None = None


class SegmentNames(Sequence[tuple[int, str]]):
    """The (code, name) pairs of a vocabulary, without building 10,000 tuples per window.

    ``code_of`` maps a name to its code (the vocabulary's own dict), so the judge finds the
    row of a segment it follows without a pass over every name.
    """

    __slots__ = ("code_of", "names")

    def __init__(self, names: Sequence[str], code_of: Mapping[str, int] | None = None) -> None:
        self.names = names
        self.code_of = code_of

    def __len__(self) -> int:
        return len(self.names)

    # Sequence also takes a slice; segment rows are read one index at a time
    def __getitem__(self, i: int) -> tuple[int, str]:  # type: ignore[override]
        return (range(len(self.names))[i], self.names[i])


def segment_codes(segments: Sequence[tuple[int, str]],
                  ) -> tuple[IntArray, Sequence[str], Mapping[str, int] | None]:
    """Codes and names of the segments to evaluate, in order, and name → row when known."""
    if isinstance(segments, SegmentNames):
        return np.arange(len(segments.names), dtype=np.int64), segments.names, segments.code_of
    codes = np.fromiter((c for c, _ in segments), np.int64, len(segments))
    return codes, [n for _, n in segments], None


def rows_of(table: CountTable, codes: IntArray, width: int) -> IntArray:
    """``table.row(code, width)`` for every code at once (zeros for codes it never saw)."""
    counts = table.counts
    out = np.zeros((codes.size, max(width, counts.shape[1])), np.int64)
    inside = codes < counts.shape[0]
    out[inside, : counts.shape[1]] = counts[codes[inside]]
    return out


def two_proportion_z_arrays(s1: IntArray | FloatArray, n1: IntArray | FloatArray,
                            s2: IntArray | FloatArray, n2: IntArray | FloatArray,
                            ) -> tuple[FloatArray, FloatArray]:
    """``segment_rate.two_proportion_z`` over arrays, with the same operations in the same order.

    (z, p) is (0, 1) where either side is empty or the pooled variance is not positive.
    """
    a, m, b, n = (np.asarray(x) for x in (s1, n1, s2, n2))
    ok = (m != 0) & (n != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (a + b) / (m + n)
        var = pooled * (1 - pooled) * (1 / m + 1 / n)
        ok &= var > 0
        z = np.where(ok, (b / n - a / m) / np.sqrt(np.where(ok, var, 1.0)), 0.0)
    p = np.where(ok, 2 * special.ndtr(-np.abs(z)), 1.0)
    return z, p


def ratio_or(num: IntArray | FloatArray, den: IntArray | FloatArray, default: float,
             ) -> FloatArray:
    """``num / den`` where ``den`` is non-zero, else ``default``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(den != 0, num / np.where(den != 0, den, 1), default)
    return out


def finite_or_none(x: float) -> float | None:
    """A statistic for JSON: the float, or None where it is not finite (NaN, ±inf)."""
    return float(x) if np.isfinite(x) else None


def edge(x: float) -> float | str:
    """A bin edge for JSON: the float, or "-inf" / "inf" (JSON has no infinities)."""
    return float(x) if np.isfinite(x) else ("-inf" if x < 0 else "inf")


@dataclass(frozen=True)
class SegmentTable:
    """A detector's evaluations of one window, as columns; row i is segment ``names[i]``.

    ``keep`` marks the rows that are evaluations (a detector may leave a segment out: a
    disparate-impact group too small to compare, a volume segment new since the reference);
    ``p_value`` is NaN where the detector gives none, ``verdict`` NaN where it does not
    decide by itself (else 1.0 breach, 0.0 not). ``columns`` holds what a detector's own
    sufficiency rule reads (volume: ``expected``). ``build(i)`` makes row i's ``Evaluation``.
    """

    detector: str
    statistic: str
    names: Sequence[str | None]
    value: FloatArray
    p_value: FloatArray
    n_reference: IntArray
    n_current: IntArray
    keep: BoolArray
    build: Callable[[int], Evaluation]
    verdict: FloatArray | None = None
    columns: dict[str, FloatArray] = field(default_factory=dict)
    index: Mapping[str, int] | None = None

    def __len__(self) -> int:
        return int(self.value.size)

    @property
    def rows(self) -> IntArray:
        """Indices of the rows that are evaluations, in order."""
        out: IntArray = np.flatnonzero(self.keep)
        return out

    def row_of(self, name: str | None) -> int | None:
        """The row of segment ``name``, None if the table has none."""
        if self.index is not None and name is not None:
            i = self.index.get(name)
            return i if i is not None and i < len(self) and self.names[i] == name else None
        try:
            return list(self.names).index(name)
        except ValueError:
            return None

    def evaluations(self) -> list[Evaluation]:
        """Every kept row as an ``Evaluation`` (the per-segment view)."""
        return [self.build(int(i)) for i in self.rows]

    @classmethod
    def of(cls, detector: str, statistic: str, evals: Sequence[Evaluation]) -> SegmentTable:
        """A table over evaluations that already exist (detectors evaluated per segment)."""
        n = len(evals)
        return cls(
            detector, statistic, [e.segment for e in evals],
            np.fromiter((e.value for e in evals), np.float64, n),
            np.fromiter((np.nan if e.p_value is None else e.p_value for e in evals),
                        np.float64, n),
            np.fromiter((e.n_reference for e in evals), np.int64, n),
            np.fromiter((e.n_current for e in evals), np.int64, n),
            np.ones(n, bool), evals.__getitem__,
            np.fromiter((np.nan if e.verdict is None else float(e.verdict) for e in evals),
                        np.float64, n))
