"""Disparate impact: each protected group's selection rate over the most-selected group's.

The four-fifths rule (EEOC) calls a ratio below 0.8 adverse impact; the
thresholds are configurable. Groups with fewer than ``min_group`` events in the
window are not compared (their ratio is noise). The p-value is the two-proportion
test of the group against the most-selected group.

>>> import numpy as np
>>> rng = np.random.default_rng(5)
>>> det = DisparateImpact()
>>> group = rng.integers(0, 2, 10_000)
>>> chosen = rng.random(10_000) < np.where(group == 1, 0.2, 0.4)
>>> cur = det.new_sketch(); cur.update(chosen.astype(np.int64), group)
>>> ctx = EvalContext(segments=[(0, "a"), (1, "b")])
>>> [(e.segment, round(e.value, 1)) for e in det.evaluate(cur, cur, ctx)]
[('a', 1.0), ('b', 0.5)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from driftline.detectors.base import CountDetector, EvalContext, Evaluation, Memory
from driftline.detectors.sketches import CountTable, Sketch
from driftline.detectors.table import (
    SegmentTable,
    ratio_or,
    rows_of,
    segment_codes,
    two_proportion_z_arrays,
)


@dataclass(frozen=True)
class DisparateImpact(CountDetector):
    """Selection-rate ratio of each group to the most-selected group (4/5 rule)."""

    min_group: int = 30

    name: ClassVar[str] = "disparate_impact"
    statistic: ClassVar[str] = "selection_rate_ratio"
    direction: ClassVar = "below"
    default_thresholds: ClassVar[tuple[float, float]] = (0.8, 0.65)
    input_kind: ClassVar = "binary"

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        return self.evaluate_table(current, reference, ctx, memory).evaluations()

    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """Every group against the most-selected one; groups under ``min_group`` are not kept."""
        assert isinstance(current, CountTable)
        index = None
        if ctx.segments is None:
            names: Sequence[str | None] = [None]
            cur = current.row(None, 2)[None, :]
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
        _, p = two_proportion_z_arrays(np.full(n.size, best_s), np.full(n.size, best_n), s, n)
        best_name = names[best] if best >= 0 else None

        def build(i: int) -> Evaluation:
            return Evaluation(
                detector=self.name, statistic=self.statistic, value=float(ratio[i]),
                p_value=float(p[i]), n_reference=best_n, n_current=int(n[i]),
                segment=names[i],
                details={"selection_rate": float(rate[i]), "reference_group": best_name,
                         "reference_group_rate": best_rate})

        return SegmentTable(self.name, self.statistic, names, ratio, p,
                            np.full(n.size, best_n), n, eligible, build, index=index)
