"""The embedded demo: a delivery-routing model's prediction stream with three injected failures.

Everything is generated in-process from a seed, window by window (5 minutes of
event time, ~5,000 events each), so the demo needs no Kafka and is the same
stream every time for the same seed. ``Scenario`` says when each failure
starts; the demo prints it up front and tests check detections against it.

Failures:
  (a) region-deprioritized — after a feature-pipeline change, the south region's
      scores sink gradually; its priority rate falls ~9 points while the
      aggregate rate stays within 2 points of normal;
  (b) unit-change — parcel_weight arrives in pounds instead of kilograms;
  (c) score-creep — prioritized scores creep upwards (over-confidence), so slowly
      that no single window crosses a PSI or KS threshold and no decision changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import orjson

START = 1_770_962_400.0  # 2026-02-13T06:00:00Z
WINDOW_SECONDS = 300.0
EVENTS_PER_WINDOW = 5000
REGIONS = ("north", "south", "east", "west", "central")
REGION_P = (0.25, 0.2, 0.2, 0.2, 0.15)
TIERS = ("gold", "silver", "bronze")
TIER_P = (0.2, 0.35, 0.45)
VEHICLES = ("van", "bike", "truck")
VEHICLE_P = (0.6, 0.25, 0.15)
VERSION = "2026.02.1"


@dataclass(frozen=True)
class Scenario:
    """When each failure happens, in windows since the start (end exclusive)."""

    windows: int = 60
    warmup: int = 4
    region_start: int = 12
    region_ramp: int = 6
    region_end: int = 26
    region_offset: float = -0.3  # logit offset for the south region at full effect
    unit_start: int = 30
    unit_end: int = 36
    creep_start: int = 38
    creep_per_window: float = 0.02  # logit units per window, on prioritized scores only
    creep_growth: int = 6  # windows of growth, then the creep holds
    clean: bool = False

    def window_start(self, w: int) -> float:
        return START + w * WINDOW_SECONDS

    def describe(self) -> list[tuple[str, int, int]]:
        """(failure, first window, end window) for printing and tests."""
        if self.clean:
            return []
        return [("region-deprioritized (south)", self.region_start, self.region_end),
                ("unit-change (parcel_weight in lb)", self.unit_start, self.unit_end),
                ("score-creep (prediction)", self.creep_start, self.windows)]


def _logistic(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def generate_window(w: int, rng: np.random.Generator, sc: Scenario) -> list[bytes]:
    """The encoded events of window ``w`` (slightly out of order, as real streams are)."""
    n = int(rng.poisson(EVENTS_PER_WINDOW))
    t0 = sc.window_start(w)
    ts = np.sort(rng.uniform(t0, t0 + WINDOW_SECONDS, n))
    ts = ts + rng.uniform(0, 5, n) * (rng.random(n) < 0.05)  # 5% arrive up to 5 s "late"
    region = rng.choice(len(REGIONS), n, p=REGION_P)
    tier = rng.choice(len(TIERS), n, p=TIER_P)
    vehicle = rng.choice(len(VEHICLES), n, p=VEHICLE_P)
    distance = np.round(rng.lognormal(2.2, 0.6, n), 2)
    weight = np.round(rng.gamma(2.0, 2.5, n), 2)
    stops = rng.poisson(6, n) + 1
    traffic = np.round(rng.beta(2, 3, n) * 10, 2)
    promised = rng.choice([2, 4, 8, 24], n, p=[0.15, 0.25, 0.35, 0.25])
    latency = np.round(rng.gamma(4, 3, n), 2)
    logit = (-0.45 + 0.9 * (tier == 0) + 0.3 * (tier == 1) - 0.04 * (distance - 9)
             + 0.05 * (weight - 5) + 0.6 * (promised <= 4) - 0.03 * (stops - 7)
             + rng.normal(0, 0.8, n))
    if not sc.clean:
        if sc.region_start <= w < sc.region_end:
            ramp = min(1.0, (w - sc.region_start + 1) / sc.region_ramp)
            logit = logit + sc.region_offset * ramp * (region == 1)
        if sc.unit_start <= w < sc.unit_end:
            weight = np.round(weight * 2.20462, 2)
        if w >= sc.creep_start:
            # over-confidence creeping into prioritized scores: decisions do not change,
            # the score distribution does
            grown = min(w - sc.creep_start + 1, sc.creep_growth)
            logit = logit + sc.creep_per_window * grown * (logit > 0)
    score = np.round(_logistic(logit), 4)
    decision = np.where(score >= 0.5, "prioritize", "standard")
    out = []
    dumps = orjson.dumps
    for i in range(n):
        r = REGIONS[region[i]]
        out.append(dumps({
            "event_id": f"w{w:04d}-{i:05d}", "model_id": "routing", "model_version": VERSION,
            "timestamp": round(float(ts[i]), 3),
            "features": {"distance_km": float(distance[i]), "parcel_weight": float(weight[i]),
                         "n_stops": int(stops[i]), "traffic_index": float(traffic[i]),
                         "promised_window_h": int(promised[i]), "region": r,
                         "vehicle_type": VEHICLES[vehicle[i]]},
            "prediction": float(score[i]), "decision": str(decision[i]),
            "segments": {"region": r, "customer_tier": TIERS[tier[i]]},
            "latency_ms": float(latency[i]),
        }))
    return out


def stream(seed: int = 7, scenario: Scenario | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """(window index, encoded events) for every window of the scenario."""
    sc = scenario or Scenario()
    rng = np.random.default_rng(seed)
    for w in range(sc.windows):
        yield w, generate_window(w, rng, sc)
