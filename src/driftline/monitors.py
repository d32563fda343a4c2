"""Monitors: a config binding compiled into what the engine runs.

A monitor reads one *signal* of some models, optionally split by a segment key,
into a *slot* — the sketch that holds it. Monitors whose detector reads the
same sketch of the same signal share a slot (PSI and KS on one feature bin it
once). With no monitors in the config, ``preset`` monitors everything the
events carry (the zero-config preset).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline import performance
from driftline.config import DetectionConfig, MonitorConfig, MonitorWindow
from driftline.decode import Batch, Decoder, Schema
from driftline.detectors import REGISTRY, Detector
from driftline.detectors.sketches import FloatArray, IntArray
from driftline.errors import ConfigError


def signal_kind(signal: str, schema: Schema) -> str:
    """'numeric', 'categorical', 'binary' or 'volume' — what the signal's values are."""
    if signal in ("prediction", "latency_ms"):
        return "numeric"
    if signal == "decision":
        return "categorical"
    if signal.startswith("decision="):
        return "binary"
    if signal == "volume":
        return "volume"
    perf = performance.kind(signal)
    if perf is not None and schema.labels:
        return perf  # a feature of that name is feature:NAME then
    name = signal.removeprefix("feature:")
    if name in schema.numeric:
        return "numeric"
    if name in schema.categorical:
        return "categorical"
    if perf is not None:
        raise ConfigError(f"signal {signal!r} is a performance signal: it needs labels "
                          "(labels.enabled: true, or replay --labels)")
    raise ConfigError(f"signal {signal!r}: no such feature in the events "
                      f"(numeric: {list(schema.numeric)}, categorical: {list(schema.categorical)})")


def extract(signal: str, batch: Batch, decoder: Decoder) -> FloatArray | IntArray:
    """The signal's column for a batch: floats, codes, 0/1 (−1 = missing) or zeros."""
    if signal == "prediction":
        return batch.prediction
    if signal == "latency_ms":
        return batch.latency
    if signal == "decision":
        return batch.decision
    if signal == "volume":
        return np.zeros(len(batch), np.int64)
    if signal.startswith("decision="):
        code = decoder.decisions.index.get(signal.split("=", 1)[1], -2)
        return np.where(batch.decision < 0, -1, batch.decision == code).astype(np.int64)
    if decoder.schema.labels and performance.kind(signal) is not None:
        return performance.extract(signal, batch, decoder)
    name = signal.removeprefix("feature:")
    return batch.numeric[name] if name in batch.numeric else batch.categorical[name]


def values(m: Monitor, batch: Batch, decoder: Decoder) -> FloatArray | IntArray:
    """The monitor's signal as its detector reads it: a binary signal into moments (the
    gradual detector on the error stream) as 0/1 floats, NaN where −1 (not counted)."""
    v = extract(m.cfg.signal, batch, decoder)
    if m.kind == "binary" and m.detector.sketch_key() == ("moments",):
        return np.where(v < 0, np.nan, v).astype(np.float64)
    return v


def category_names(signal: str, decoder: Decoder) -> list[str]:
    if signal in ("decision", "estimated_error"):
        return list(decoder.decisions.names)
    name = signal.removeprefix("feature:")
    vocab = decoder.categories.get(name)
    return list(vocab.names) if vocab is not None else []


@dataclass(frozen=True)
class Monitor:
    """A compiled monitor: config, detector, slot, thresholds."""

    cfg: MonitorConfig
    detector: Detector
    kind: str
    slot: str
    warning: float
    critical: float
    min_samples: int
    #: "performance" (a signal of the labels layer: judged once the labels are final) or
    #: "behaviour" (everything the events carry by themselves)
    layer: str = "behaviour"

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def direction(self) -> str:
        return self.cfg.direction or self.detector.direction

    @property
    def window(self) -> MonitorWindow | None:
        """The monitor's own window, or None for the global one."""
        return self.cfg.window

    def applies_to(self, model: str) -> bool:
        return not self.cfg.models or model in self.cfg.models

    def level(self, value: float) -> int:
        """0 ok, 1 warning, 2 critical — by the thresholds and the detector's direction."""
        if self.direction == "below":
            return 2 if value <= self.critical else 1 if value <= self.warning else 0
        v = abs(value) if self.direction == "both" else value
        return 2 if v >= self.critical else 1 if v >= self.warning else 0

    def levels(self, values: FloatArray) -> IntArray:
        """``level`` of every value at once (NaN: 0, as ``level`` gives)."""
        if self.direction == "below":
            out: IntArray = np.where(values <= self.critical, 2,
                                     np.where(values <= self.warning, 1, 0))
            return out
        v = np.abs(values) if self.direction == "both" else values
        out = np.where(v >= self.critical, 2, np.where(v >= self.warning, 1, 0))
        return out


def slot_name(signal: str, segment_by: str | None, sketch: str) -> str:
    """The slot's name: a JSON array, unambiguous whatever the names hold ('|', quotes)."""
    return json.dumps([signal, segment_by, sketch], ensure_ascii=False, separators=(",", ":"))


def params_problem(cls: type, params: dict[str, Any], exc: Exception) -> str:
    """What is wrong with a detector's params, in the config's words."""
    accepted = list(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        return (f"unknown {', '.join(map(repr, unknown))} for {getattr(cls, 'name', cls.__name__)}"
                f"; it takes {', '.join(accepted) or 'no params'}")
    return str(exc)


def compile_monitor(cfg: MonitorConfig, schema: Schema, detection: DetectionConfig) -> Monitor:
    kind = signal_kind(cfg.signal, schema)
    options = REGISTRY[cfg.detector]
    if kind not in options:
        raise ConfigError(f"monitor {cfg.name}: detector {cfg.detector} does not take a "
                          f"{kind} signal ({cfg.signal}); it takes {sorted(options)}")
    try:
        detector = options[kind](**cfg.params)
    except (TypeError, ValueError) as exc:
        why = params_problem(options[kind], cfg.params, exc)
        raise ConfigError(f"monitor {cfg.name}: params: {why}") from exc
    if cfg.segment_by is not None and cfg.segment_by not in schema.segments:
        raise ConfigError(f"monitor {cfg.name}: segment_by {cfg.segment_by!r} is not a segment "
                          f"key of the events ({list(schema.segments)})")
    warning, critical = (cfg.thresholds.warning, cfg.thresholds.critical) if cfg.thresholds \
        else detector.default_thresholds
    if cfg.direction is not None:
        warning, critical = one_side(cfg, detector, warning, critical)
    raw_key = detector.sketch_key()
    key = "/".join(map(str, raw_key)) if isinstance(raw_key, tuple) else str(raw_key)
    slot = slot_name(cfg.signal, cfg.segment_by, key)
    layer = "performance" if schema.labels and performance.kind(cfg.signal) is not None \
        else "behaviour"
    return Monitor(cfg, detector, kind, slot, warning, critical,
                   cfg.min_samples or detection.min_samples, layer)


def one_side(cfg: MonitorConfig, detector: Detector, warning: float, critical: float,
             ) -> tuple[float, float]:
    """The thresholds of a two-sided detector narrowed to ``cfg.direction``: magnitudes in the
    config, signed here, so "below" means ``value <= threshold`` as it does everywhere."""
    if detector.direction != "both":
        raise ConfigError(f"monitor {cfg.name}: direction {cfg.direction!r}: detector "
                          f"{cfg.detector} is one-sided already ({detector.direction})")
    sign = -1.0 if cfg.direction == "below" else 1.0
    return sign * abs(warning), sign * abs(critical)


def compile_monitors(cfgs: Sequence[MonitorConfig], schema: Schema,
                     detection: DetectionConfig) -> list[Monitor]:
    errors, out = [], []
    for cfg in cfgs:
        try:
            out.append(compile_monitor(cfg, schema, detection))
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("\n".join(errors))
    return out


def slug(text: str) -> str:
    """ASCII for a monitor name: accents dropped, anything else a dash ('Région' → 'region')."""
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() or c in "._" else "-" for c in ascii_.lower()).strip("-._")


def ident(name: str) -> str:
    """A name's part of a monitor name: its slug, made unique when slugging changed it.

    Names are whatever the events carry; monitor names are ``[a-z0-9_.-]``. Two names
    that slug alike (``Speed`` and ``speed``, ``a b`` and ``a-b``) stay apart: a name
    that is not its own slug gets a short hash of itself, so the mapping does not depend
    on which names a stream happens to hold.
    """
    s = slug(name)
    if s == name:
        return s
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{s}-{digest}" if s else digest


def performance_preset(schema: Schema, task: str | None) -> list[dict[str, Any]]:
    """With labels: error rate (overall, per segment, gradual), its estimate before labels,
    precision, recall, ROC AUC and calibration error (each overall and per segment key) and
    equal opportunity per segment key for classification (also when no reference label told
    the task: those monitors then say they are blind); MAE and RMSE for regression."""
    keys = [ident(k) for k in schema.segments]
    if task == "regression":
        return [{"name": "mae", "signal": "abs_error", "detector": "mean_shift"},
                {"name": "rmse", "signal": "squared_error", "detector": "mean_shift",
                 "params": {"root": True}},
                {"name": "gradual-abs-error", "signal": "abs_error", "detector": "gradual",
                 "direction": "above"},
                *({"name": f"mae-by-{i}", "signal": "abs_error", "detector": "mean_shift",
                   "segment_by": k} for i, k in zip(keys, schema.segments, strict=True))]
    # one-sided: an error rate that falls, a precision or recall that rises, is no incident
    # (auc is one-sided by itself: only a drop breaches)
    return [{"name": "error-rate", "signal": "error", "detector": "segment_rate",
             "direction": "above"},
            {"name": "precision", "signal": "precision", "detector": "segment_rate",
             "direction": "below"},
            {"name": "recall", "signal": "recall", "detector": "segment_rate",
             "direction": "below"},
            {"name": "gradual-error", "signal": "error", "detector": "gradual",
             "direction": "above"},
            {"name": "auc", "signal": "score_label", "detector": "auc"},
            {"name": "calibration", "signal": "score_label", "detector": "calibration"},
            {"name": "estimated-error-rate", "signal": "estimated_error", "detector": "cbpe"},
            *({"name": f"error-rate-by-{i}", "signal": "error", "detector": "segment_rate",
               "segment_by": k, "direction": "above"}
              for i, k in zip(keys, schema.segments, strict=True)),
            *({"name": f"{rate}-by-{i}", "signal": rate, "detector": "segment_rate",
               "segment_by": k, "direction": "below"}
              for i, k in zip(keys, schema.segments, strict=True)
              for rate in ("precision", "recall")),
            *({"name": f"auc-by-{i}", "signal": "score_label", "detector": "auc",
               "segment_by": k} for i, k in zip(keys, schema.segments, strict=True)),
            *({"name": f"calibration-by-{i}", "signal": "score_label",
               "detector": "calibration", "segment_by": k}
              for i, k in zip(keys, schema.segments, strict=True)),
            *({"name": f"estimated-error-rate-by-{i}", "signal": "estimated_error",
               "detector": "cbpe", "segment_by": k}
              for i, k in zip(keys, schema.segments, strict=True)),
            # vs_reference: a gap the reference already had is not news, a worsening is
            *({"name": f"equal-opportunity-by-{i}", "signal": "recall",
               "detector": "disparate_impact", "segment_by": k,
               "params": {"question": "vs_reference"}}
              for i, k in zip(keys, schema.segments, strict=True))]


def preset(schema: Schema, decisions: Sequence[str], task: str | None = None,
           ) -> list[MonitorConfig]:
    """Zero-config: watch every feature, the prediction, decision rates per segment, volume,
    and with labels (``schema.labels``) the performance of the decisions.

    ``decisions`` are the decision values by descending reference frequency; the
    rate of every value but the most common is monitored (for two values, one
    rate says it all).
    """
    cfgs: list[dict[str, Any]] = []
    for f in schema.numeric:
        cfgs += [{"name": f"psi-{ident(f)}", "signal": f"feature:{f}", "detector": "psi"},
                 {"name": f"ks-{ident(f)}", "signal": f"feature:{f}", "detector": "ks"}]
    for f in schema.categorical:
        cfgs += [{"name": f"chi2-{ident(f)}", "signal": f"feature:{f}", "detector": "chi_square"},
                 {"name": f"psi-{ident(f)}", "signal": f"feature:{f}", "detector": "psi"}]
    cfgs += [{"name": "psi-prediction", "signal": "prediction", "detector": "psi"},
             {"name": "ks-prediction", "signal": "prediction", "detector": "ks"},
             {"name": "gradual-prediction", "signal": "prediction", "detector": "gradual"}]
    rates = list(decisions[1:]) if len(decisions) > 1 else list(decisions)
    if decisions:
        cfgs.append({"name": "chi2-decision", "signal": "decision", "detector": "chi_square"})
    for key in schema.segments:
        for value in rates[:5]:
            cfgs.append({"name": f"rate-{ident(value)}-by-{ident(key)}",
                         "signal": f"decision={value}", "detector": "segment_rate",
                         "segment_by": key})
        cfgs.append({"name": f"volume-by-{ident(key)}", "signal": "volume",
                     "detector": "segment_volume", "segment_by": key})
    if schema.labels:
        cfgs += performance_preset(schema, task)
    return [MonitorConfig(**c) for c in cfgs]
