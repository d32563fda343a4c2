"""The streams every tool reads: synthetic drift with known truth, NannyML's bundled data, nulls.

A ``Stream`` holds columns (numpy arrays) for the reference followed by the
monitored stream, plus what is true about it: where the change is, how wide it
is, and which columns drift. Each tool gets the same rows in its own form —
driftline prediction events as JSON bytes (``Stream.events``), pandas frames for
evidently and NannyML (``Stream.frame``), plain floats for river and scipy.

Synthetic streams come from river's generators. Their "model" is frozen: a
fixed logistic score over the standardised numeric features (weights drawn from
a seed, standardisation from the reference), so the prediction drifts exactly
when the features it reads drift, and stays put under pure concept drift (SEA,
Agrawal: only the label rule changes — feature monitors must stay silent).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

WINDOW = 5000  # events per count window, for every tool
START = 1_770_962_400.0  # 2026-02-13T06:00:00Z; events are 0.06 s apart (~5 min per window)


@dataclass
class Stream:
    """Reference rows then stream rows, with the truth about the stream."""

    name: str
    kind: str  # abrupt | gradual | label-only | null | real
    source: str
    numeric: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]  # object arrays of str
    prediction: np.ndarray
    decision: np.ndarray | None
    n_reference: int
    change: int | None = None  # stream index (after the reference) of the change point
    width: int = 1  # events over which the change happens (river's sigmoid width)
    drifting: frozenset[str] = frozenset()
    notes: str = ""
    segments: dict[str, np.ndarray] = field(default_factory=dict)  # segment key → str values
    _events: list[bytes] | None = field(default=None, repr=False)

    # -- shape ---------------------------------------------------------------
    @property
    def n(self) -> int:
        """Events in the monitored stream (after the reference)."""
        return int(self.prediction.size) - self.n_reference

    @property
    def windows(self) -> int:
        return self.n // WINDOW

    @property
    def columns(self) -> list[str]:
        """Every monitored column: features, then prediction and decision."""
        cols = [*self.numeric, *self.categorical, "prediction"]
        return [*cols, "decision"] if self.decision is not None else cols

    @property
    def numeric_columns(self) -> list[str]:
        return [*self.numeric, "prediction"]

    @property
    def categorical_columns(self) -> list[str]:
        cols = list(self.categorical)
        return [*cols, "decision"] if self.decision is not None else cols

    @property
    def onset(self) -> float | None:
        """First stream index at which the change can be seen (12% into a sigmoid ramp)."""
        if self.change is None:
            return None
        return self.change - (self.width / 2 if self.width > 1 else 0)

    def column(self, name: str) -> np.ndarray:
        if name == "prediction":
            return self.prediction
        if name == "decision":
            assert self.decision is not None
            return self.decision
        return self.numeric[name] if name in self.numeric else self.categorical[name]

    def reference(self, name: str) -> np.ndarray:
        return self.column(name)[: self.n_reference]

    def window(self, name: str, k: int) -> np.ndarray:
        lo = self.n_reference + k * WINDOW
        return self.column(name)[lo : lo + WINDOW]

    # -- driftline's form ---------------------------------------------------------
    def events(self) -> list[bytes]:
        """All rows (reference first) as driftline prediction events, JSON bytes."""
        if self._events is None:
            self._events = _encode(self)
        return self._events

    def reference_events(self) -> list[bytes]:
        return self.events()[: self.n_reference]

    def stream_events(self) -> list[bytes]:
        return self.events()[self.n_reference :]

    # -- the peers' form ----------------------------------------------------------
    def frame(self, lo: int, hi: int) -> Any:
        """Rows [lo, hi) as a pandas DataFrame (numeric float64, categorical str)."""
        import pandas as pd

        data: dict[str, Any] = {k: v[lo:hi] for k, v in self.numeric.items()}
        data.update({k: v[lo:hi] for k, v in self.categorical.items()})
        data["prediction"] = self.prediction[lo:hi]
        if self.decision is not None:
            data["decision"] = self.decision[lo:hi]
        return pd.DataFrame(data)

    def truth(self) -> dict[str, Any]:
        return {"kind": self.kind, "change": self.change, "width": self.width,
                "onset": self.onset, "drifting": sorted(self.drifting),
                "n_reference": self.n_reference, "n": self.n, "windows": self.windows,
                "columns": self.columns, "source": self.source, "notes": self.notes}


def _encode(s: Stream) -> list[bytes]:
    gc.disable()  # a million short-lived dicts: the cyclic collector only slows this down
    try:
        return list(_encode_rows(s))
    finally:
        gc.enable()


def _encode_rows(s: Stream) -> Iterable[bytes]:
    n = s.prediction.size
    ts = (START + 0.06 * np.arange(n)).round(3).tolist()
    num = {k: v.tolist() for k, v in s.numeric.items()}
    cat = {k: v.tolist() for k, v in s.categorical.items()}
    pred = s.prediction.tolist()
    dec = s.decision.tolist() if s.decision is not None else None
    segs = {k: v.tolist() for k, v in s.segments.items()}
    dumps = orjson.dumps
    model = s.name
    for i in range(n):
        feats: dict[str, Any] = {k: v[i] for k, v in num.items()}
        feats.update({k: v[i] for k, v in cat.items()})
        ev: dict[str, Any] = {"event_id": f"{model}-{i}", "model_id": model,
                              "model_version": "1", "timestamp": ts[i], "features": feats,
                              "prediction": pred[i]}
        if dec is not None:
            ev["decision"] = dec[i]
        if segs:
            ev["segments"] = {k: v[i] for k, v in segs.items()}
        yield dumps(ev)


# -- the frozen model ----------------------------------------------------------------
def frozen_model(numeric: dict[str, np.ndarray], n_reference: int, seed: int,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A fixed logistic score over standardised numeric features, and its decision."""
    rng = np.random.default_rng(1000 + seed)
    x = np.column_stack(list(numeric.values()))
    mu, sd = x[:n_reference].mean(axis=0), x[:n_reference].std(axis=0) + 1e-12
    w = rng.normal(0, 1, x.shape[1]) * 1.5 / math.sqrt(x.shape[1])
    score = 1.0 / (1.0 + np.exp(-((x - mu) / sd) @ w))
    return score, np.where(score >= 0.5, "approve", "decline").astype(object)


# -- river generators -------------------------------------------------------------------
def _take(gen: Any, n: int) -> list[dict[Any, Any]]:
    return [x for x, _ in gen.take(n)]


def safe_width(position: int) -> int:
    """Smallest ConceptDriftStream width whose sigmoid does not overflow ``math.exp``.

    river computes ``exp(-4 (t - position) / width)``, which overflows for
    ``position - t > 177 width``; the first sample is t = 1.
    """
    return max(1, math.ceil(4 * position / 700))


def rbf(name: str, n_ref: int, n: int, seed: int, change: int | None = None,
        width: int | None = None) -> Stream:
    """10 numeric features: x0–x4 from RandomRBF whose centroids change, x5–x9 stationary."""
    from river.datasets import synth

    total = n_ref + n
    a: Any
    if change is None:
        a = synth.RandomRBF(seed_model=seed, seed_sample=seed, n_features=5, n_centroids=20)
        kind, w = "null", 1
    else:
        w = width if width is not None else safe_width(n_ref + change)
        a = synth.ConceptDriftStream(
            stream=synth.RandomRBF(seed_model=seed, seed_sample=seed, n_features=5,
                                   n_centroids=20),
            drift_stream=synth.RandomRBF(seed_model=seed + 100, seed_sample=seed + 1,
                                         n_features=5, n_centroids=20),
            position=n_ref + change, width=w, seed=seed)
        kind = "gradual" if width is not None else "abrupt"
    b = synth.RandomRBF(seed_model=seed + 200, seed_sample=seed + 2, n_features=5,
                        n_centroids=20)
    xa, xb = _take(a, total), _take(b, total)
    numeric = {f"x{j}": np.array([r[j] for r in xa]) for j in range(5)}
    numeric.update({f"x{j + 5}": np.array([r[j] for r in xb]) for j in range(5)})
    pred, dec = frozen_model(numeric, n_ref, seed)
    drifting = frozenset() if change is None else frozenset(
        [*(f"x{j}" for j in range(5)), "prediction", "decision"])
    source = ("river RandomRBF(n_features=5, n_centroids=20) x2, stationary" if change is None
              else f"river ConceptDriftStream(RandomRBF seed_model {seed}→{seed + 100}, "
                   f"position={n_ref + change}, width={w}) for x0–x4; stationary RandomRBF x5–x9")
    return Stream(name, kind, source, numeric, {}, pred, dec, n_ref,
                  None if change is None else change, w, drifting,
                  notes="" if width is not None or change is None else
                  f"width {w} = smallest that does not overflow river's math.exp "
                  f"(about {w // 2} events from 12% to 88% drifted): abrupt at 5000-event windows")


def sea(name: str, n_ref: int, n: int, seed: int, change: int) -> Stream:
    """SEA: 3 uniform features; only the label rule (variant 0 → 3) changes."""
    from river.datasets import synth

    pos = n_ref + change
    g = synth.ConceptDriftStream(stream=synth.SEA(variant=0, seed=seed),
                                 drift_stream=synth.SEA(variant=3, seed=seed + 1),
                                 position=pos, width=safe_width(pos), seed=seed)
    rows = _take(g, n_ref + n)
    numeric = {f"f{j}": np.array([r[j] for r in rows]) for j in range(3)}
    pred, dec = frozen_model(numeric, n_ref, seed)
    return Stream(name, "label-only", f"river ConceptDriftStream(SEA variant 0→3, position={pos})",
                  numeric, {}, pred, dec, n_ref, change, 1, frozenset(),
                  notes="the label rule changes; features and the frozen model's output do not")


AGRAWAL_CATEGORICAL = ("elevel", "car", "zipcode")


def agrawal(name: str, n_ref: int, n: int, seed: int, change: int) -> Stream:
    """Agrawal: 6 numeric + 3 categorical features; only the label function (0 → 4) changes."""
    from river.datasets import synth

    pos = n_ref + change
    g = synth.ConceptDriftStream(
        stream=synth.Agrawal(classification_function=0, seed=seed),
        drift_stream=synth.Agrawal(classification_function=4, seed=seed + 1),
        position=pos, width=safe_width(pos), seed=seed)
    rows = _take(g, n_ref + n)
    keys = list(rows[0])
    numeric = {k: np.array([float(r[k]) for r in rows]) for k in keys
               if k not in AGRAWAL_CATEGORICAL}
    categorical = {k: np.array([f"{k}{int(r[k])}" for r in rows], dtype=object)
                   for k in AGRAWAL_CATEGORICAL}
    pred, dec = frozen_model(numeric, n_ref, seed)
    return Stream(name, "label-only",
                  f"river ConceptDriftStream(Agrawal function 0→4, position={pos})",
                  numeric, categorical, pred, dec, n_ref, change, 1, frozenset(),
                  notes="the label function changes; features and the frozen model's output do not")


# -- NannyML's bundled data sets ----------------------------------------------------------
def nannyml_multiclass(n_windows: int | None = None) -> Stream:
    """NannyML synthetic_multiclass: 60k reference, 60k analysis; every column shifts at 30,000."""
    import nannyml.datasets as nd

    ref, ana, _ = nd.load_synthetic_multiclass_classification_dataset()
    return _from_frames(
        "nml-multiclass", ref, ana, n_windows,
        numeric=["app_behavioral_score", "requested_credit_limit", "credit_bureau_score",
                 "stated_income"],
        categorical=["acq_channel", "app_channel", "is_customer"],
        prediction=ana_pred_multiclass, decision="y_pred", kind="abrupt", change=30_000,
        drifting_all=True,
        source="nannyml.datasets.load_synthetic_multiclass_classification_dataset()",
        notes="the data set documents a shift in the second half of the analysis period; every "
              "column moves at analysis row 30,000 (scipy, 5,000-row windows: D or chi² jump "
              "there and only there). prediction = the predicted class's probability")


def ana_pred_multiclass(df: Any) -> np.ndarray:
    probs = df[["y_pred_proba_prepaid_card", "y_pred_proba_highstreet_card",
                "y_pred_proba_upmarket_card"]].to_numpy(np.float64)
    return probs.max(axis=1)


CENSUS_CATEGORICAL = ("SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC",
                      "NATIVITY", "DEAR", "DEYE", "DREM", "SEX", "RAC1P")


def nannyml_census(n_windows: int | None = None) -> Stream:
    """NannyML us_census_ma_employment: 2015 reference, 2016–2018 analysis (real data)."""
    import nannyml.datasets as nd

    ref, ana, _ = nd.load_us_census_ma_employment_data()
    return _from_frames(
        "nml-census", ref, ana, n_windows, numeric=["AGEP"], categorical=list(CENSUS_CATEGORICAL),
        prediction=lambda df: df["predicted_probability"].to_numpy(np.float64),
        decision="prediction", kind="real", change=None, drifting_all=False,
        source="nannyml.datasets.load_us_census_ma_employment_data()",
        notes="real data: no known truth (used for throughput, agreement and exactness); "
              "AGEP is an integer age, so KS sees heavy ties")


def _from_frames(name: str, ref: Any, ana: Any, n_windows: int | None, *, numeric: list[str],
                 categorical: list[str], prediction: Any, decision: str, kind: str,
                 change: int | None, drifting_all: bool, source: str, notes: str) -> Stream:
    import pandas as pd

    n = (len(ana) // WINDOW) * WINDOW
    if n_windows is not None:
        n = min(n, n_windows * WINDOW)
    both = pd.concat([ref, ana.iloc[:n]], ignore_index=True)
    num = {c: both[c].to_numpy(np.float64) for c in numeric}
    cat = {c: both[c].astype(str).to_numpy(object) for c in categorical}
    pred = prediction(both)
    dec_col = both[decision]
    dec = (dec_col.map({0: "negative", 1: "positive"}) if dec_col.dtype.kind in "iu"
           else dec_col.astype(str)).to_numpy(object)
    cols = [*numeric, *categorical, "prediction", "decision"]
    ch = change if change is not None and change < n else None
    return Stream(name, kind if ch is not None or kind == "real" else "null", source, num, cat,
                  pred, dec, len(ref), ch, 1,
                  frozenset(cols) if drifting_all and ch is not None else frozenset(), notes=notes)


# -- the sets of streams -------------------------------------------------------------------
def quality_streams(mode: str) -> list[Stream]:
    """The streams of a mode: quick (under the 5-minute budget) or full."""
    quick = mode == "quick"
    n_ref = 20_000 if quick else 50_000
    n = 40_000 if quick else 100_000
    seeds = (1, 2) if quick else (1, 2, 3, 4, 5)
    change = 17_500 if quick else 47_500  # mid-window: one window straddles the change
    out = [
        rbf("rbf-abrupt", n_ref, n, seed=7, change=change),
        rbf("rbf-gradual", n_ref, n, seed=8, change=change + 2_500,
            width=10_000 if quick else 20_000),
    ]
    if not quick:
        out.append(sea("sea-label", n_ref, n, seed=9, change=change))
    out.append(agrawal("agrawal-label", n_ref, n, seed=10, change=change))
    out += [rbf(f"null-rbf-s{s}", n_ref, n, seed=s) for s in seeds]
    out.append(nannyml_multiclass())
    out.append(nannyml_census(n_windows=6 if quick else None))
    return out
