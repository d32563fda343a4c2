"""The embedded demo: a delivery-routing model's prediction stream with four injected failures.

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
      that no single window crosses a PSI or KS threshold and no decision changes;
  (d) concept-drift — labels only: in the east region the truth changes (a new depot
      makes tight promised windows easy and long routes urgent) while the inputs, the
      scores and the decisions stay exactly as before; only the performance layer sees it.

Ground truth (``labelled_stream``) comes as a separate label stream, ``{"event_id", "label",
"timestamp"}`` lines stamped when the label became known: minutes to hours after the
prediction (log-normal, median 40 min), a share never. The truth is the model's own latent
score before any injected failure plus noise, so the model is right ~80% of the time and
the region failure's wrong decisions show as errors too. Labels draw from their own random
generator: the events are the same with or without them (``produce-demo`` sends no labels).
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
LABEL_NOISE = 0.6  # sd of the truth around the model's latent logit: the model is ~80% right
CONCEPT_SHIFT = 1.2  # logit units the east truth moves by, for short and for long routes
LABEL_DELAY_MEDIAN = 2400.0  # seconds (40 min); p90 ~2.4 h, p99 ~6.8 h
LABEL_DELAY_SIGMA = 1.0  # of the log-normal label delay
UNLABELLED_SHARE = 0.1  # predictions whose label never comes


@dataclass(frozen=True)
class Scenario:
    """When each failure happens, in windows since the start (end exclusive)."""

    windows: int = 60
    warmup: int = 4
    region_start: int = 12
    region_ramp: int = 6
    region_end: int = 26
    region_offset: float = -0.3  # logit offset for the south region at full effect
    concept_start: int = 28  # labels only: the truth moves, nothing the model sees does
    concept_end: int = 36
    concept_region: int = 2  # east
    creep_start: int = 38
    creep_per_window: float = 0.02  # logit units per window, on prioritized scores only
    creep_growth: int = 6  # windows of growth, then the creep holds
    unit_start: int = 44  # during the creep: other monitors, other signals
    unit_end: int = 50
    clean: bool = False

    def window_start(self, w: int) -> float:
        return START + w * WINDOW_SECONDS

    def describe(self, labels: bool = True) -> list[tuple[str, int, int]]:
        """(failure, first window, end window) for printing and tests; the label-only one
        only with ``labels`` (without them nothing can show it)."""
        if self.clean:
            return []
        out = [("region-deprioritized (south)", self.region_start, self.region_end),
               ("score-creep (prediction)", self.creep_start, self.windows),
               ("unit-change (parcel_weight in lb)", self.unit_start, self.unit_end)]
        if labels and self.concept_start < self.windows:
            out.insert(1, (f"concept-drift ({REGIONS[self.concept_region]}, labels only)",
                           self.concept_start, self.concept_end))
        return out


def _logistic(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def _columns(w: int, rng: np.random.Generator, sc: Scenario) -> dict[str, np.ndarray]:
    """Window ``w``'s event columns; ``latent`` is the model's logit before any failure
    (what the truth is drawn from)."""
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
    latent = (-0.45 + 0.9 * (tier == 0) + 0.3 * (tier == 1) - 0.04 * (distance - 9)
              + 0.05 * (weight - 5) + 0.6 * (promised <= 4) - 0.03 * (stops - 7)
              + rng.normal(0, 0.8, n))
    logit = latent
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
    return {"ts": ts, "region": region, "tier": tier, "vehicle": vehicle, "distance": distance,
            "weight": weight, "stops": stops, "traffic": traffic, "promised": promised,
            "latency": latency, "latent": latent, "score": score}


def _encode(w: int, c: dict[str, np.ndarray]) -> list[bytes]:
    decision = np.where(c["score"] >= 0.5, "prioritize", "standard")
    ts, region, tier, vehicle = c["ts"], c["region"], c["tier"], c["vehicle"]
    distance, weight, stops, traffic = c["distance"], c["weight"], c["stops"], c["traffic"]
    promised, score, latency = c["promised"], c["score"], c["latency"]
    out = []
    dumps = orjson.dumps
    for i in range(ts.size):
        r = REGIONS[region[i]]
        out.append(fitted(dumps({
            "event_id": f"w{w:04d}-{i:05d}", "model_id": "routing", "model_version": VERSION,
            "timestamp": round(float(ts[i]), 3),
            "features": {"distance_km": float(distance[i]), "parcel_weight": float(weight[i]),
                         "n_stops": int(stops[i]), "traffic_index": float(traffic[i]),
                         "promised_window_h": int(promised[i]), "region": r,
                         "vehicle_type": VEHICLES[vehicle[i]]},
            "prediction": float(score[i]), "decision": str(decision[i]),
            "segments": {"region": r, "customer_tier": TIERS[tier[i]]},
            "latency_ms": float(latency[i]),
        })))
    return out


def fitted(line: bytes) -> bytes:
    """``line`` in a bytes object of its own size. orjson's ``dumps`` hands back its ~4 KB
    working buffer: a 400-byte event held that way costs ten times its size (``produce-demo``
    peaked at 1.34 GB RSS holding its 270,531 label lines of ~70 bytes; 261 MB fitted)."""
    return bytes(memoryview(line))


def generate_window(w: int, rng: np.random.Generator, sc: Scenario) -> list[bytes]:
    """The encoded events of window ``w`` (slightly out of order, as real streams are)."""
    return _encode(w, _columns(w, rng, sc))


@dataclass(frozen=True)
class Labels:
    """One window's label stream: which prediction, its true decision, when it was known."""

    event_ids: list[str]
    labels: list[str]
    timestamps: np.ndarray

    def lines(self) -> list[bytes]:
        """As ``{"event_id", "label", "timestamp"}`` JSON lines (``replay --labels`` reads them)."""
        return [fitted(orjson.dumps({"event_id": e, "label": lab, "timestamp": t}))
                for e, lab, t in zip(self.event_ids, self.labels, self.timestamps.tolist(),
                                     strict=True)]


def generate_labels(w: int, c: dict[str, np.ndarray], rng: np.random.Generator,
                    sc: Scenario) -> Labels:
    """The labels of window ``w``'s events: the truth, stamped when it became known."""
    n = c["ts"].size
    truth = c["latent"] + rng.normal(0, LABEL_NOISE, n)
    if not sc.clean and sc.concept_start <= w < sc.concept_end:
        # concept drift: the same inputs now call for other decisions in one region
        east = c["region"] == sc.concept_region
        truth = truth + east * (CONCEPT_SHIFT * (c["distance"] > 12)
                                - CONCEPT_SHIFT * (c["promised"] <= 4))
    delay = rng.lognormal(np.log(LABEL_DELAY_MEDIAN), LABEL_DELAY_SIGMA, n)
    known = np.flatnonzero(rng.random(n) >= UNLABELLED_SHARE)
    names = np.where(truth[known] >= 0, "prioritize", "standard").tolist()
    return Labels([f"w{w:04d}-{i:05d}" for i in known.tolist()], names,
                  np.round(c["ts"][known] + delay[known], 3))


def stream(seed: int = 7, scenario: Scenario | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """(window index, encoded events) for every window of the scenario."""
    sc = scenario or Scenario()
    rng = np.random.default_rng(seed)
    for w in range(sc.windows):
        yield w, generate_window(w, rng, sc)


def labelled_stream(seed: int = 7, scenario: Scenario | None = None,
                    ) -> Iterator[tuple[int, list[bytes], Labels]]:
    """(window index, encoded events, their label lines): ``stream``'s events, the same
    bytes, with the labels of each window's predictions."""
    sc = scenario or Scenario()
    rng, label_rng = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    for w in range(sc.windows):
        c = _columns(w, rng, sc)
        yield w, _encode(w, c), generate_labels(w, c, label_rng, sc)
