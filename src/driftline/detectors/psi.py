"""Population Stability Index over reference-quantile bins.

Convention (documented in docs/detectors.md): bins are the reference's
``1/bins`` quantiles, fixed when the reference is fitted; each bin's share is
floored at ``epsilon`` (1e-4) before the log so empty bins stay finite::

    PSI = Σ_i (c_i − r_i) · ln(c_i / r_i)

This differs from evidently, which recomputes equal-width (Sturges) bins over
reference + current on every run: fixed quantile bins make the statistic a
function of mergeable counts (so panes and partitions combine exactly) and give
every bin ~1/bins of the reference mass, so the tails do not dominate.

The histogram is read at a fine ``grid`` (shared with KS); PSI groups
``grid/bins`` fine bins into one, which equals binning at the coarse quantiles
directly because the coarse quantiles are a subset of the fine ones.

>>> import numpy as np
>>> rng = np.random.default_rng(7)
>>> psi = PSI()
>>> ref = psi.fit(rng.normal(0, 1, 20_000), None)
>>> same = psi.new_sketch(ref); same.update(rng.normal(0, 1, 5_000))
>>> moved = psi.new_sketch(ref); moved.update(rng.normal(0.5, 1, 5_000))
>>> round(psi.evaluate(same, ref, EvalContext())[0].value, 3)
0.002
>>> round(psi.evaluate(moved, ref, EvalContext())[0].value, 2)
0.27
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from driftline.detectors.base import (
    EvalContext,
    Evaluation,
    Memory,
    QuantileDetector,
    reference_row,
    segment_rows,
)
from driftline.detectors.sketches import FloatArray, IntArray, QuantileHistogram, Sketch
from driftline.detectors.stats import chi2_homogeneity
from driftline.detectors.table import edge


def psi_value(ref_counts: FloatArray | IntArray, cur_counts: FloatArray | IntArray,
              epsilon: float = 1e-4) -> tuple[float, FloatArray]:
    """PSI of two count vectors over the same bins, and each bin's contribution."""
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    if c.sum() == 0:  # an empty window is no evidence of drift (as categorical PSI and KS say)
        return 0.0, np.zeros(c.size)
    r = np.maximum(r / max(r.sum(), 1.0), epsilon)
    c = np.maximum(c / max(c.sum(), 1.0), epsilon)
    contrib = (c - r) * np.log(c / r)
    return float(contrib.sum()), contrib


@dataclass(frozen=True)
class PSI(QuantileDetector):
    """PSI of a numeric signal against reference-quantile bins."""

    bins: int = 10
    grid: int = 1000
    epsilon: float = 1e-4

    name: ClassVar[str] = "psi"
    statistic: ClassVar[str] = "psi"
    default_thresholds: ClassVar[tuple[float, float]] = (0.1, 0.25)
    input_kind: ClassVar = "numeric"

    def __post_init__(self) -> None:
        if self.bins < 2 or self.grid % self.bins:
            raise ValueError(f"grid ({self.grid}) must be a multiple of bins ({self.bins})")

    def coarse(self, counts: IntArray) -> IntArray:
        coarse: IntArray = counts.reshape(self.bins, -1).sum(axis=1)
        return coarse

    def coarse_edges(self, sketch: QuantileHistogram) -> FloatArray:
        step = self.grid // self.bins
        return sketch.edges[step - 1 :: step]

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        assert isinstance(current, QuantileHistogram)
        assert isinstance(reference, QuantileHistogram)
        overall_ref = self.coarse(reference.row(None))
        edges = self.coarse_edges(reference)
        out = []
        for code, name in segment_rows(ctx):
            cur = self.coarse(current.row(code))
            ref, scope = (overall_ref, "overall") if code is None else reference_row(
                self.coarse(reference.row(code)), overall_ref, ctx.min_reference)
            value, contrib = psi_value(ref, cur, self.epsilon)
            out.append(Evaluation(
                detector=self.name, statistic=self.statistic, value=value,
                p_value=chi2_homogeneity(ref, cur)[1],
                n_reference=int(ref.sum()), n_current=int(cur.sum()), segment=name,
                top_contributors=_top_bins(contrib, ref, cur, edges),
                details={"reference_scope": scope, "bins": self.bins},
            ))
        return out


def _top_bins(contrib: FloatArray, ref: IntArray, cur: IntArray, edges: FloatArray,
              k: int = 3) -> tuple[dict[str, object], ...]:
    lows = np.concatenate([[-np.inf], edges])
    highs = np.concatenate([edges, [np.inf]])
    rs, cs = ref / max(ref.sum(), 1), cur / max(cur.sum(), 1)
    order = np.argsort(-contrib)[:k]
    return tuple(
        {"bin": [edge(lows[i]), edge(highs[i])], "reference_share": round(float(rs[i]), 6),
         "current_share": round(float(cs[i]), 6), "contribution": round(float(contrib[i]), 6)}
        for i in order if contrib[i] > 0
    )
