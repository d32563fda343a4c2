"""ROC AUC of a score against its reference's, from mergeable per-label score histograms.

The sketch (``ScoreHistogram``) holds, per segment and per score bin (the reference's
``1/grid`` quantiles), the labelled negatives h₋ and positives h₊. The AUC of the binned
scores, ties within a bin counted one half (as ``roc_auc_score`` counts tied scores)::

    AUC = Σ_b h₊[b]·(N₋[<b] + h₋[b]/2) / (n₊·n₋)

Binning only merges scores of one bin into a tie, so its distance from the exact AUC of the
raw scores is at most the tie term ``½·Σ_b h₊[b]·h₋[b]/(n₊·n₋)`` (``tie_bound`` in the
evaluation's details), and nil when every distinct score has a bin of its own. On the
reference, where each bin holds 1/grid of the labelled events, the term is at most
``1/(8·grid·π(1−π))`` (π the positive share, by h₊h₋ ≤ (h₊+h₋)²/4): the default grid of 200
keeps it ≤ 0.004 for 0.2 ≤ π ≤ 0.8, a fifth of the default minimum effect (0.02).

The test is DeLong's: his variance needs each positive's share of negatives ranked below it
(and each negative's of positives above) — the same for every event of a bin, so the sketch
gives it exactly for the binned scores, with no distributional assumption (Hanley–McNeil's
standard error assumes one). The z of AUC_current − AUC_reference (independent samples:
the variances add) gives a one-sided p-value: a drop is the breach, an AUC that improves is
no incident (``direction = "below"``, thresholds −0.02 / −0.05).

Orientation: the score is read as the positive class's; when the overall reference ranks the
other class higher (AUC < 0.5: the prediction is the score of the other class, as when the
positive class is the default rarer one), the classes swap for every row (``score_of``).

A row is no evaluation (``untestable``) when its reference has fewer than ``min_class``
positives or negatives: a segment has no fallback to the overall reference, because a
segment's AUC is not the pooled one (base rates differ between segments). A window with
fewer than ``min_class`` of either class is too small to judge (``insufficient``).

>>> import numpy as np
>>> rng = np.random.default_rng(5)
>>> def scored(n, sep):
...     y = rng.random(n) < 0.4
...     return np.column_stack([rng.normal(sep * y, 1.0), y.astype(float)])
>>> det = AUC()
>>> ref = det.fit(scored(20_000, 1.5), None)
>>> cur = det.new_sketch(ref); cur.update(scored(4_000, 1.0))
>>> e = det.evaluate(cur, ref, EvalContext())[0]
>>> round(e.details["reference_auc"], 2), round(e.value, 2), e.p_value < 1e-9
(0.86, -0.11, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special

from driftline.detectors.base import EvalContext, Evaluation, Memory, ScoreDetector
from driftline.detectors.sketches import FloatArray, IntArray, ScoreHistogram, Sketch
from driftline.detectors.table import SegmentTable, finite_or_none, segment_codes


@dataclass(frozen=True)
class AucStats:
    """AUC, its DeLong variance, the tie bound and class counts, one entry per row."""

    auc: FloatArray
    var: FloatArray
    tie_bound: FloatArray
    positives: IntArray
    negatives: IntArray


def auc_stats(neg: IntArray, pos: IntArray) -> AucStats:
    """Per row of (rows, bins) counts: the binned AUC, DeLong's variance and the tie term
    (NaN where a class is missing; variance NaN with fewer than two of a class)."""
    h0, h1 = neg.astype(np.float64), pos.astype(np.float64)
    n0, n1 = h0.sum(axis=1), h1.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        v10 = (np.cumsum(h0, axis=1) - h0 / 2) / n0[:, None]  # negatives below a positive
        v01 = (n1[:, None] - np.cumsum(h1, axis=1) + h1 / 2) / n1[:, None]  # positives above
        auc = (h1 * v10).sum(axis=1) / n1
        s10 = (h1 * (v10 - auc[:, None]) ** 2).sum(axis=1) / (n1 - 1)
        s01 = (h0 * (v01 - auc[:, None]) ** 2).sum(axis=1) / (n0 - 1)
        var = np.where((n0 > 1) & (n1 > 1), s10 / n1 + s01 / n0, np.nan)
        ties = 0.5 * (h1 * h0).sum(axis=1) / (n1 * n0)
    defined = (n0 > 0) & (n1 > 0)
    return AucStats(np.where(defined, auc, np.nan), var, np.where(defined, ties, np.nan),
                    pos.sum(axis=1), neg.sum(axis=1))


def delong_z(ref: AucStats, cur: AucStats) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(AUC_cur − AUC_ref, z, one-sided p of a drop); (0, 0, 1) where either is undefined."""
    diff = cur.auc - ref.auc
    var = cur.var + ref.var
    ok = np.isfinite(diff) & np.isfinite(var) & (var > 0)
    with np.errstate(invalid="ignore"):
        z = np.where(ok, diff / np.sqrt(np.where(ok, var, 1.0)), 0.0)
    p = np.where(ok, special.ndtr(z), 1.0)
    return np.where(np.isfinite(diff), diff, 0.0), z, p


@dataclass(frozen=True)
class AUC(ScoreDetector):
    """ROC AUC per segment vs the segment's reference AUC (DeLong); value: the change."""

    grid: int = 200
    min_class: int = 20

    name: ClassVar[str] = "auc"
    statistic: ClassVar[str] = "auc_difference"
    direction: ClassVar = "below"
    default_thresholds: ClassVar[tuple[float, float]] = (-0.02, -0.05)

    def __post_init__(self) -> None:
        if self.grid < 2 or self.min_class < 1:
            raise ValueError("grid must be at least 2 and min_class at least 1")

    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """Every segment's DeLong test at once (one row, 'all', when unsegmented)."""
        assert isinstance(current, ScoreHistogram) and isinstance(reference, ScoreHistogram)
        codes, names, index = rows_to_evaluate(ctx)
        flip = oriented(reference)
        ref = auc_stats(*labelled(reference, codes, flip))
        cur = auc_stats(*labelled(current, codes, flip))
        diff, z, p = delong_z(ref, cur)
        n_ref, n_cur = ref.positives + ref.negatives, cur.positives + cur.negatives
        keep = np.minimum(ref.positives, ref.negatives) >= self.min_class

        def build(i: int) -> Evaluation:
            return Evaluation(
                detector=self.name, statistic=self.statistic, value=float(diff[i]),
                p_value=float(p[i]), n_reference=int(n_ref[i]), n_current=int(n_cur[i]),
                segment=names[i],
                details={"reference_auc": finite_or_none(ref.auc[i]),
                         "current_auc": finite_or_none(cur.auc[i]),
                         "z": float(z[i]), "test": "delong",
                         "se": finite_or_none(np.sqrt(cur.var[i] + ref.var[i])),
                         "tie_bound": finite_or_none(cur.tie_bound[i]),
                         "reference_tie_bound": finite_or_none(ref.tie_bound[i]),
                         "positives": int(cur.positives[i]), "negatives": int(cur.negatives[i]),
                         "score_of": "other" if flip else "positive", "bins": current.bins})

        return SegmentTable(self.name, self.statistic, names, diff, p, n_ref, n_cur, keep,
                            build, columns={"minority": np.minimum(
                                cur.positives, cur.negatives).astype(np.float64)}, index=index)


def rows_to_evaluate(ctx: EvalContext,
                     ) -> tuple[IntArray | None, Sequence[str | None], Mapping[str, int] | None]:
    """The segment codes (None: all events, one row), their names, and name → row."""
    if ctx.segments is None:
        return None, [None], None
    return segment_codes(ctx.segments)


def oriented(reference: ScoreHistogram) -> bool:
    """Whether the classes swap: the overall reference ranks the other class higher."""
    neg, pos, _ = reference.rows(None)
    auc = auc_stats(neg, pos).auc[0]
    return bool(np.isfinite(auc) and auc < 0.5)


def labelled(sketch: ScoreHistogram, codes: IntArray | None, flip: bool,
             ) -> tuple[IntArray, IntArray]:
    """(negatives, positives) per row and bin, the classes swapped when ``flip``."""
    neg, pos, _ = sketch.rows(codes)
    return (pos, neg) if flip else (neg, pos)
