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

from dataclasses import dataclass
from typing import ClassVar

from driftline.detectors.base import CountDetector, EvalContext, Evaluation, Memory, segment_rows
from driftline.detectors.segment_rate import trials_successes, two_proportion_z
from driftline.detectors.sketches import CountTable, Sketch


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
        assert isinstance(current, CountTable)
        groups = [(code, name, *trials_successes(current, code)) for code, name in segment_rows(ctx)]
        eligible = [g for g in groups if g[2] >= self.min_group]
        if not eligible:
            return []
        _, best_name, best_n, best_s = max(eligible, key=lambda g: g[3] / g[2])
        best_rate = best_s / best_n
        out = []
        for _, name, n, s in eligible:
            rate = s / n
            ratio = rate / best_rate if best_rate > 0 else 1.0
            _, p = two_proportion_z(best_s, best_n, s, n)
            out.append(Evaluation(
                detector=self.name, statistic=self.statistic, value=float(ratio), p_value=p,
                n_reference=best_n, n_current=n, segment=name,
                details={"selection_rate": rate, "reference_group": best_name,
                         "reference_group_rate": best_rate},
            ))
        return out
