"""Segment volume: a segment's share of traffic collapsing, or going silent.

The value is the ratio of the segment's current share to its reference share
(1 = as usual, 0 = silent). The p-value is the Poisson probability of seeing so
few events when the reference share predicts ``share × N`` of them, so a small
segment dipping in a small window is not a breach. Silence — zero events where
at least ``min_expected`` were expected — is reported with ``details.silent``.

>>> import numpy as np
>>> det = SegmentVolume()
>>> ref = det.fit(np.zeros(3_000, np.int64), np.repeat([0, 1, 2], 1_000))
>>> cur = det.new_sketch(ref); cur.update(np.zeros(2_000, np.int64), np.repeat([0, 1], 1_000))
>>> [(e.segment, round(e.value, 2), e.details["silent"]) for e in
...  det.evaluate(cur, ref, EvalContext(segments=[(0, "a"), (1, "b"), (2, "c")]))]
[('a', 1.5, False), ('b', 1.5, False), ('c', 0.0, True)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special

from driftline.detectors.base import ColumnarDetector, CountDetector, EvalContext, Evaluation, Memory
from driftline.detectors.sketches import CountTable, Sketch
from driftline.detectors.table import BoolArray, SegmentTable, ratio_or, rows_of, segment_codes


@dataclass(frozen=True)
class SegmentVolume(ColumnarDetector, CountDetector):
    """Current share of traffic per segment over its reference share."""

    min_expected: float = 20.0

    name: ClassVar[str] = "segment_volume"
    statistic: ClassVar[str] = "share_ratio"
    direction: ClassVar = "below"
    default_thresholds: ClassVar[tuple[float, float]] = (0.5, 0.2)
    input_kind: ClassVar = "volume"
    table: ClassVar[str] = "volume"

    def sufficient(self, evaluation: Evaluation, min_samples: int) -> bool:
        """Judged once the reference share predicts a tenth of ``min_samples`` events.

        A segment's own count can be 0 (silence is the point), so the expected count
        under the reference share is the sample that matters.
        """
        return float(evaluation.details.get("expected", 0.0)) >= min_samples / 10

    def sufficient_rows(self, table: SegmentTable, min_samples: int) -> BoolArray:
        out: BoolArray = (table.columns["expected"] >= min_samples / 10) & table.keep
        return out

    def evaluate_table(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                       memory: Memory | None = None) -> SegmentTable:
        """Every segment's share at once; segments absent from the reference are not kept."""
        assert isinstance(current, CountTable) and isinstance(reference, CountTable)
        n_ref, n_cur = reference.total, current.total
        index = None
        if ctx.segments is None:
            r, c = reference.row(None, 1).sum(keepdims=True), current.row(None, 1).sum(keepdims=True)
            names: Sequence[str | None] = [None]
        else:
            codes, seg_names, index = segment_codes(ctx.segments)
            r, c = rows_of(reference, codes, 1).sum(axis=1), rows_of(current, codes, 1).sum(axis=1)
            names = seg_names
        keep = (r != 0) & (n_ref != 0)  # a segment new since the reference cannot collapse
        share_ref = r / n_ref if n_ref else np.zeros(r.size)
        expected = share_ref * n_cur
        share_cur = c / n_cur if n_cur else np.zeros(c.size)
        ratio = ratio_or(share_cur, share_ref, 1.0) if n_cur else np.ones(r.size)
        # = stats.poisson.cdf(c, expected); the special function is ~15x cheaper
        p = np.where(expected > 0, special.pdtr(c, expected), 1.0)

        def build(i: int) -> Evaluation:
            return Evaluation(
                detector=self.name, statistic=self.statistic, value=float(ratio[i]),
                p_value=float(p[i]), n_reference=int(r[i]), n_current=int(c[i]),
                segment=names[i],
                details={"reference_share": float(share_ref[i]),
                         "current_share": float(share_cur[i]), "expected": float(expected[i]),
                         "silent": bool(c[i] == 0 and expected[i] >= self.min_expected)})

        return SegmentTable(self.name, self.statistic, names, ratio, p, r, c, keep, build,
                            columns={"expected": expected}, index=index)
