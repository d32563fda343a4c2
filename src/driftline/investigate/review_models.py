"""The contracts of ``review.json`` (one incident) and ``period-review.json`` (a period).

Generated into ``docs/schemas/review.schema.json`` and ``period-review.schema.json`` by
``driftline schemas``. Durations are seconds between the times the events state: detection's
are event time (a window's end), actions' the time stated when they were recorded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(protected_namespaces=(), extra="forbid")


class Entry(_Model):
    """One line of the timeline."""

    time: str
    event: str = Field(description="first_breach, opened, escalated, updated, acknowledged, "
                                   "annotated, resolved, closed.")
    by: str | None = None
    detail: str | None = None


class Timeline(_Model):
    first_breaching_window: dict[str, Any]
    opened: str
    escalated: list[str] = Field(default_factory=list)
    acknowledged: str | None = None
    notes: list[Entry] = Field(default_factory=list)
    resolved: str | None = None
    closed: str | None = None
    entries: list[Entry]
    time_to_detect_seconds: float | None = Field(
        description="Opening − start of the first breaching window (event time).")
    time_to_acknowledge_seconds: float | None = None
    time_to_resolve_seconds: float | None = Field(
        None, description="Resolution by detection, or the closure if earlier, − opening.")
    clock: str = Field(description="Which clocks the durations compare.")


class SegmentImpact(_Model):
    segment: str
    traffic_share: float | None
    value: float | None = None
    incident: bool = False


class Impact(_Model):
    model_id: str
    model_versions: list[str]
    segment: dict[str, str]
    segments: list[SegmentImpact] = Field(default_factory=list)
    protected_attribute: bool
    impact_class: str
    severity: str = Field(description="The highest severity the incident reached.")


class EvidenceSummary(_Model):
    reference_id: str
    config_hash: str
    source_positions: list[dict[str, Any]]
    driftline_version: str
    explain_reproduced: bool | None = Field(
        None, description="From explain.json (--explain DIR); null when not explained.")
    explain_outcome: str | None = None


class Response(_Model):
    playbook: list[str] = Field(description="Decided in advance (the monitor's remediation).")
    runbook_url: str | None = None
    owner: str | None = None
    actions_recorded: list[str] = Field(description="Actions stated when the incident closed.")
    notes: list[str] = Field(default_factory=list)
    root_cause: str | None = None
    false_alarm: bool = False
    playbook_steps_not_mentioned: list[str] = Field(
        default_factory=list,
        description="Playbook steps no recorded action or note mentions (underscores as spaces).")


class Related(_Model):
    """Another incident of the same model while this one was open."""

    incident_id: str
    monitor: str
    segment: dict[str, str]
    opened: str
    incidents_of_its_key: int = Field(description="Incidents of its (monitor, segment) in the span.")
    flapped: bool = Field(description="Opened and resolved more than once in the span.")
    late_by_seconds: float | None = Field(description="After the first opening of the span.")


class Suggestion(_Model):
    kind: Literal["threshold", "window", "hysteresis"]
    monitor: str
    text: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class Deadline(_Model):
    days: float
    label: str
    due: str
    remaining_seconds: float


class ReportingClock(_Model):
    assumption: str
    starts: str
    deadlines: list[Deadline]
    empty_fields: list[str] = Field(description="Report fields nothing recorded yet fills.")


class Learning(_Model):
    related: list[Related] = Field(default_factory=list)
    this_incident_late_by_seconds: float | None = None
    this_incident_flapped: bool = False
    suggestions: list[Suggestion] = Field(default_factory=list)
    reporting: ReportingClock | None = Field(None, description="Impact class regulatory only.")


class Review(_Model):
    """``review.json``: the post-incident review of one incident."""

    format: Literal["driftline.review/1"] = "driftline.review/1"
    incident_id: str
    monitor: str
    status: str
    timeline: Timeline
    impact: Impact
    evidence: EvidenceSummary
    response: Response
    learning: Learning


class PeriodReview(_Model):
    """``period-review.json``: the incidents opened in a period."""

    format: Literal["driftline.period-review/1"] = "driftline.period-review/1"
    start: str
    end: str
    incidents: int
    by_severity: dict[str, int]
    by_monitor: dict[str, int]
    mttd_seconds: float | None = Field(description="Mean time to detect (event time).")
    mttr_seconds: float | None = Field(description="Mean time to resolve or close.")
    open_at_end: int
    acknowledged: int
    coverage_incidents: int
    coverage_note: str
    false_alarms: list[str] = Field(description="Incidents closed as false alarms.")
    false_alarm_rate: float | None
