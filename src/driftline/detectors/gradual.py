"""Gradual drift: a river change detector over per-window statistics.

A slow creep moves every window a little; no single window's PSI or KS crosses
its threshold. This detector standardises each closed window's mean against the
reference (``z = (mean_w − mean_ref) / (sd_ref / √n_w)``, ~N(0, 1) without
drift) and feeds the z-scores, one per window, to river's ``PageHinkley``. The
change detector accumulates small, persistent deviations that each window alone
cannot show.

Unlike the other detectors this one has memory across windows: ``Sequence``
holds the river detector per segment and is part of the monitor's checkpoint.
Once a change is detected the breach is *latched* while the window's mean still
differs significantly from the reference (``|z| ≥ release_z``, default 2), so
the incident lasts as long as the creep does. The reported value is the mean
shift in reference standard deviations; thresholds on it grade the severity.

>>> import numpy as np
>>> rng = np.random.default_rng(11)
>>> det = GradualDrift()
>>> ref = det.fit(rng.normal(0, 1, 50_000), None)
>>> seq = det.new_sequence()
>>> first = None
>>> for w in range(40):  # the mean creeps by 0.004 sd per window
...     cur = det.new_sketch(ref); cur.update(rng.normal(0.004 * w, 1, 5_000))
...     e = det.evaluate_window(cur, ref, EvalContext(), seq)[0]
...     if e.details["change_detected"] and first is None:
...         first = (w, round(e.value, 3))
>>> first  # (window, shift in sd when detected): far below any PSI/KS threshold
(22, 0.085)
"""

from __future__ import annotations

import base64
import pickle
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from river import drift

from driftline.detectors.base import Detector, EvalContext, Evaluation, segment_rows
from driftline.detectors.sketches import FloatArray, IntArray, Moments, Sketch


@dataclass
class Sequence:
    """Cross-window memory of a gradual-drift monitor: one river detector per segment."""

    detectors: dict[str, Any] = field(default_factory=dict)
    latched: dict[str, bool] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        # river detectors are plain Python objects; pickle keeps their exact state.
        blob = pickle.dumps((self.detectors, self.latched), protocol=5)
        return {"pickle": base64.b64encode(blob).decode("ascii")}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Sequence:
        detectors, latched = pickle.loads(base64.b64decode(snap["pickle"]))
        return cls(detectors, latched)


@dataclass(frozen=True)
class GradualDrift(Detector):
    """PageHinkley over per-window standardised means (river)."""

    delta: float = 0.5
    threshold: float = 25.0
    min_instances: int = 5
    release_z: float = 2.0

    name: ClassVar[str] = "gradual"
    statistic: ClassVar[str] = "mean_shift_sd"
    direction: ClassVar = "both"  # type: ignore[assignment]  # creep in either direction
    default_thresholds: ClassVar[tuple[float, float]] = (0.05, 0.2)
    input_kind: ClassVar = "numeric"
    sequential: ClassVar[bool] = True

    def sketch_key(self) -> Hashable:
        return ("moments",)

    def new_sketch(self, reference: Sketch | None = None) -> Moments:
        if reference is None:
            return Moments()
        assert isinstance(reference, Moments)
        return reference.empty()

    def fit(self, values: FloatArray | IntArray, segments: IntArray | None) -> Moments:
        sketch = Moments.fit(np.asarray(values, np.float64))
        sketch.update(np.asarray(values, np.float64), segments)
        return sketch

    def new_sequence(self) -> Sequence:
        return Sequence()

    def _river(self) -> drift.PageHinkley:
        return drift.PageHinkley(min_instances=self.min_instances, delta=self.delta,
                                 threshold=self.threshold, mode="both")

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext) -> list[Evaluation]:
        """Stateless view: the window's shift, without the change detector."""
        return self.evaluate_window(current, reference, ctx, Sequence(), feed=False)

    def evaluate_window(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                        seq: Sequence, feed: bool = True) -> list[Evaluation]:
        assert isinstance(current, Moments) and isinstance(reference, Moments)
        out = []
        for code, name in segment_rows(ctx):
            n_ref, mean_ref, var_ref = reference.stats(code)
            if n_ref < ctx.min_reference:
                n_ref, mean_ref, var_ref = reference.stats(None)
            n, mean, _ = current.stats(code)
            if n == 0 or n_ref == 0 or not var_ref > 0:
                continue
            sd = float(np.sqrt(var_ref))
            shift = (mean - mean_ref) / sd
            z = shift * np.sqrt(n)
            key = name or ""
            detected = False
            if feed:
                det = seq.detectors.setdefault(key, self._river())
                det.update(float(z))
                detected = bool(det.drift_detected)
                still = bool(abs(z) >= self.release_z)
                seq.latched[key] = detected or (seq.latched.get(key, False) and still)
            out.append(Evaluation(
                detector=self.name, statistic=self.statistic, value=float(shift), p_value=None,
                n_reference=int(n_ref), n_current=int(n), segment=name,
                details={"z": float(z), "change_detected": detected,
                         "latched": seq.latched.get(key, False), "reference_mean": mean_ref,
                         "current_mean": mean},
            ))
        return out
