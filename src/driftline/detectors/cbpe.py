"""The estimated error rate: performance before the labels come (CBPE-style).

Labels arrive late — hours, weeks — or for a share of the predictions only. Until then a
window's error rate can still be *estimated* from what the reference taught: the chance
that a decision d taken on a score in bin b is wrong, ``e[d, b]`` (the reference's wrong /
labelled in that cell). A window's estimate is the mean of e over its events::

    estimated_error_rate = Σ_{d,b} n[d, b] · e[d, b] / N

This is NannyML's confidence-based performance estimation (CBPE) with a histogram-binning
calibrator, read per decision so that decisions that are not a threshold of the score
(business rules, overrides) are estimated too. Its **assumption**: the chance that a
decision is wrong given its score bin and decision — P(label | score, decision) — is the
reference's. It sees a shift of the events toward cells where the model errs more (covariate
shift, a score distribution that moves toward the threshold, a decision mix that changes);
it cannot see concept drift (the same scores now meaning other outcomes): that is what the
realised error-rate monitors see once the labels are in.

The **test** compares the window's estimate with the reference's own estimate by the same e
(the mean of e over the reference's events, labelled or not): under "nothing moved" both are
means of one function over samples of one distribution, so z = (est_cur − est_ref) /
√(var_cur/N + var_ref/M), var the variance of e over each sample's events; one-sided (an
estimated error rate that rises is the breach). e is taken as known — its own sampling error
is common to both sides. The value is est_cur − est_ref (thresholds 0.05 / 0.10, as the
realised error rate's).

**Cells and their fallbacks**: ``grid`` score bins (reference deciles by default) plus one
for events without a score, times the decisions. A cell's own rate needs ``min_cell``
labelled reference events; a sparser cell takes its decision's rate over all bins, and a
decision with too few its row's overall rate. A segment's row uses its own reference cells
where they are full enough, else the overall reference's (a segment's calibration may differ
from the pooled one; the overall one is the estimate's best fallback). A row whose reference
has fewer than ``min_cell`` labelled events at all, overall, is no evaluation.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> def events(n, mean):
...     s = np.clip(rng.normal(mean, 0.2, n), 0, 1)
...     d = (s > 0.5).astype(float)          # decide positive above 0.5
...     wrong = (rng.random(n) < 0.5 - np.abs(s - 0.5)).astype(float)  # unsure near 0.5
...     return np.column_stack([s, d, wrong])
>>> det = CBPE()
>>> ref = det.fit(events(20_000, 0.2), None)
>>> current = events(4_000, 0.45)             # scores moved toward the threshold, no labels
>>> current[:, 2] = np.nan
>>> cur = det.new_sketch(ref); cur.update(current)
>>> e = det.evaluate(cur, ref, EvalContext(categories=["no", "yes"]))[0]
>>> round(e.details["reference_estimated_error_rate"], 2), round(e.value, 2), e.p_value < 1e-9
(0.2, 0.15, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import special

from driftline.detectors.auc import rows_to_evaluate
from driftline.detectors.base import ColumnarDetector, EvalContext, Evaluation, Memory
from driftline.detectors.sketches import DecisionHistogram, FloatArray, IntArray, Sketch
from driftline.detectors.table import SegmentTable, edge, finite_or_none, ratio_or


def cell_rates(cells: IntArray, min_cell: int, fallback: FloatArray | None = None,
               ) -> tuple[FloatArray, FloatArray]:
    """Per row, the chance that a cell's decision is wrong, and whether the row has enough
    labelled events to be read at all (its share: 1.0 yes, 0.0 no).

    ``cells`` is ``DecisionHistogram.cells``' (rows, 3, decisions, bins). A cell with fewer
    than ``min_cell`` labelled events takes ``fallback``'s rate (a segment row: the overall
    reference's cell) when given, else its decision's over all bins, else its row's overall.
    """
    labelled, wrong = cells[:, 1].astype(np.float64), cells[:, 2].astype(np.float64)
    row_l, row_w = labelled.sum(axis=(1, 2)), wrong.sum(axis=(1, 2))
    dec_l, dec_w = labelled.sum(axis=2), wrong.sum(axis=2)
    overall = ratio_or(row_w, row_l, np.nan)[:, None, None]
    by_decision = np.where(dec_l >= min_cell, ratio_or(dec_w, dec_l, np.nan), np.nan)
    coarse = np.where(np.isnan(by_decision[:, :, None]), overall, by_decision[:, :, None])
    if fallback is not None:
        coarse = np.broadcast_to(fallback, labelled.shape)
    own = ratio_or(wrong, labelled, np.nan)
    rate: FloatArray = np.where(labelled >= min_cell, own, coarse)
    return rate, (row_l >= min_cell).astype(np.float64)


def estimate(events: IntArray, rate: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per row: events with a decision, the estimated error rate (mean of ``rate`` over
    them) and the variance of ``rate`` over them (NaN where a row has no event)."""
    n = events.astype(np.float64)
    total = n.sum(axis=(1, 2))
    r = np.nan_to_num(rate)
    est = ratio_or((n * r).sum(axis=(1, 2)), total, np.nan)
    var = ratio_or((n * r * r).sum(axis=(1, 2)), total, np.nan) - est * est
    return total, est, np.maximum(var, 0.0)


@dataclass(frozen=True)
class CBPE(ColumnarDetector):
    """The estimated error rate per segment vs the reference's estimate; value: the change."""

    grid: int = 10
    min_cell: int = 20

    name: ClassVar[str] = "cbpe"
    statistic: ClassVar[str] = "estimated_error_rate_difference"
    direction: ClassVar = "above"
    default_thresholds: ClassVar[tuple[float, float]] = (0.05, 0.10)
    input_kind: ClassVar = "estimated"

    def __post_init__(self) -> None:
        if self.grid < 1 or self.min_cell < 1:
            raise ValueError("grid and min_cell must be at least 1")

    def sketch_key(self) -> tuple[str, int]:
        return ("decision_histogram", self.grid)

    def new_sketch(self, reference: Sketch | None = None) -> DecisionHistogram:
        if reference is None:
            return DecisionHistogram.fit(np.empty((0, 3)), self.grid)
        assert isinstance(reference, DecisionHistogram)
        return reference.empty()

    def fit(self, values: FloatArray | IntArray, segments: IntArray | None,
            ) -> DecisionHistogram:
        values = np.asarray(values, np.float64).reshape(-1, 3)
        sketch = DecisionHistogram.fit(values, self.grid)
        sketch.update(values, segments)
        return sketch

    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """Every segment's estimate at once (one row, 'all', when unsegmented)."""
        assert isinstance(current, DecisionHistogram)
        assert isinstance(reference, DecisionHistogram)
        codes, names, index = rows_to_evaluate(ctx)
        d = max(current.decisions, reference.decisions)
        overall = reference.cells(None, d)
        rate_all, enough = cell_rates(overall, self.min_cell)
        ref_cells = overall if codes is None else reference.cells(codes, d)
        rate = rate_all if codes is None else cell_rates(ref_cells, self.min_cell,
                                                         rate_all[0])[0]
        cur_cells = current.cells(codes, d)
        n_ref, est_ref, var_ref = estimate(ref_cells[:, 0], rate)
        n_cur, est_cur, var_cur = estimate(cur_cells[:, 0], rate)
        se = np.sqrt(ratio_or(var_cur, n_cur, np.nan) + ratio_or(var_ref, n_ref, np.nan))
        diff = np.where(np.isfinite(est_cur) & np.isfinite(est_ref), est_cur - est_ref, 0.0)
        ok = np.isfinite(se) & (se > 0)
        z = np.where(ok, diff / np.where(ok, se, 1.0), 0.0)
        p = np.where(ok, special.ndtr(-z), np.where(diff > 0, 0.0, 1.0))
        keep = np.broadcast_to(enough[0] > 0, diff.shape) & (n_ref > 0)
        realised_ref = ratio_or(ref_cells[:, 2].sum(axis=(1, 2)),
                                ref_cells[:, 1].sum(axis=(1, 2)), np.nan)
        lab_cur = cur_cells[:, 1].sum(axis=(1, 2))
        realised_cur = ratio_or(cur_cells[:, 2].sum(axis=(1, 2)), lab_cur, np.nan)
        edges = reference.edges

        def build(i: int) -> Evaluation:
            return Evaluation(
                detector=self.name, statistic=self.statistic, value=float(diff[i]),
                p_value=float(p[i]), n_reference=int(n_ref[i]), n_current=int(n_cur[i]),
                segment=names[i],
                top_contributors=_moved_cells(ref_cells[i, 0], cur_cells[i, 0], rate[i],
                                              edges, ctx.categories),
                details={"estimated": True, "estimated_error_rate": finite_or_none(est_cur[i]),
                         "reference_estimated_error_rate": finite_or_none(est_ref[i]),
                         "reference_error_rate": finite_or_none(realised_ref[i]),
                         "labelled": int(lab_cur[i]),
                         "realised_error_rate": finite_or_none(realised_cur[i]),
                         "z": float(z[i]), "se": finite_or_none(se[i]), "bins": self.grid})

        return SegmentTable(self.name, self.statistic, names, diff, p,
                            n_ref.astype(np.int64), n_cur.astype(np.int64), keep, build,
                            index=index)


def _moved_cells(ref: IntArray, cur: IntArray, rate: FloatArray, edges: FloatArray,
                 decisions: Sequence[str], k: int = 3) -> tuple[dict[str, Any], ...]:
    """The cells that add most to the estimate's rise: share moved × chance of a mistake."""
    m, n = ref.sum(), cur.sum()
    if not m or not n:
        return ()
    r = np.nan_to_num(rate)
    push = r * (cur / n - ref / m)
    lows = np.concatenate([[-np.inf], edges, [np.nan]])
    highs = np.concatenate([edges, [np.inf], [np.nan]])
    out = []
    for flat in np.argsort(-push, axis=None)[:k]:
        dec, b = (int(i) for i in np.unravel_index(flat, push.shape))
        if push[dec, b] <= 0:
            break
        out.append({"decision": decisions[dec] if dec < len(decisions) else int(dec),
                    "score": "missing" if b == push.shape[1] - 1 else
                    [edge(float(lows[b])), edge(float(highs[b]))],
                    "share": round(float(cur[dec, b] / n), 6),
                    "reference_share": round(float(ref[dec, b] / m), 6),
                    "error_chance": round(float(r[dec, b]), 6),
                    "contribution": round(float(push[dec, b]), 6)})
    return tuple(out)
