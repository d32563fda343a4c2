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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special

from driftline.detectors.base import ColumnarDetector, CountDetector, EvalContext, Evaluation, Memory
from driftline.detectors.sketches import CountTable, Sketch
from driftline.detectors.table import (
    SegmentTable,
    ratio_or,
    rows_of,
    segment_codes,
    two_proportion_z_arrays,
)


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
class SegmentRate(ColumnarDetector, CountDetector):
    """Rate of a 0/1 outcome per segment vs the same segment's reference rate."""

    name: ClassVar[str] = "segment_rate"
    statistic: ClassVar[str] = "rate_difference"
    direction: ClassVar = "both"  # under- and over-serving both matter
    default_thresholds: ClassVar[tuple[float, float]] = (0.05, 0.10)
    input_kind: ClassVar = "binary"

    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """Every segment's two-proportion test at once (one row, 'all', when unsegmented)."""
        assert isinstance(current, CountTable) and isinstance(reference, CountTable)
        n_all, s_all = trials_successes(reference, None)
        index = None
        if ctx.segments is None:
            ref = reference.row(None, 2)[None, :]
            cur = current.row(None, 2)[None, :]
            names: Sequence[str | None] = [None]
        else:
            codes, seg_names, index = segment_codes(ctx.segments)
            ref, cur, names = rows_of(reference, codes, 2), rows_of(current, codes, 2), seg_names
        n_ref, s_ref = ref.sum(axis=1), ref[:, 1]
        own = n_ref >= ctx.min_reference
        n_ref, s_ref = np.where(own, n_ref, n_all), np.where(own, s_ref, s_all)
        n_cur, s_cur = cur.sum(axis=1), cur[:, 1]
        z, p = two_proportion_z_arrays(s_ref, n_ref, s_cur, n_cur)
        r_ref = ratio_or(s_ref, n_ref, float("nan"))
        r_cur = ratio_or(s_cur, n_cur, float("nan"))
        diff = np.where((n_cur != 0) & (n_ref != 0), r_cur - r_ref, 0.0)

        def build(i: int) -> Evaluation:
            return Evaluation(
                detector=self.name, statistic=self.statistic, value=float(diff[i]),
                p_value=float(p[i]), n_reference=int(n_ref[i]), n_current=int(n_cur[i]),
                segment=names[i],
                details={"reference_rate": float(r_ref[i]), "current_rate": float(r_cur[i]),
                         "z": float(z[i]),
                         "reference_scope": "segment" if own[i] else "overall"})

        # no reference trial at all (a performance signal whose reference had no label):
        # nothing to test against, not a clean evaluation
        return SegmentTable(self.name, self.statistic, names, diff, p, n_ref, n_cur,
                            n_ref > 0, build, index=index)
