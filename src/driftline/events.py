"""Data contracts: the prediction event we read and the incident CloudEvent we write.

These pydantic models are the contract's single source: the JSON Schemas in
``docs/schemas/`` are generated from them (``driftline schemas``), and the hot
path decoder (``decode.py``) enforces the same rules column-wise — a test feeds
both the same corpus and checks they agree.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from driftline.timestamps import parse_timestamp  # one rule for every path

# Strict types: the decoder takes JSON as it is (no "0.5" → 0.5, no true → 1.0), and so
# does the contract. A JSON integer is a valid number.
Number = Annotated[float, Strict()]
Text = Annotated[str, Strict()]
Boolean = Annotated[bool, Strict()]
#: where a category goes (a categorical feature, a decision, a segment value, an id, a label):
#: any JSON scalar, read as its canonical text (docs/events.md)
Scalar = Text | Boolean | Number
FeatureValue = Scalar


class PredictionEvent(BaseModel):
    """One model prediction, as the serving layer emits it."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    event_id: Scalar | None = Field(
        None, description="Unique id of the prediction (optional; joins late labels).")
    model_id: Text = Field(description="Which model made the prediction.")
    model_version: Text | None = Field(None, description="Version of the model.")
    timestamp: Number | Text = Field(
        description="Event time: RFC 3339 with an offset, or an epoch number in s/ms/µs/ns by "
                    "magnitude (< 1e11 s, < 1e14 ms, < 1e17 µs, < 1e20 ns), at or after "
                    "2000-01-01 (input.timestamp_floor).")
    features: dict[str, FeatureValue | None] = Field(
        description="Model inputs: numbers (numeric), strings or booleans (categorical; "
                    "numbers too in a declared categorical feature); null = missing.")
    prediction: Number = Field(description="The model's score or predicted value.")
    decision: Scalar | None = Field(None, description="The action taken, e.g. 'prioritize'.")
    segments: dict[str, Scalar | None] | None = Field(
        None, description="Segment keys for per-segment monitoring; null = missing.")
    label: Scalar | None = Field(
        None, description="Ground truth, when known: a class (string, boolean, number) or a "
                          "value (number).")
    latency_ms: Number | None = Field(None, description="Serving latency in milliseconds.")

    @field_validator("timestamp")
    @classmethod
    def _timestamp(cls, v: float | str) -> float | str:
        if parse_timestamp(v) is None:
            raise ValueError("not RFC 3339 with an offset, nor an epoch s/ms/µs/ns, at or after "
                             "the floor")
        return v

    @field_validator("features")
    @classmethod
    def _finite_features(cls, v: dict[str, FeatureValue | None]) -> dict[str, FeatureValue | None]:
        for key, x in v.items():
            if isinstance(x, float) and not math.isfinite(x):
                raise ValueError(f"feature {key!r} is not finite")
        return v

    @field_validator("prediction", "latency_ms")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("value is not finite")
        return v


Severity = Literal["low", "medium", "high", "critical"]


class Triage(BaseModel):
    impact: str
    protected_attribute: bool
    score: float = Field(description="Triage score; the severity is read from it (docs/incidents.md).")
    reason: str


class Remediation(BaseModel):
    playbook: list[str] = Field(default_factory=list)
    runbook_url: str | None = None
    owner: str | None = None


class SourcePosition(BaseModel):
    """Where the window's events are, to replay exactly them."""

    source: str = Field(description="'file', 'kafka' or 'generator'.")
    topic: str | None = None
    partition: int | None = None
    path: str | None = None
    first_offset: int = Field(description="First offset (Kafka) or 1-based line (file).")
    last_offset: int


class Window(BaseModel):
    start: str
    end: str
    kind: Literal["time", "count"] = "time"


class Evidence(BaseModel):
    reference_id: str
    config_hash: str
    top_contributors: list[dict[str, Any]] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    breaching_windows: int = 1


class IncidentData(BaseModel):
    """The ``data`` of an incident CloudEvent."""

    model_config = ConfigDict(protected_namespaces=())

    incident_id: str
    status: Literal["open", "resolved"]
    severity: Severity
    triage: Triage
    monitor: str
    model_id: str
    model_versions: list[str] = Field(description="The versions of this model's events in the "
                                      "window (not those of other models beside it).")
    detector: str
    signal: str
    segment: dict[str, str]
    statistic: str
    value: float | None = Field(description="null when the statistic is not finite.")
    threshold: float
    direction: Literal["above", "below", "both"]
    p_value: float | None
    q_value: float | None
    window: Window
    opened_window: Window
    counts: dict[str, int]
    evidence: Evidence
    source_positions: list[SourcePosition] = Field(
        description="Where this model's events of the window were read: per partition (a "
        "file: its lines) the first and last.")
    label_positions: list[SourcePosition] = Field(
        default_factory=list, description="A performance monitor's: where the labels its "
        "window's predictions joined were read (a labels topic's offsets per partition, or "
        "a labels file's lines); empty for every other monitor.")
    remediation: Remediation


class IncidentEvent(BaseModel):
    """CloudEvents 1.0, structured JSON mode."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="Deterministic: hash(incident id, type, window).")
    source: str
    type: str = Field(pattern=r"^io\.driftline\.incident\.(opened|updated|escalated|resolved)$")
    subject: str
    time: str
    datacontenttype: Literal["application/json"] = "application/json"
    data: IncidentData


ActionKind = Literal["acknowledged", "annotated", "closed"]


class Principal(BaseModel):
    """Who recorded an action, as the system knows them (besides what ``by`` states)."""

    kind: Literal["os_user", "sasl"] = Field(
        description="'sasl': the Kafka SASL username the action was produced with; else the OS user.")
    name: str


class ActionData(BaseModel):
    """The ``data`` of an action on an incident: a person acknowledged, annotated or closed it."""

    incident_id: str
    action: ActionKind
    by: str = Field(description="Who acted, as stated on the command line (--by).")
    principal: Principal
    at: str = Field(description="The stated time of the action (RFC 3339, UTC).")
    note: str | None = None
    root_cause: str | None = None
    actions: list[str] = Field(default_factory=list, description="Actions taken (--actions).")
    false_alarm: bool = Field(False, description="A close that says the incident was no incident.")


class ActionEvent(BaseModel):
    """CloudEvents 1.0, structured JSON mode: a human action on an incident.

    Actions change an incident's status (acknowledged, closed), never detection's lifecycle.
    """

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="Deterministic: hash(incident id, action, actor, stated time).")
    source: str
    type: str = Field(pattern=r"^io\.driftline\.incident\.(acknowledged|annotated|closed)$")
    subject: str = Field(description="The incident id.")
    time: str
    datacontenttype: Literal["application/json"] = "application/json"
    data: ActionData
