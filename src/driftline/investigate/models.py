"""The contracts of what investigation writes: ``explain.json`` and ``review.json``.

Pydantic models, as the event contracts are (``events.py``): the JSON Schemas in
``docs/schemas/`` (``explain.schema.json``, ``review.schema.json``, ``period-review.schema.json``)
are generated from them with ``driftline schemas``, and a test checks they are current.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["reproduced", "differs", "events_gone"]


class _Model(BaseModel):
    model_config = ConfigDict(protected_namespaces=(), extra="forbid")


class Check(_Model):
    """One quantity of one cited window: what the incident says, what the recomputation gives."""

    event_id: str
    event_type: str
    quantity: str = Field(description="value, p_value, q_value, n_current, n_reference, judged.")
    cited: Any
    recomputed: Any
    ok: bool


class SeriesPoint(_Model):
    """The statistic of one window: recomputed (exact for cited windows) or as cited."""

    index: int
    start: str
    end: str
    value: float | None
    p_value: float | None = None
    q_value: float | None = None
    level: int | None = Field(None, description="None: too few events; 0 ok; 1 warning; 2 critical.")
    n_current: int | None = None
    exact: bool = Field(description="True: a window an incident event cites, its events exactly.")
    cited: list[str] = Field(default_factory=list, description="Lifecycle events of this window.")


class SegmentRow(_Model):
    """One value of a segmented monitor's key in the opening window."""

    segment: str
    value: float | None
    rate: float | None = Field(None, description="The segment's current rate (rate monitors).")
    rate_low: float | None = Field(None, description="Wilson 95% interval of the rate.")
    rate_high: float | None = None
    reference_rate: float | None = None
    n_current: int
    traffic_share: float = Field(description="The segment's share of the window's events.")
    reference_share: float | None = None
    level: int | None = None
    q_value: float | None = None
    incident: bool = Field(description="The incident's own segment.")


class Bar(_Model):
    """One bin or category of the signal's distribution, reference vs current."""

    label: str
    reference_share: float
    current_share: float
    contributing: bool


class ScoreBin(_Model):
    """One coarse score bin of an ``auc`` or ``calibration`` monitor's score histograms: the
    labelled events of the opening window and of the reference, in the detector's orientation
    (``ScoreView.score_of``)."""

    label: str = Field(description="The bin's score range [low, high), of the raw score.")
    low: float | None = Field(description="None: −∞.")
    high: float | None = Field(description="None: ∞.")
    positives: int = Field(description="Current window: labelled events of the class the score "
                                       "ranks high (ScoreView.high_class).")
    negatives: int
    reference_positives: int
    reference_negatives: int
    positive_share: float = Field(description="This bin's share of the window's positives.")
    negative_share: float
    reference_positive_share: float
    reference_negative_share: float
    mean_score: float | None = Field(description="Mean score of the window's labelled events "
                                                 "(when score_of is 'other', read as the "
                                                 "other class's probability).")
    positive_rate: float | None
    reference_mean_score: float | None
    reference_positive_rate: float | None
    ece_contribution: float = Field(description="events/N × |mean score − positive rate|: "
                                                "the bin's part of the window's ECE.")
    contributing: bool = Field(description="auc: one of the three bins whose class shares moved "
                                           "most; calibration: a bin the detector names.")


class ScoreView(_Model):
    """The score histograms of an ``auc`` or ``calibration`` incident's opening window."""

    detector: Literal["auc", "calibration"]
    score_of: Literal["positive", "other"] = Field(
        description="other: the reference ranks the other class higher, the classes swap.")
    high_class: str = Field(description="The class counted as positive here.")
    auc: float | None
    reference_auc: float | None
    ece: float | None
    reference_ece: float | None
    bins: list[ScoreBin]


class Inputs(_Model):
    """What the recomputation read, so anyone can run it again."""

    incidents: str
    events: dict[str, Any] = Field(description="source, path or topic/partition, positions read.")
    reference_cited: str
    reference_used: str | None
    reference_how: str | None
    config: str | None
    config_hash_cited: str
    config_hash_used: str | None
    driftline_version: str


class Explanation(_Model):
    """``explain.json``: is the incident's statistic what the engine computes again?"""

    format: Literal["driftline.explain/1"] = "driftline.explain/1"
    incident_id: str
    monitor: str
    model_id: str
    segment: dict[str, str]
    detector: str
    signal: str
    statistic: str
    value_cited: float | None = Field(description="The opening event's value.")
    value_recomputed: float | None
    reproduced: bool
    outcome: Outcome
    reason: str | None = Field(None, description="Why not reproduced, or why the events are gone.")
    checks: list[Check] = Field(default_factory=list)
    thresholds: dict[str, Any]
    series: list[SeriesPoint] = Field(default_factory=list)
    segments: list[SegmentRow] = Field(default_factory=list)
    distribution: list[Bar] = Field(default_factory=list)
    scores: ScoreView | None = Field(None, description="auc and calibration: the score "
                                                       "histograms, per coarse score bin.")
    versions: dict[str, list[str]] = Field(default_factory=dict,
                                           description="window: in the opening window; "
                                                       "reference: in the reference's vocabulary.")
    notes: list[str] = Field(default_factory=list, description="What was not recomputed, and why.")
    inputs: Inputs
    summary: str
