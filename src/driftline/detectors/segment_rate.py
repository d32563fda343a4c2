"""Per-segment rate of a decision (or class) against the segment's own reference rate.

Each segment is a two-proportion z-test of its current rate against its
reference rate (pooled variance). The *value* is the rate difference
(current − reference), so a minimum effect in rate points gates breaches and
large windows cannot flag trivial differences; the p-values of all segments in
a window enter the pipeline's Benjamini–Hochberg step. This is the detector
that sees a region being deprioritized while the aggregate rate barely moves.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> det = SegmentRate()
>>> seg = rng.integers(0, 4, 40_000)
>>> ref = det.fit((rng.random(40_000) < 0.3).astype(np.int64), seg)
>>> seg_now = rng.integers(0, 4, 8_000)
>>> hit = rng.random(8_000) < np.where(seg_now == 2, 0.18, 0.3)
>>> cur = det.new_sketch(ref); cur.update(hit.astype(np.int64), seg_now)
>>> ctx = EvalContext(segments=[(0, "north"), (1, "east"), (2, "south"), (3, "west")])
>>> [(e.segment, round(e.value, 2)) for e in det.evaluate(cur, ref, ctx) if e.p_value < 1e-6]
[('south', -0.11)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special

from driftline.detectors.base import CountDetector, EvalContext, Evaluation, Memory, segment_rows
from driftline.detectors.sketches import CountTable, Sketch


def two_proportion_z(s1: float, n1: float, s2: float, n2: float) -> tuple[float, float]:
    """Pooled two-proportion z statistic of (s2/n2 − s1/n1) and its two-sided p-value."""
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    pooled = (s1 + s2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 0.0, 1.0
    z = (s2 / n2 - s1 / n1) / np.sqrt(var)
    return float(z), float(2 * special.ndtr(-abs(z)))  # = 2·norm.sf(|z|), without the overhead


def trials_successes(table: CountTable, code: int | None) -> tuple[int, int]:
    row = table.row(code, 2)
    return int(row.sum()), int(row[1])


@dataclass(frozen=True)
class SegmentRate(CountDetector):
    """Rate of a 0/1 outcome per segment vs the same segment's reference rate."""

    name: ClassVar[str] = "segment_rate"
    statistic: ClassVar[str] = "rate_difference"
    direction: ClassVar = "both"  # under- and over-serving both matter
    default_thresholds: ClassVar[tuple[float, float]] = (0.05, 0.10)
    input_kind: ClassVar = "binary"

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        assert isinstance(current, CountTable) and isinstance(reference, CountTable)
        n_all, s_all = trials_successes(reference, None)
        out = []
        for code, name in segment_rows(ctx):
            n_ref, s_ref = trials_successes(reference, code)
            scope = "segment"
            if n_ref < ctx.min_reference:
                n_ref, s_ref, scope = n_all, s_all, "overall"
            n_cur, s_cur = trials_successes(current, code)
            z, p = two_proportion_z(s_ref, n_ref, s_cur, n_cur)
            r_ref = s_ref / n_ref if n_ref else float("nan")
            r_cur = s_cur / n_cur if n_cur else float("nan")
            diff = r_cur - r_ref if n_cur and n_ref else 0.0
            out.append(Evaluation(
                detector=self.name, statistic=self.statistic, value=float(diff), p_value=p,
                n_reference=n_ref, n_current=n_cur, segment=name,
                details={"reference_rate": r_ref, "current_rate": r_cur, "z": z,
                         "reference_scope": scope},
            ))
        return out
