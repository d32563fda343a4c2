"""Gradual drift: a river change detector over per-window statistics.

A slow creep moves every window a little; no single window's PSI or KS crosses
its threshold. This detector standardises each closed window's mean against the
reference (``z = (mean_w − mean_ref) / (sd_ref / √n_w)``, ~N(0, 1) without
drift) and feeds the z-scores, one per window, to river's ``PageHinkley``. The
change detector accumulates small, persistent deviations that each window alone
cannot show.

Unlike most detectors this one has memory across windows (``GradualMemory``:
one PageHinkley per segment), which the engine keeps per monitor and model and
checkpoints as plain numbers — PageHinkley's parameters are the detector's, its
sufficient state is six numbers — never as pickled objects. Once a change is
detected the breach is *latched* while the window's mean still differs
significantly from the reference (``|z| ≥ release_z``, default 2), so the
incident lasts as long as the creep does. The reported value is the mean shift
in reference standard deviations; thresholds on it grade the severity.

>>> import numpy as np
>>> rng = np.random.default_rng(11)
>>> det = GradualDrift()
>>> ref = det.fit(rng.normal(0, 1, 50_000), None)
>>> memory = det.new_memory()
>>> first = None
>>> for w in range(40):  # the mean creeps by 0.004 sd per window
...     cur = det.new_sketch(ref); cur.update(rng.normal(0.004 * w, 1, 5_000))
...     e = det.evaluate(cur, ref, EvalContext(), memory)[0]
...     if e.details["change_detected"] and first is None:
...         first = (w, round(e.value, 3))
>>> first  # (window, shift in sd when detected): far below any PSI/KS threshold
(22, 0.085)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from river import drift

from driftline.detectors.base import EvalContext, Evaluation, Memory, MomentsDetector, segment_rows
from driftline.detectors.sketches import Moments, Sketch
from driftline.detectors.table import finite_or_none
from driftline.errors import StateError
from driftline.state import State, validated

#: river's PageHinkley attributes this module reads and writes; a river release that
#: changes them fails ``_check_layout`` (and the check suite) instead of restoring wrongly
_PH_FIELDS = frozenset({"_drift_detected", "min_instances", "delta", "threshold", "alpha", "mode",
                        "_x_mean", "_sum_increase", "_sum_decrease", "_min_increase",
                        "_max_decrease", "_test_drift"})
_MEAN_FIELDS = frozenset({"n", "_mean"})


class PageHinkleyState(State):
    """PageHinkley's sufficient state (its parameters are the detector's). None = ±infinity."""

    n: float
    mean: float
    sum_increase: float
    sum_decrease: float
    min_increase: float | None
    max_decrease: float | None
    drift_detected: bool


class GradualState(State):
    """A gradual monitor's memory: per segment key ('' = all), PageHinkley and the latch."""

    detectors: dict[str, PageHinkleyState]
    latched: dict[str, bool]


def _check_layout(det: drift.PageHinkley) -> None:
    if set(vars(det)) != _PH_FIELDS or set(vars(det._x_mean)) != _MEAN_FIELDS:
        raise StateError("river's PageHinkley changed its internal state "
                         f"({sorted(vars(det))}); driftline cannot checkpoint it faithfully")


def ph_state(det: drift.PageHinkley) -> PageHinkleyState:
    _check_layout(det)
    return PageHinkleyState(
        n=float(det._x_mean.n), mean=float(det._x_mean._mean),
        sum_increase=float(det._sum_increase), sum_decrease=float(det._sum_decrease),
        min_increase=finite_or_none(det._min_increase),
        max_decrease=finite_or_none(det._max_decrease),
        drift_detected=bool(det._drift_detected))


def ph_restore(det: drift.PageHinkley, s: PageHinkleyState) -> drift.PageHinkley:
    """``det`` (fresh, with the detector's parameters) carrying the state ``s``."""
    _check_layout(det)
    if not all(math.isfinite(x) for x in (s.n, s.mean, s.sum_increase, s.sum_decrease)) \
            or s.n < 0:
        raise StateError("PageHinkley state holds a negative count or a non-finite sum")
    vars(det._x_mean).update(n=s.n, _mean=s.mean)  # river's Mean: a count and a mean
    vars(det).update(
        _sum_increase=s.sum_increase, _sum_decrease=s.sum_decrease,
        _min_increase=math.inf if s.min_increase is None else s.min_increase,
        _max_decrease=-math.inf if s.max_decrease is None else s.max_decrease,
        _drift_detected=s.drift_detected)
    return det


@dataclass
class GradualMemory:
    """Cross-window memory of a gradual-drift monitor: one river detector per segment."""

    detectors: dict[str, drift.PageHinkley] = field(default_factory=dict)
    latched: dict[str, bool] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        return GradualState(detectors={k: ph_state(d) for k, d in self.detectors.items()},
                            latched=dict(self.latched)).model_dump()


@dataclass(frozen=True)
class GradualDrift(MomentsDetector):
    """PageHinkley over per-window standardised means (river)."""

    delta: float = 0.5
    threshold: float = 25.0
    min_instances: int = 5
    release_z: float = 2.0

    name: ClassVar[str] = "gradual"
    statistic: ClassVar[str] = "mean_shift_sd"
    direction: ClassVar = "both"  # creep in either direction
    default_thresholds: ClassVar[tuple[float, float]] = (0.05, 0.2)

    def new_memory(self) -> GradualMemory:
        return GradualMemory()

    def restore_memory(self, snap: dict[str, Any]) -> GradualMemory:
        state = validated(GradualState, snap, "gradual-drift memory")
        return GradualMemory({k: ph_restore(self._river(), s) for k, s in state.detectors.items()},
                             dict(state.latched))

    def _river(self) -> drift.PageHinkley:
        return drift.PageHinkley(min_instances=self.min_instances, delta=self.delta,
                                 threshold=self.threshold, mode="both")

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        """The window's shift; fed to the change detector when ``memory`` is given."""
        assert isinstance(current, Moments) and isinstance(reference, Moments)
        assert memory is None or isinstance(memory, GradualMemory)
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
            detected = latched = False
            if memory is not None:
                det = memory.detectors.setdefault(key, self._river())
                det.update(float(z))  # type: ignore[no-untyped-call]  # river is untyped
                detected = bool(det.drift_detected)
                still = bool(abs(z) >= self.release_z)
                latched = memory.latched[key] = detected or (memory.latched.get(key, False)
                                                             and still)
            out.append(Evaluation(
                detector=self.name, statistic=self.statistic, value=float(shift), p_value=None,
                n_reference=int(n_ref), n_current=int(n), segment=name,
                details={"z": float(z), "change_detected": detected, "latched": latched,
                         "reference_mean": mean_ref, "current_mean": mean},
                verdict=latched,
            ))
        return out


@dataclass(frozen=True)
class GradualRate(GradualDrift):
    """The gradual detector on a 0/1 outcome (the error stream): the rate's slow creep.

    The same test on the same moments; a binary signal reaches its sketch as 0/1 floats
    (−1, not counted, as NaN: ``monitors.values``)."""

    input_kind: ClassVar = "binary"  # type: ignore[assignment]  # the same test, another input

