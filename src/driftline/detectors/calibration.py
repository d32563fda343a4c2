"""Calibration error of a score against its reference's, from the score histogram.

The sketch is AUC's (``ScoreHistogram``: per segment and fine score bin, the labelled
negatives, positives and sum of scores), read at ``bins`` coarse bins — groups of
``grid/bins`` fine ones, which are the reference's ``1/bins`` quantiles (the coarse quantiles
are a subset of the fine ones, as PSI's). Per coarse bin: n_b labelled events, their mean
score and their positive rate (``calibration_curve``'s prob_pred and prob_true), and::

    ECE = Σ_b (n_b/N)·|mean_score_b − positive_rate_b|

The test is Hosmer–Lemeshow's idea against the reference instead of against the scores: each
bin's current positive count against n_b × the reference's positive rate of that bin, with
the reference rate's own sampling error in the variance (a bin's pooled two-proportion z²,
so a small reference does not pass for a change), summed over the bins with data on both
sides and some variance: chi-square with df = those bins. The *value* is ECE_current −
ECE_reference (``direction = "above"``: a calibration that worsens is the breach; thresholds
0.03 / 0.06). ECE is biased upwards in small windows (each bin's |gap| has a floor of about
√(2/π)·√(r(1−r)/n_b) from sampling alone), so the default minimum effect leaves room for it;
the chi-square, not the value, says whether anything changed.

Orientation, ``min_class`` and untestable rows are AUC's (``auc.py``): when the reference
ranks the other class higher, the classes swap: the score is read as the other class's
probability and compared with the other class's rate.

>>> import numpy as np
>>> rng = np.random.default_rng(8)
>>> def scored(n, bias):
...     s = rng.random(n)
...     return np.column_stack([s, (rng.random(n) < np.clip(s + bias, 0, 1)).astype(float)])
>>> det = Calibration()
>>> ref = det.fit(scored(20_000, 0.0), None)
>>> cur = det.new_sketch(ref); cur.update(scored(4_000, -0.15))
>>> e = det.evaluate(cur, ref, EvalContext())[0]
>>> round(e.details["reference_ece"], 3), round(e.value, 2), e.p_value < 1e-9
(0.009, 0.13, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import special

from driftline.detectors.auc import labelled, oriented, rows_to_evaluate
from driftline.detectors.base import EvalContext, Evaluation, Memory, ScoreDetector
from driftline.detectors.sketches import FloatArray, IntArray, ScoreHistogram, Sketch
from driftline.detectors.table import SegmentTable, edge, finite_or_none, ratio_or


@dataclass(frozen=True)
class CalibrationBins:
    """Per row and coarse bin: labelled events, positives, mean score and positive rate."""

    n: FloatArray
    positives: FloatArray
    mean_score: FloatArray  # NaN in an empty bin
    rate: FloatArray  # NaN in an empty bin

    @property
    def ece(self) -> FloatArray:
        """Expected calibration error per row (NaN for a row without labelled events)."""
        total = self.n.sum(axis=1)
        gap = np.where(self.n > 0, np.abs(self.mean_score - self.rate), 0.0)
        return ratio_or((self.n * gap).sum(axis=1), total, float("nan"))


def calibration_bins(neg: IntArray, pos: IntArray, sums: FloatArray, bins: int,
                     ) -> CalibrationBins:
    """The fine (rows, grid) counts and score sums grouped into ``bins`` coarse bins."""
    rows = neg.shape[0]
    n0, n1 = (a.reshape(rows, bins, -1).sum(axis=2).astype(np.float64) for a in (neg, pos))
    n = n0 + n1
    s = sums.reshape(rows, bins, -1).sum(axis=2)
    return CalibrationBins(n, n1, ratio_or(s, n, float("nan")), ratio_or(n1, n, float("nan")))


def homogeneity(ref: CalibrationBins, cur: CalibrationBins) -> tuple[FloatArray, FloatArray,
                                                                     FloatArray]:
    """Per row: Σ_b of each bin's pooled two-proportion z² (current rate vs reference rate),
    its degrees of freedom (bins with events on both sides and a pooled rate in (0, 1)), and
    the chi-square p-value (1 where df = 0)."""
    m, n = ref.n, cur.n
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (ref.positives + cur.positives) / (m + n)
        var = pooled * (1 - pooled) * (1 / m + 1 / n)
        ok = (m > 0) & (n > 0) & (var > 0)
        z2 = np.where(ok, (cur.rate - ref.rate) ** 2 / np.where(ok, var, 1.0), 0.0)
    stat, df = z2.sum(axis=1), ok.sum(axis=1).astype(np.float64)
    p = np.where(df > 0, special.chdtrc(np.maximum(df, 1.0), stat), 1.0)
    return stat, df, p


@dataclass(frozen=True)
class Calibration(ScoreDetector):
    """Expected calibration error per segment vs its reference's (chi-square); value: the
    change in ECE."""

    bins: int = 10
    grid: int = 200
    min_class: int = 20

    name: ClassVar[str] = "calibration"
    statistic: ClassVar[str] = "ece_difference"
    direction: ClassVar = "above"
    default_thresholds: ClassVar[tuple[float, float]] = (0.03, 0.06)

    def __post_init__(self) -> None:
        if self.bins < 1 or self.grid % self.bins or self.min_class < 1:
            raise ValueError(f"grid ({self.grid}) must be a multiple of bins ({self.bins}), "
                             "min_class at least 1")

    def read(self, sketch: ScoreHistogram, codes: IntArray | None, flip: bool,
             ) -> CalibrationBins:
        """The coarse bins of ``sketch``; with ``flip``, the classes swapped: the score is the
        other class's probability, and it is compared with that class's rate. (Swapping the
        classes *and* reading the score as 1 − s would undo the swap: a calibrated score of
        the other class would show an ECE near 0.5.)"""
        neg, pos = labelled(sketch, codes, flip)
        _, _, sums = sketch.rows(codes)
        return calibration_bins(neg, pos, sums, self.bins)

    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """Every segment's calibration test at once (one row, 'all', when unsegmented)."""
        assert isinstance(current, ScoreHistogram) and isinstance(reference, ScoreHistogram)
        codes, names, index = rows_to_evaluate(ctx)
        flip = oriented(reference)
        ref, cur = self.read(reference, codes, flip), self.read(current, codes, flip)
        ece_ref, ece_cur = ref.ece, cur.ece
        stat, df, p = homogeneity(ref, cur)
        diff = np.where(np.isfinite(ece_ref) & np.isfinite(ece_cur), ece_cur - ece_ref, 0.0)
        n_ref, n_cur = ref.n.sum(axis=1), cur.n.sum(axis=1)
        pos_ref, pos_cur = ref.positives.sum(axis=1), cur.positives.sum(axis=1)
        keep = np.minimum(pos_ref, n_ref - pos_ref) >= self.min_class
        edges = np.asarray(reference.edges)[self.grid // self.bins - 1:: self.grid // self.bins]

        def build(i: int) -> Evaluation:
            return Evaluation(
                detector=self.name, statistic=self.statistic, value=float(diff[i]),
                p_value=float(p[i]), n_reference=int(n_ref[i]), n_current=int(n_cur[i]),
                segment=names[i], top_contributors=_worst_bins(ref, cur, i, edges),
                details={"reference_ece": finite_or_none(ece_ref[i]),
                         "current_ece": finite_or_none(ece_cur[i]),
                         "chi2": float(stat[i]), "df": int(df[i]), "bins": self.bins,
                         "positives": int(pos_cur[i]),
                         "negatives": int(n_cur[i] - pos_cur[i]),
                         "score_of": "other" if flip else "positive"})

        minority = np.minimum(pos_cur, n_cur - pos_cur)
        return SegmentTable(self.name, self.statistic, names, diff, p, n_ref.astype(np.int64),
                            n_cur.astype(np.int64), keep, build,
                            columns={"minority": minority}, index=index)


def _worst_bins(ref: CalibrationBins, cur: CalibrationBins, i: int, edges: FloatArray,
                k: int = 3) -> tuple[dict[str, Any], ...]:
    """The bins that add most to the current ECE: score range, mean score, rates."""
    n = cur.n[i]
    total = n.sum()
    if not total:
        return ()
    lows, highs = np.concatenate([[-np.inf], edges]), np.concatenate([edges, [np.inf]])
    share = np.where(n > 0, n * np.abs(cur.mean_score[i] - cur.rate[i]) / total, 0.0)
    return tuple(
        {"bin": [edge(lows[b]), edge(highs[b])], "events": int(n[b]),
         "mean_score": round(float(cur.mean_score[i, b]), 6),
         "positive_rate": round(float(cur.rate[i, b]), 6),
         "reference_positive_rate": finite_or_none(ref.rate[i, b]),
         "contribution": round(float(share[b]), 6)}
        for b in np.argsort(-share)[:k] if share[b] > 0)
