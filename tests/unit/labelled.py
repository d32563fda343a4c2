"""Labelled synthetic streams for the labels layer's tests: predictions and their labels.

Not a test module: imported by the tests beside it (``from labelled import ...``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import orjson

T0 = 1_770_962_400.0  # 2026-02-13T06:00:00Z
REGIONS = ("north", "south", "east", "west")
DECISIONS = ("prioritize", "standard")


@dataclass
class Labelled:
    """Prediction events and label lines, with the raw values a test checks metrics against."""

    events: list[bytes]
    labels: list[bytes]
    region: list[str]
    decision: list[str]
    truth: list[str]
    prediction: list[float]
    times: list[float]


def _begin(seed: int, windows: int, per_window: int, size: float, start: float,
           ) -> tuple[np.random.Generator, Labelled]:
    """A stream's random generator and its empty record, with the events' times: ``per_window``
    evenly spaced in each window of ``size`` seconds from ``start``."""
    n = windows * per_window
    rng = np.random.default_rng(seed)
    return rng, Labelled([], [], [], [], [], [], [start + (i + 0.5) * size / per_window
                                                  for i in range(n)])


def _scored(rng: np.random.Generator) -> tuple[str, float, float, str]:
    """One event's region, feature x, score p = σ(x) and decision (threshold 0.5)."""
    region = REGIONS[int(rng.integers(len(REGIONS)))]
    x = float(rng.normal())
    p = float(1 / (1 + np.exp(-x)))
    return region, x, p, DECISIONS[0] if p >= 0.5 else DECISIONS[1]


def _flipped(rng: np.random.Generator, decision: str, flip: float) -> str:
    """The label: the decision, the other one with probability ``flip``."""
    return DECISIONS[1 - DECISIONS.index(decision)] if rng.random() < flip else decision


def _add(out: Labelled, eid: str, t: float, region: str, x: float, p: float, decision: str,
         truth: str, **extra: str) -> None:
    """The prediction event (``extra``: an inline label) and its raw values."""
    out.events.append(orjson.dumps({
        "event_id": eid, "model_id": "m", "timestamp": t, "features": {"x": x},
        "prediction": p, "decision": decision, "segments": {"region": region}, **extra}))
    out.region.append(region)
    out.decision.append(decision)
    out.truth.append(truth)
    out.prediction.append(p)


def classification(windows: int, per_window: int, *, seed: int = 0, size: float = 60.0,
                   wrong: float = 0.1, drift_from: int | None = None, drift_region: str = "south",
                   drift_wrong: float = 0.5, delay: float = 600.0, inline: bool = False,
                   prefix: str = "e", start: float = T0) -> Labelled:
    """Events whose features and decisions have one distribution throughout; each label is
    the decision, flipped with probability ``wrong`` — ``drift_wrong`` in ``drift_region``
    from window ``drift_from`` on (a label-only change). Labels come ``delay`` s (mean,
    exponential) after their prediction, in a labels file or inline."""
    rng, out = _begin(seed, windows, per_window, size, start)
    for i, t in enumerate(out.times):
        region, x, p, decision = _scored(rng)
        flip = drift_wrong if drift_from is not None and i // per_window >= drift_from \
            and region == drift_region else wrong
        truth = _flipped(rng, decision, flip)
        if not inline:
            out.labels.append(orjson.dumps({"event_id": f"{prefix}{i}", "label": truth,
                                            "timestamp": t + float(rng.exponential(delay))}))
        _add(out, f"{prefix}{i}", t, region, x, p, decision, truth,
             **({"label": truth} if inline else {}))
    return out


def regression(windows: int, per_window: int, *, seed: int = 0, size: float = 60.0,
               noise: float = 1.0, drift_from: int | None = None, drift_noise: float = 2.0,
               ) -> Labelled:
    """Events whose prediction is the label plus N(0, ``noise``) — ``drift_noise`` from
    window ``drift_from`` on; numeric labels in a labels file, 10 s after the prediction."""
    rng, out = _begin(seed, windows, per_window, size, T0)
    for i, t in enumerate(out.times):
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        y = float(rng.normal(10, 3))
        sd = drift_noise if drift_from is not None and i // per_window >= drift_from else noise
        p = y + float(rng.normal(0, sd))
        out.events.append(orjson.dumps({"event_id": f"e{i}", "model_id": "m", "timestamp": t,
                                        "features": {"x": float(rng.normal())}, "prediction": p,
                                        "segments": {"region": region}}))
        out.labels.append(orjson.dumps({"event_id": f"e{i}", "label": y, "timestamp": t + 10}))
        out.region.append(region)
        out.truth.append(str(y))
        out.prediction.append(p)
    return out


#: E[exp(−2|X|)] for X ~ N(0, 1): scales a flip probability to a mean
_NEAR = 2 * math.exp(2) * 0.5 * math.erfc(2 / math.sqrt(2))


def ranked(windows: int, per_window: int, *, seed: int = 0, size: float = 60.0,
           wrong: float = 0.1, drift_from: int | None = None, drift_region: str = "south",
           prefix: str = "e", start: float = T0) -> Labelled:
    """Events whose label is the decision flipped with a mean probability ``wrong`` that is
    highest near the decision threshold (a score that ranks well: AUC ≈ 0.95); in
    ``drift_region`` from window ``drift_from`` on, the flips move to the confident scores
    (same mean, so the same error rate at the threshold: AUC ≈ 0.88). Labels come 10 s later."""
    rng, out = _begin(seed, windows, per_window, size, start)
    for i, t in enumerate(out.times):
        region, x, p, decision = _scored(rng)
        near = math.exp(-2 * abs(x))
        drifted = drift_from is not None and i // per_window >= drift_from \
            and region == drift_region
        flip = wrong * (1 - near) / (1 - _NEAR) if drifted else wrong * near / _NEAR
        truth = _flipped(rng, decision, flip)
        out.labels.append(orjson.dumps({"event_id": f"{prefix}{i}", "label": truth,
                                        "timestamp": t + 10}))
        _add(out, f"{prefix}{i}", t, region, x, p, decision, truth)
    return out


def crowding(windows: int, per_window: int, *, seed: int = 0, size: float = 60.0,
             shift_from: int | None = None, shift_region: str = "south", spread: float = 0.3,
             prefix: str = "e", start: float = T0) -> Labelled:
    """Events whose decisions are wrong with a chance that is highest near the threshold
    (P(wrong | score) fixed throughout, as ``ranked``'s); in ``shift_region`` from window
    ``shift_from`` on, the feature's spread shrinks to ``spread`` — the scores crowd the
    threshold, so more decisions are wrong with no change of concept (a covariate shift).
    Labels come 10 s later."""
    rng, out = _begin(seed, windows, per_window, size, start)
    for i, t in enumerate(out.times):
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        shifted = shift_from is not None and i // per_window >= shift_from \
            and region == shift_region
        x = float(rng.normal(0.0, spread if shifted else 1.0))
        p = float(1 / (1 + np.exp(-x)))
        decision = DECISIONS[0] if p >= 0.5 else DECISIONS[1]
        truth = _flipped(rng, decision, 0.45 * math.exp(-2 * abs(x)))
        out.labels.append(orjson.dumps({"event_id": f"{prefix}{i}", "label": truth,
                                        "timestamp": t + 10}))
        _add(out, f"{prefix}{i}", t, region, x, p, decision, truth)
    return out


def calibrated(windows: int, per_window: int, *, seed: int = 0, size: float = 60.0,
               drift_from: int | None = None, shift: float = 0.25, prefix: str = "e",
               start: float = T0) -> Labelled:
    """Events whose label is ``prioritize`` with probability the score p = σ(x) (a calibrated
    score of ``prioritize``); from window ``drift_from`` on, with probability p − ``shift``
    (clipped at 0: the score overstates it). Labels come 10 s later."""
    rng, out = _begin(seed, windows, per_window, size, start)
    for i, t in enumerate(out.times):
        region, x, p, decision = _scored(rng)
        q = max(0.0, p - shift) if drift_from is not None and i // per_window >= drift_from else p
        truth = DECISIONS[0] if rng.random() < q else DECISIONS[1]
        out.labels.append(orjson.dumps({"event_id": f"{prefix}{i}", "label": truth,
                                        "timestamp": t + 10}))
        _add(out, f"{prefix}{i}", t, region, x, p, decision, truth)
    return out
