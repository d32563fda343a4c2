"""Mean shift of a numeric signal against its reference: Welch's t-test from moments.

Made for error magnitudes (``abs_error``: MAE; ``squared_error``: MSE, its root RMSE) but
fit for any numeric signal whose mean matters. The sketch is the shared ``Moments`` (count,
sum, sum of squares per segment: exact and mergeable); the test is Welch's unequal-variance
t-test of the window's mean against the segment's reference mean (the overall reference
when the segment's own has fewer than ``min_reference`` events), its two-sided p-value into
the window's Benjamini–Hochberg step. The *value* is the relative change, ``mean/mean_ref − 1``
(with ``root``: of the square roots, so on squared errors it is RMSE's change), so the
thresholds are minimum effects in the unit users think in: 0.10 = ten percent worse.
Larger is worse (``direction = "above"``): an error that shrinks is not an incident.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> det = MeanShift()
>>> ref = det.fit(np.abs(rng.normal(0, 1.0, 20_000)), None)
>>> cur = det.new_sketch(ref); cur.update(np.abs(rng.normal(0, 1.3, 5_000)))
>>> e = det.evaluate(cur, ref, EvalContext())[0]
>>> round(e.value, 2), e.p_value < 1e-9
(0.28, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from scipy import special

from driftline.detectors.base import EvalContext, Evaluation, Memory, MomentsDetector, segment_rows
from driftline.detectors.sketches import Moments, Sketch


def welch(mean1: float, var1: float, n1: float, mean2: float, var2: float, n2: float,
          ) -> tuple[float, float]:
    """Welch's t of (mean2 − mean1) and its two-sided p-value; sample variances (ddof 1).

    (0, 1) where it is undefined: fewer than two values on a side, or no variance at all.
    """
    if n1 < 2 or n2 < 2:
        return 0.0, 1.0
    a, b = var1 / n1, var2 / n2
    if not a + b > 0:
        return 0.0, 1.0
    t = (mean2 - mean1) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    return float(t), float(2 * special.stdtr(df, -abs(t)))


def sample_stats(sketch: Moments, code: int | None) -> tuple[float, float, float]:
    """(n, mean, sample variance) of a segment (or all)."""
    n, mean, var = sketch.stats(code)
    return n, mean, var * n / (n - 1) if n > 1 else math.nan


@dataclass(frozen=True)
class MeanShift(MomentsDetector):
    """The window's mean vs the reference's, by Welch's t-test; value: relative change."""

    root: bool = False

    name: ClassVar[str] = "mean_shift"
    statistic: ClassVar[str] = "relative_mean_change"
    direction: ClassVar = "above"
    default_thresholds: ClassVar[tuple[float, float]] = (0.10, 0.25)

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        assert isinstance(current, Moments) and isinstance(reference, Moments)
        out = []
        for code, name in segment_rows(ctx):
            n_ref, m_ref, v_ref = sample_stats(reference, code)
            scope = "segment"
            if n_ref < ctx.min_reference:
                (n_ref, m_ref, v_ref), scope = sample_stats(reference, None), "overall"
            n, m, v = sample_stats(current, code)
            t, p = welch(m_ref, v_ref, n_ref, m, v, n)
            out.append(Evaluation(
                detector=self.name, statistic=self.statistic, value=self._change(m_ref, m, n),
                p_value=p, n_reference=int(n_ref), n_current=int(n), segment=name,
                details={"t": t, "reference_mean": m_ref, "current_mean": m,
                         "reference_scope": scope, "root": self.root}))
        return out

    def _change(self, m_ref: float, m: float, n: float) -> float:
        """``(m − m_ref)/|m_ref|`` (with ``root``: ``√(m/m_ref) − 1``); 0 where there is
        nothing to compare or nothing changed."""
        if n == 0 or not math.isfinite(m_ref) or not math.isfinite(m) or m == m_ref:
            return 0.0
        if self.root and m_ref > 0 and m >= 0:
            return math.sqrt(m / m_ref) - 1
        return (m - m_ref) / max(abs(m_ref), 1e-12)  # a perfect reference: huge, finite
