"""Disparate impact: each protected group's selection rate over the most-selected group's.

Two questions, a named option of the monitor each (``params: {question: ...}``):

- ``four_fifths`` (the default) — *is the 4/5 rule violated now?* A standing finding: the
  value is the group's ratio in the window (``selection_rate_ratio``); the four-fifths rule
  (EEOC) calls a ratio below 0.8 adverse impact. The reference is not consulted, so a gap that
  was already in the reference is reported from the first window on. The p-value is the
  two-proportion test of the group against the most-selected group.
- ``vs_reference`` — *did fairness get worse than in the reference?* Drift of the ratio: the
  value is the group's ratio now over its ratio in the reference, both against the window's
  most-selected group (``selection_rate_ratio_vs_reference``; 1 = unchanged, 0.8 = a fifth
  worse). The p-value tests the change of the log ratio (delta method, the four rates
  independent). A gap that was already in the reference is not reported; a worsening is,
  even above 0.8.

The thresholds (default 0.8 warning, 0.65 critical; lower is worse) apply to the value of the
chosen question. Groups with fewer than ``min_group`` events in the window (and, for
``vs_reference``, in the reference) are not compared: their ratio is noise.

>>> import numpy as np
>>> rng = np.random.default_rng(5)
>>> group = rng.integers(0, 2, 10_000)
>>> def sketch(rate_b):
...     chosen = rng.random(10_000) < np.where(group == 1, rate_b, 0.4)
...     s = DisparateImpact().new_sketch(); s.update(chosen.astype(np.int64), group)
...     return s
>>> ref, now = sketch(0.2), sketch(0.2)
>>> ctx = EvalContext(segments=[(0, "a"), (1, "b")])
>>> [(e.segment, round(e.value, 1)) for e in DisparateImpact().evaluate(now, ref, ctx)]
[('a', 1.0), ('b', 0.5)]
>>> drift = DisparateImpact(question="vs_reference")
>>> [(e.segment, round(e.value, 1), e.p_value > 0.01) for e in drift.evaluate(now, ref, ctx)]
[('a', 1.0, True), ('b', 1.1, True)]
>>> [(e.segment, round(e.value, 1), e.p_value > 0.01)
...  for e in drift.evaluate(sketch(0.1), ref, ctx)]
[('a', 1.0, True), ('b', 0.5, False)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import special

from driftline.detectors.base import ColumnarDetector, CountDetector, EvalContext, Evaluation, Memory
from driftline.detectors.sketches import CountTable, FloatArray, IntArray, Sketch
from driftline.detectors.table import (
    BoolArray,
    SegmentTable,
    ratio_or,
    rows_of,
    segment_codes,
    two_proportion_z_arrays,
)

QUESTIONS = ("four_fifths", "vs_reference")


@dataclass(frozen=True)
class DisparateImpact(ColumnarDetector, CountDetector):
    """Selection-rate ratio of each group to the most-selected group: the 4/5 rule now
    (``question="four_fifths"``) or the ratio's drift from the reference (``"vs_reference"``)."""

    min_group: int = 30
    question: Literal["four_fifths", "vs_reference"] = "four_fifths"

    name: ClassVar[str] = "disparate_impact"
    statistic: ClassVar[str] = "selection_rate_ratio"
    direction: ClassVar = "below"
    default_thresholds: ClassVar[tuple[float, float]] = (0.8, 0.65)
    input_kind: ClassVar = "binary"

    def __post_init__(self) -> None:
        if self.question not in QUESTIONS:
            raise ValueError(f"question {self.question!r}: use four_fifths (the 4/5 rule, now) "
                             "or vs_reference (the ratio's drift from the reference)")

    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """Every group against the most-selected one; groups under ``min_group`` are not kept."""
        assert isinstance(current, CountTable)
        index = None
        if ctx.segments is None:
            names: Sequence[str | None] = [None]
            cur = current.row(None, 2)[None, :]
            codes = None
        else:
            codes, seg_names, index = segment_codes(ctx.segments)
            cur, names = rows_of(current, codes, 2), seg_names
        n, s = cur.sum(axis=1), cur[:, 1]
        eligible = (n >= self.min_group) & (n > 0)
        rate = ratio_or(s, n, 0.0)
        best = int(np.argmax(np.where(eligible, rate, -1.0))) if eligible.any() else -1
        best_n, best_s = (int(n[best]), int(s[best])) if best >= 0 else (0, 0)
        best_rate = best_s / best_n if best_n else 0.0
        ratio = rate / best_rate if best_rate > 0 else np.ones(rate.size)
        best_name = names[best] if best >= 0 else None
        if self.question == "vs_reference":
            assert isinstance(reference, CountTable)
            ref = reference.row(None, 2)[None, :] if codes is None else rows_of(reference, codes, 2)
            return self._vs_reference((n, s, ratio, rate), ref, eligible, best,
                                      (names, best_name, best_rate), index)
        _, p = two_proportion_z_arrays(np.full(n.size, best_s), np.full(n.size, best_n), s, n)

        def build(i: int) -> Evaluation:
            return Evaluation(
                detector=self.name, statistic=self.statistic, value=float(ratio[i]),
                p_value=float(p[i]), n_reference=best_n, n_current=int(n[i]),
                segment=names[i],
                details={"selection_rate": float(rate[i]), "reference_group": best_name,
                         "reference_group_rate": best_rate})

        return SegmentTable(self.name, self.statistic, names, ratio, p,
                            np.full(n.size, best_n), n, eligible, build, index=index)

    def _vs_reference(self, now: tuple[IntArray, IntArray, FloatArray, FloatArray],
                      ref: IntArray, eligible: BoolArray, best: int,
                      named: tuple[Sequence[str | None], str | None, float],
                      index: Mapping[str, int] | None) -> SegmentTable:
        """Each group's ratio now over its ratio in the reference, both against the window's
        most-selected group ``best``; groups (or a comparator) thin in the reference are left out."""
        n, s, ratio_now, rate = now
        names, best_name, best_rate = named
        ref_n, ref_s = ref.sum(axis=1), ref[:, 1]
        ref_rate = ratio_or(ref_s, ref_n, 0.0)
        ref_bn, ref_bs = (int(ref_n[best]), int(ref_s[best])) if best >= 0 else (0, 0)
        keep = eligible & (ref_n >= self.min_group) & (ref_bn >= self.min_group)
        ref_best = ref_bs / ref_bn if ref_bn else 0.0
        ratio_ref = ref_rate / ref_best if ref_best > 0 else np.ones(n.size)
        value = ratio_or(ratio_now, ratio_ref, 1.0)  # nothing in the reference to fall from
        best_n, best_s = (int(n[best]), int(s[best])) if best >= 0 else (0, 0)
        p = log_ratio_change_p_arrays((s, n, best_s, best_n), (ref_s, ref_n, ref_bs, ref_bn))
        statistic = "selection_rate_ratio_vs_reference"

        def build(i: int) -> Evaluation:
            return Evaluation(
                detector=self.name, statistic=statistic, value=float(value[i]),
                p_value=float(p[i]), n_reference=int(ref_n[i]), n_current=int(n[i]),
                segment=names[i],
                details={"selection_rate": float(rate[i]), "reference_group": best_name,
                         "reference_group_rate": best_rate, "ratio": float(ratio_now[i]),
                         "reference_ratio": float(ratio_ref[i]),
                         "reference_selection_rate": float(ref_rate[i]),
                         "question": self.question})

        return SegmentTable(self.name, statistic, names, value, p, ref_n, n, keep, build,
                            index=index)


Counts = tuple[IntArray | int, IntArray | int, IntArray | int, IntArray | int]


def log_ratio_change_p_arrays(now: Counts, ref: Counts) -> FloatArray:
    """Two-sided p of log(ratio now) = log(ratio in the reference), per row.

    Each ratio is (s_g / n_g) / (s_b / n_b) as (s_g, n_g, s_b, n_b); the variance of a log
    rate is (1 − p) / (n p), with half an event added to every count so that empty or full
    groups stay finite.
    """
    def log_ratio_var(s_g: Any, n_g: Any, s_b: Any, n_b: Any) -> tuple[FloatArray, FloatArray]:
        pg = (np.asarray(s_g) + 0.5) / (np.asarray(n_g) + 1)
        pb = (np.asarray(s_b) + 0.5) / (np.asarray(n_b) + 1)
        var = (1 - pg) / ((np.asarray(n_g) + 1) * pg) + (1 - pb) / ((np.asarray(n_b) + 1) * pb)
        return np.log(pg / pb), var

    (a, va), (b, vb) = log_ratio_var(*now), log_ratio_var(*ref)
    z = (a - b) / np.sqrt(va + vb)
    out: FloatArray = np.asarray(special.erfc(np.abs(z) / math.sqrt(2)), dtype=np.float64)
    return out


def log_ratio_change_p(now: tuple[int, int, int, int], ref: tuple[int, int, int, int]) -> float:
    """``log_ratio_change_p_arrays`` of one group."""
    return float(log_ratio_change_p_arrays(now, ref))
