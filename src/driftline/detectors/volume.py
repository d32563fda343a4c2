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

from dataclasses import dataclass
from typing import ClassVar

from scipy import special

from driftline.detectors.base import CountDetector, EvalContext, Evaluation, Memory, segment_rows
from driftline.detectors.sketches import CountTable, Sketch


@dataclass(frozen=True)
class SegmentVolume(CountDetector):
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

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        assert isinstance(current, CountTable) and isinstance(reference, CountTable)
        n_ref, n_cur = reference.total, current.total
        out = []
        for code, name in segment_rows(ctx):
            r = int(reference.row(code, 1).sum())
            c = int(current.row(code, 1).sum())
            if r == 0 or n_ref == 0:
                continue  # a segment new since the reference cannot collapse
            share_ref = r / n_ref
            expected = share_ref * n_cur
            ratio = (c / n_cur) / share_ref if n_cur else 1.0
            # = stats.poisson.cdf(c, expected); the special function is ~15x cheaper
            p = float(special.pdtr(c, expected)) if expected > 0 else 1.0
            out.append(Evaluation(
                detector=self.name, statistic=self.statistic, value=float(ratio), p_value=p,
                n_reference=r, n_current=c, segment=name,
                details={"reference_share": share_ref, "current_share": c / n_cur if n_cur else 0.0,
                         "expected": expected,
                         "silent": c == 0 and expected >= self.min_expected},
            ))
        return out
