"""Configuration: YAML validated by pydantic, with ``DRIFTLINE_`` environment overrides.

Precedence: defaults < YAML file < environment (``DRIFTLINE_WINDOW__SIZE=5m``,
nested keys joined by ``__``) < command-line flags (applied by the CLI).
Secrets (Kafka SASL/SSL passwords) are never written in the file: a value may be
``{env: NAME}`` or ``{file: /path}`` and is resolved when the client is built.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from driftline.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str | float | int) -> float:
    """'15m' → 900.0 seconds; plain numbers are seconds."""
    if isinstance(text, int | float):
        return float(text)
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 15m, 1h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def duration_text(seconds: float) -> str:
    """900.0 → '15m', 2419200.0 → '28d': the largest unit that divides it, else decimal
    seconds — spelled as ``parse_duration`` (and ``--window``) reads it, never ``2.592e+06s``.

    >>> [duration_text(s) for s in (2592000, 3600, 90, 0.5, 2592000.5, 0)]
    ['30d', '1h', '90s', '0.5s', '2592000.5s', '0s']
    """
    for unit in ("d", "h", "m", "s"):
        n = seconds / _UNITS[unit]
        if n >= 1 and n == int(n):
            return f"{int(n)}{unit}"
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return f"{text}s"


class WindowSpec(BaseModel):
    """A window size: a duration ('15m') for event-time windows, or an event count (5000)."""

    kind: Literal["time", "count"]
    size: float

    @classmethod
    def parse(cls, value: str | int | float | WindowSpec) -> WindowSpec:
        if isinstance(value, WindowSpec):
            return value
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            n = int(value)
            if n <= 0:
                raise ValueError("a count window needs a positive number of events")
            return cls(kind="count", size=float(n))
        return cls(kind="time", size=parse_duration(value))

    def __str__(self) -> str:
        return f"{int(self.size)} events" if self.kind == "count" else duration_text(self.size)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: a field's place in an event: "meta.model" (dots separate levels), or a list of literal keys
#: (["payload", "scores.fraud"]: a key that holds a dot)
FieldPath = str | list[str]


class _Paths(_Strict):
    """Field names as paths into a JSON object (dots separate levels, or a list of keys)."""

    @field_validator("*")
    @classmethod
    def _path(cls, v: FieldPath) -> FieldPath:
        parts = v.split(".") if isinstance(v, str) else v
        if not parts or any(p == "" for p in parts):
            raise ValueError(f"{v!r} is not a field path: use 'a.b' or a list of keys")
        return v

    def path(self, name: str) -> tuple[str, ...]:
        """The keys that lead to field ``name``."""
        v: FieldPath = getattr(self, name)
        return tuple(v.split(".")) if isinstance(v, str) else tuple(v)

    def label_of(self, name: str) -> str:
        """How messages name the field (its path, dotted)."""
        return ".".join(self.path(name))


class FieldNames(_Paths):
    """Where each contract field lives in the user's events (default: the top-level keys)."""

    event_id: FieldPath = "event_id"
    model_id: FieldPath = "model_id"
    model_version: FieldPath = "model_version"
    timestamp: FieldPath = "timestamp"
    features: FieldPath = "features"
    prediction: FieldPath = "prediction"
    decision: FieldPath = "decision"
    segments: FieldPath = "segments"
    latency_ms: FieldPath = "latency_ms"
    label: FieldPath = "label"


class InputConfig(_Strict):
    fields: FieldNames = FieldNames()
    model_id: str | None = Field(
        None, description="Every event is of this model (single-model streams): the model_id "
                          "field is not read.")
    timestamp_floor: str | float = Field(
        "2000-01-01T00:00:00Z", description="Event times before this are bad timestamps (a "
                                            "1970 default is a bug upstream, not an event).")
    models: list[str] = Field(default_factory=list, description="Known models; empty = any.")
    max_message_bytes: int = Field(65536, gt=0)
    numeric_features: list[str] | None = Field(None, description="None: inferred from the stream.")
    categorical_features: list[str] | None = Field(
        None, description="None: inferred. Numbers and booleans in a categorical feature are "
                          "categories by their canonical text (integer-coded categoricals).")
    segment_keys: list[str] | None = None

    @field_validator("timestamp_floor")
    @classmethod
    def _floor(cls, v: str | float) -> str | float:
        from driftline.timestamps import parse_epoch, parse_rfc3339

        t = parse_rfc3339(v) if isinstance(v, str) else parse_epoch(float(v))
        if t is None:
            raise ValueError(f"{v!r} is neither RFC 3339 with an offset nor an epoch number")
        return v

    @property
    def floor(self) -> float:
        """``timestamp_floor`` in epoch seconds."""
        from driftline.timestamps import parse_epoch, parse_rfc3339

        v = self.timestamp_floor
        t = parse_rfc3339(v) if isinstance(v, str) else parse_epoch(float(v))
        assert t is not None  # validated
        return t


class WindowConfig(_Strict):
    size: str | int = Field("auto", description="'15m', '1h', an event count, or 'auto'.")
    hop: str | int | None = Field(None, description="Hopping windows: the slide; None = tumbling.")
    lateness: str = Field("30s", description="Allowed lateness behind the stream's frontier "
                                             "(the median of its recent event times).")
    max_ahead: str = Field("24h", description="Events further ahead of the frontier are bad "
                                              "timestamps.")
    target_events: int = Field(5000, gt=0, description="'auto' sizes windows to hold this many.")

    @field_validator("size", "hop")
    @classmethod
    def _valid(cls, v: str | int | None) -> str | int | None:
        if v is not None and v != "auto":
            WindowSpec.parse(v)
        return v

    @field_validator("lateness", "max_ahead")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v


class LabelFieldNames(_Paths):
    """Where the join's fields live in a label line (like ``input.fields``)."""

    event_id: FieldPath = "event_id"
    label: FieldPath = "label"
    timestamp: FieldPath = "timestamp"


class LabelsConfig(_Strict):
    """Ground truth (docs/labels.md): inline ``label`` fields and ``--labels`` files."""

    enabled: bool = Field(False, description="Read labels (inline ones too); --labels turns it on.")
    fields: LabelFieldNames = LabelFieldNames()
    ttl: str = Field("7d", description="A label counts if its timestamp is at most this long "
                                       "after its prediction's (event time).")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: numbers are regression, strings and booleans classification.")
    positive: str | None = Field(
        None, description="Positive class of precision/recall (canonical text); default: true, "
                          "else 1, else the reference's least frequent label.")
    lateness: str | None = Field(
        None, description="run --labels-topic: a label is late (late_arrival: counted, not "
                          "stored) when it is stamped this much before its partition's frontier "
                          "(the median of its recent label times) as it comes. Default: the "
                          "ttl, at most 1h.")

    @field_validator("ttl", "lateness")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    @property
    def ttl_seconds(self) -> float:
        return parse_duration(self.ttl)

    @property
    def lateness_seconds(self) -> float:
        if self.lateness is not None:
            return parse_duration(self.lateness)
        return min(parse_duration(self.ttl), 3600.0)


class ReferenceConfig(_Strict):
    path: str | None = Field(None, description="Profile JSON or JSON-lines events; None = warm-up.")
    warmup_windows: int = Field(1, ge=1, description="Windows used as reference when no path.")


class Limits(_Strict):
    segment_cardinality: int = Field(200, gt=0, description="Distinct values per segment key.")
    category_cardinality: int = Field(500, gt=0, description="Distinct values per categorical.")
    metric_segment_cardinality: int = Field(
        100, gt=0, description="Segment label values exported per segment key.")
    models: int = Field(100, gt=0, description="Distinct models; events of more are dead letters.")
    features: int = Field(200, gt=0, description="Features the zero-config preset monitors.")
    segment_keys: int = Field(20, gt=0, description="Segment keys the zero-config preset reads.")
    monitors: int = Field(2000, gt=0, description="Monitors the zero-config preset creates.")


class DetectionConfig(_Strict):
    fdr_alpha: float = Field(0.01, gt=0, lt=1, description="Benjamini–Hochberg level per window.")
    min_samples: int = Field(200, ge=1, description="Fewer current events: no judgement.")
    min_reference: int = Field(200, ge=1, description="A segment's own reference needs this many.")
    open_after: int = Field(1, ge=1, description="Consecutive breaching windows to open.")
    resolve_after: int = Field(3, ge=1, description="Consecutive clean windows to resolve.")
    update_every: int = Field(4, ge=1, description="At most one 'updated' per this many windows.")
    coverage_after: int = Field(
        3, ge=1, description="Consecutive windows a monitor may go without evaluation (too few "
        "events, signal or reference missing) before a coverage incident opens.")


class Remediation(_Strict):
    playbook: list[
        Literal["rollback_model", "raise_threshold", "human_review_gate",
                "disable_automation_for_segment", "retrain", "page_oncall", "investigate"]
    ] = Field(default_factory=list)
    runbook_url: str | None = None
    owner: str | None = None


class Thresholds(_Strict):
    warning: float
    critical: float


class MonitorWindow(_Strict):
    """A monitor's own window, when it should not use the global one (e.g. a day for fairness)."""

    size: str | int
    hop: str | int | None = None

    @field_validator("size", "hop")
    @classmethod
    def _valid(cls, v: str | int | None) -> str | int | None:
        if v is not None:
            WindowSpec.parse(v)
        return v

    @property
    def key(self) -> str:
        return f"{self.size}/{self.hop or self.size}"


#: feature and decision names are whatever the events carry (any Unicode, even empty values)
#: signals of the performance layer (labels joined to predictions, ``performance.py``)
PERFORMANCE_SIGNALS = ("error", "precision", "recall", "abs_error", "squared_error",
                       "score_label", "estimated_error")
SIGNAL = re.compile(r"^(feature:[\s\S]*|prediction|decision|decision=[\s\S]*|latency_ms|volume"
                    r"|error|precision|recall|abs_error|squared_error|score_label"
                    r"|estimated_error)\Z")


class MonitorConfig(_Strict):
    """A monitor binds a signal of some models to a detector, a window and triage facts."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    models: list[str] = Field(default_factory=list, description="Empty = every model.")
    signal: str = Field(
        description="feature:NAME | prediction | decision | decision=VALUE | latency_ms | volume"
                    " | error | precision | recall | abs_error | squared_error | score_label"
                    " | estimated_error")
    detector: Literal["psi", "ks", "chi_square", "jensen_shannon", "segment_rate",
                      "disparate_impact", "segment_volume", "gradual", "mean_shift", "auc",
                      "calibration", "cbpe"]
    params: dict[str, Any] = Field(default_factory=dict)
    segment_by: str | None = None
    window: MonitorWindow | None = Field(
        None, description="This monitor's own window (same kind, time or count, as the global one).")
    thresholds: Thresholds | None = None
    direction: Literal["above", "below"] | None = Field(
        None, description="Only one side of a two-sided detector (segment_rate, gradual) is a "
        "breach: above (an increase: an error rate) or below (a drop: recall, precision). "
        "Thresholds stay magnitudes.")
    min_samples: int | None = None
    impact: Literal["regulatory", "customer", "business", "internal"] = "internal"
    protected_attribute: bool = False
    remediation: Remediation = Remediation()

    @field_validator("signal")
    @classmethod
    def _signal(cls, v: str) -> str:
        if not SIGNAL.match(v):
            raise ValueError(f"unknown signal {v!r}: use feature:NAME, prediction, decision, "
                             "decision=VALUE, latency_ms, volume, or (labels) error, precision, "
                             "recall, abs_error, squared_error, score_label, estimated_error")
        return v

    @model_validator(mode="after")
    def _detector_fits_signal(self) -> MonitorConfig:
        performance = self.signal in ("error", "precision", "recall")
        binary = self.signal.startswith("decision=") or performance
        if self.detector in ("segment_rate", "disparate_impact") and not binary:
            raise ValueError(f"{self.detector} needs a decision=VALUE (or error, precision, "
                             "recall) signal")
        # an overall error rate is a question of its own; an overall decision rate is chi2's
        needs_segments = ("disparate_impact", "segment_volume") if performance \
            else ("segment_rate", "disparate_impact", "segment_volume")
        if self.detector in needs_segments and self.segment_by is None:
            raise ValueError(f"{self.detector} needs segment_by")
        if self.detector == "segment_volume" and self.signal != "volume":
            raise ValueError("segment_volume needs signal: volume")
        if (self.detector in ("auc", "calibration")) != (self.signal == "score_label"):
            raise ValueError("auc and calibration read signal: score_label (the score with its "
                             "label), and score_label is read by them only")
        if (self.detector == "cbpe") != (self.signal == "estimated_error"):
            raise ValueError("cbpe reads signal: estimated_error (the score, the decision and "
                             "whether a label says it was wrong), and only cbpe reads it")
        if self.thresholds and self.thresholds.warning == self.thresholds.critical:
            raise ValueError("warning and critical thresholds must differ")
        if self.detector == "auc" and self.thresholds and not (
                self.thresholds.critical < self.thresholds.warning < 0):
            # a positive threshold would make every window, an unchanged one too, a breach
            raise ValueError("auc thresholds are AUC changes, a drop is negative: "
                             "critical < warning < 0 (default -0.05, -0.02)")
        return self


class MetricsConfig(_Strict):
    addr: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)


class KafkaConfig(_Strict):
    bootstrap: str = "127.0.0.1:9092"
    input_topic: str = "predictions"
    incident_topic: str = "driftline.incidents"
    dead_letter_topic: str = "driftline.dead-letters"
    changelog_topic: str | None = Field(
        None, description="State checkpoints (compacted). Default: <group_id>.changelog, one "
                          "per group, so groups do not share changelog partitions.")
    group_id: str = "driftline"
    transactional_id: str | None = None
    commit_interval: str = "5s"
    batch_size: int = Field(5000, gt=0)
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="librdkafka settings passed through (security.protocol, sasl.*, ssl.*); "
                    "secret values as {env: NAME} or {file: PATH}.",
    )


class Config(BaseSettings):
    """The whole driftline configuration."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", env_nested_delimiter="__",
                                      extra="forbid")

    instance: str = Field("driftline", description="CloudEvents source is driftline/<instance>.")
    input: InputConfig = InputConfig()
    window: WindowConfig = WindowConfig()
    reference: ReferenceConfig = ReferenceConfig()
    labels: LabelsConfig = LabelsConfig()
    limits: Limits = Limits()
    detection: DetectionConfig = DetectionConfig()
    monitors: list[MonitorConfig] = Field(
        default_factory=list, description="Empty: the zero-config preset monitors everything.")
    metrics: MetricsConfig = MetricsConfig()
    kafka: KafkaConfig = KafkaConfig()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment beats the file (init kwargs come from the YAML)
        return env_settings, init_settings

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [m.name for m in self.monitors]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"monitor names must be unique: {dup}")
        return self

    def digest(self) -> str:
        """Content hash that every incident cites (what config produced it).

        ``instance`` names the replica, not the detection: replicas of one consumer group
        differ only in it and must be able to restore each other's checkpoints.
        """
        # labels at their defaults leave the hash of every config written before them alone
        skip = {"kafka", "metrics", "instance"} | ({"labels"} if self.labels == LabelsConfig()
                                                   else set())
        blob = orjson.dumps(self.model_dump(mode="json", exclude=skip),
                            option=orjson.OPT_SORT_KEYS)
        return "sha256:" + hashlib.sha256(blob).hexdigest()[:16]


#: how a problem whose value came from the environment starts (it is not the file's)
FROM_ENV = "environment variable "


def env_source(loc: Sequence[int | str], environ: Mapping[str, str]) -> str | None:
    """The ``DRIFTLINE_`` variable that set the value at ``loc``, if one did.

    ``('window', 'size')`` is ``DRIFTLINE_WINDOW__SIZE``, or ``DRIFTLINE_WINDOW`` holding JSON;
    names are matched case-insensitively, as pydantic-settings reads them.
    """
    names = {k.upper(): k for k in environ}
    keys = [str(p) for p in loc]
    for i in range(len(keys), 0, -1):
        name = "DRIFTLINE_" + "__".join(keys[:i]).upper()
        if name in names:
            return names[name]
    return None


def format_errors(err: ValidationError, environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per problem: 'monitors.2.thresholds.critical: Field required'.

    A problem with a value set by an environment variable names the variable
    ('environment variable DRIFTLINE_WINDOW__SIZE: window.size: …').
    """
    out = []
    for e in err.errors():
        line = f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
        var = env_source(e["loc"], environ) if environ is not None else None
        out.append(f"{FROM_ENV}{var}: {line}" if var else line)
    return out


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Read YAML (if any), apply env and explicit overrides, validate; ConfigError lists all problems."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        data = loaded or {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    try:
        return Config(**data)
    except ValidationError as exc:
        raise ConfigError("\n".join(format_errors(exc, os.environ))) from exc
