"""The schemas of every piece of state driftline writes and reads back.

A checkpoint (``Engine.snapshot()`` in the changelog), a reference profile and
the sketches inside them leave the process as plain JSON; what comes back is
validated against these models before a single value is used — so a record
anyone could write to a state topic is data, never code (no pickle, marshal or
eval anywhere on a restore path), and a malformed one is a ``StateError`` that
names what is wrong, not a crash. Each model forbids unknown keys and takes
JSON types strictly; the validators check what types cannot (shapes that
agree, sorted edges, counts that are not negative, names that are unique).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)

from driftline.errors import StateError

#: a number of events, offsets, windows: what an int64 column holds
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
#: a count kept in a float64 column (moments): whole and exact, so at most 2**53
FLOAT_COUNT_MAX = 2.0**53
EXAMPLE_CHARS = 300  # an example dead letter kept in the totals: reason detail and line head
Finite = Annotated[float, Field(allow_inf_nan=False)]
#: JSON has no tuples: pairs and triples are lists of a fixed length
Range = Annotated[list[int], Field(min_length=2, max_length=2)]
FinitePair = Annotated[list[Finite], Field(min_length=2, max_length=2)]
FiniteTriple = Annotated[list[Finite], Field(min_length=3, max_length=3)]
M = TypeVar("M", bound=BaseModel)


class State(BaseModel):
    """Strict, closed: unknown keys and coerced types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def validated(model: type[M], data: Any, what: str) -> M:
    """``data`` as ``model``, or one ``StateError`` naming the first fault and where it is."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise StateError(f"{what}: {where}: {err['msg']}{more}") from exc


# -- sketches -------------------------------------------------------------------------------
class QuantileHistogramState(State):
    kind: Literal["quantile_histogram"]
    edges: list[Finite]
    counts: list[list[Count]] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> QuantileHistogramState:
        if any(b < a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be sorted")
        bins = len(self.edges) + 1
        if any(len(row) != bins for row in self.counts):
            raise ValueError(f"every row of counts must have {bins} bins (edges + 1)")
        return self


class CountTableState(State):
    kind: Literal["count_table"]
    counts: list[list[Count]]


class MomentsState(State):
    kind: Literal["moments"]
    data: list[FiniteTriple] = Field(min_length=1)
    shift: Finite = 0.0

    @field_validator("data")
    @classmethod
    def _counts(cls, v: list[list[float]]) -> list[list[float]]:
        if any(n < 0 or ss < 0 for n, _, ss in v):
            raise ValueError("counts and sums of squares cannot be negative")
        if any(n != int(n) or n > FLOAT_COUNT_MAX for n, _, _ in v):
            raise ValueError("counts are whole numbers of events, at most 2**53")
        return v


class ScoreHistogramState(State):
    """Per segment row: labelled negatives, positives and score sums per bin."""

    kind: Literal["score_histogram"]
    edges: list[Finite]
    negatives: list[list[Count]] = Field(min_length=1)
    positives: list[list[Count]] = Field(min_length=1)
    sums: list[list[Finite]] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> ScoreHistogramState:
        if any(b < a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be sorted")
        bins = len(self.edges) + 1
        if any(len(row) != bins for rows in (self.negatives, self.positives, self.sums)
               for row in rows):
            raise ValueError(f"every row of negatives, positives and sums must have {bins} bins")
        if not len(self.negatives) == len(self.positives) == len(self.sums):
            raise ValueError("negatives, positives and sums must have one row per segment")
        return self


class DecisionHistogramState(State):
    """Per segment row: (events, labelled, wrong) per (decision, score bin) cell."""

    kind: Literal["decision_histogram"]
    edges: list[Finite]
    counts: list[list[Count]] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> DecisionHistogramState:
        if any(b < a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be sorted")
        cell = 3 * (len(self.edges) + 2)
        width = len(self.counts[0])
        if width % cell or any(len(row) != width for row in self.counts):
            raise ValueError(f"every row of counts must have one width, a multiple of {cell} "
                             "(3 counts per score bin: edges + 2)")
        for row in self.counts:
            if any(not (e >= n >= w) for e, n, w in zip(row[0::3], row[1::3], row[2::3],
                                                        strict=True)):
                raise ValueError("a cell's wrong decisions exceed its labelled events, or "
                                 "its labelled events its events")
        return self


SketchState = Annotated[QuantileHistogramState | CountTableState | MomentsState
                        | ScoreHistogramState | DecisionHistogramState,
                        Field(discriminator="kind")]


# -- decoder --------------------------------------------------------------------------------
class VocabularyState(State):
    cap: Annotated[int, Field(gt=0)]
    names: list[str]
    other: Count | None = None
    overflowed: list[str] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> VocabularyState:
        if len(set(self.names)) != len(self.names):
            raise ValueError("names must be unique")
        if len(self.names) > self.cap + 1:
            raise ValueError(f"{len(self.names)} names exceed the cap {self.cap}")
        if self.other is not None and (self.other >= len(self.names)
                                       or self.names[self.other] != "__other__"):
            raise ValueError("other must be the code of '__other__'")
        return self


class SchemaState(State):
    numeric: list[str]
    categorical: list[str]
    segments: list[str]


class DecoderState(State):
    schema_: SchemaState = Field(alias="schema")
    models: VocabularyState
    versions: VocabularyState
    decisions: VocabularyState
    categories: dict[str, VocabularyState]
    segments: dict[str, VocabularyState]
    #: the labels layer's: the label vocabulary and what was decided from the reference
    labels: VocabularyState | None = None
    task: Literal["classification", "regression"] | None = None
    positive: str | None = None

    @model_validator(mode="after")
    def _match_schema(self) -> DecoderState:
        if sorted(self.categories) != sorted(self.schema_.categorical):
            raise ValueError("categories must be the schema's categorical features")
        if sorted(self.segments) != sorted(self.schema_.segments):
            raise ValueError("segments must be the schema's segment keys")
        return self


# -- windows --------------------------------------------------------------------------------
class FactsState(State):
    count: Count
    versions: list[Count]
    positions: dict[str, Range]
    #: the same for the labels the pane's predictions joined (a labels topic's partitions)
    label_positions: dict[str, Range] = Field(default_factory=dict)
    last: FinitePair | None = None

    @field_validator("positions", "label_positions")
    @classmethod
    def _partitions(cls, v: dict[str, list[int]]) -> dict[str, list[int]]:
        for p, (lo, hi) in v.items():
            if not p.lstrip("-").isdigit() or lo > hi:
                raise ValueError(f"positions[{p!r}]: a partition number and first <= last")
        return v


class PaneState(FactsState):
    """A pane: its sketches, and the facts of each model's events in ``models``. A pane
    written before facts were kept per model has the whole pane's facts in the fields of
    ``FactsState`` instead (read as the facts every model of the pane cites)."""

    count: Count = 0
    versions: list[Count] = Field(default_factory=list)
    positions: dict[str, Range] = Field(default_factory=dict)
    models: dict[str, FactsState] | None = None
    sketches: dict[str, SketchState]


class WindowsState(State):
    hop: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    k: Annotated[int, Field(ge=1)]
    mark: Finite | None
    last_closed: int | None
    first_pane: int | None
    panes: dict[str, PaneState]

    @field_validator("panes")
    @classmethod
    def _pane_ids(cls, v: dict[str, PaneState]) -> dict[str, PaneState]:
        if not all(p.lstrip("-").isdigit() for p in v):
            raise ValueError("pane ids must be integers")
        return v


class WindowSpecState(State):
    kind: Literal["time", "count"]
    size: Annotated[float, Field(gt=0, allow_inf_nan=False)]


class GroupState(State):
    spec: WindowSpecState
    windows: WindowsState


class WindowGroupsState(State):
    cut: Finite | None
    groups: dict[str, GroupState]


# -- incidents, totals, warm-up -----------------------------------------------------------------
class WindowRefState(State):
    start: str
    end: str
    kind: Literal["time", "count"]


class TrackState(State):
    breach_streak: Count
    clean_streak: Count
    incident_id: str | None
    severity: Literal["low", "medium", "high", "critical"] | None
    opened: WindowRefState | None
    breaching_windows: Count
    windows_since_update: Count

    @model_validator(mode="after")
    def _open_has_its_facts(self) -> TrackState:
        if (self.incident_id is None) != (self.opened is None) or (
                self.incident_id is not None and self.severity is None):
            raise ValueError("an open incident has an id, an opening window and a severity")
        return self


class TracksState(RootModel[dict[str, TrackState]]):
    """The incident manager's tracks, by finding key."""

    model_config = ConfigDict(strict=True, frozen=True)


class TotalsState(State):
    read: Count
    valid: Count
    late: Count
    ahead: Count = 0
    invalid: dict[str, Count]
    windows: Count
    incidents: dict[str, Count]
    overflow: dict[str, Count] = Field(default_factory=dict)
    #: one example per dead-letter reason (what the replay's error shows)
    examples: dict[str, Annotated[str, Field(max_length=EXAMPLE_CHARS)]] = Field(
        default_factory=dict, max_length=64)

    @field_validator("incidents")
    @classmethod
    def _keys(cls, v: dict[str, int]) -> dict[str, int]:
        if any(k.count(":") != 2 for k in v):
            raise ValueError("incident keys are 'type:detector:severity'")
        return v


DTYPES = ("<f8", "<i8")


class ArrayState(State):
    """A numpy array as its raw bytes: exact and compact (warm-up columns)."""

    dtype: Literal["<f8", "<i8"]
    b64: str

    @field_validator("b64")
    @classmethod
    def _base64(cls, v: str) -> str:
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("not base64") from exc
        if len(raw) % 8:
            raise ValueError("not a whole number of 8-byte values")
        return v

    @property
    def length(self) -> int:
        return len(base64.b64decode(self.b64)) // 8


class BatchState(State):
    rows: ArrayState
    positions: ArrayState
    partitions: ArrayState
    timestamp: ArrayState
    model: ArrayState
    version: ArrayState
    prediction: ArrayState
    decision: ArrayState
    latency: ArrayState
    numeric: dict[str, ArrayState]
    categorical: dict[str, ArrayState]
    segments: dict[str, ArrayState]
    # the labels layer's columns: all three or none
    event_key: ArrayState | None = None
    label: ArrayState | None = None
    label_value: ArrayState | None = None
    # where the joined labels were read: both or none
    label_partition: ArrayState | None = None
    label_position: ArrayState | None = None

    @model_validator(mode="after")
    def _same_length(self) -> BatchState:
        labels = [self.event_key, self.label, self.label_value]
        present = [a for a in labels if a is not None]
        if len(present) not in (0, 3):
            raise ValueError("the label columns come together: event_key, label, label_value")
        joined = [a for a in (self.label_partition, self.label_position) if a is not None]
        if len(joined) == 1 or (joined and not present):
            raise ValueError("label_partition and label_position come together, with labels")
        present += joined
        arrays = [self.rows, self.positions, self.partitions, self.timestamp, self.model,
                  self.version, self.prediction, self.decision, self.latency,
                  *self.numeric.values(), *self.categorical.values(), *self.segments.values(),
                  *present]
        if len({a.length for a in arrays}) > 1:
            raise ValueError("columns of one batch must have one length")
        return self


class WarmUpState(State):
    batches: list[BatchState]
    keys: list[list[Finite]]
    end: Finite | None

    @model_validator(mode="after")
    def _keys_match(self) -> WarmUpState:
        if len(self.keys) != len(self.batches) or any(
                len(k) != b.rows.length for k, b in zip(self.keys, self.batches, strict=True)):
            raise ValueError("one key per buffered event")
        return self


# -- the reference profile and the engine ------------------------------------------------------
REFERENCE_FORMAT = "driftline.reference/2"
ENGINE_FORMAT = "driftline.state/2"


class ReferenceState(State):
    format: Literal["driftline.reference/2"]
    id: str | None = None
    source: str = "file"
    models: dict[str, dict[str, SketchState]]
    n_events: Count
    decoder: DecoderState


class EngineStateIdle(State):
    """An engine still in its prelude: the messages it holds, and what it counted."""

    format: Literal["driftline.state/2"]
    started: Literal[False]
    prelude: dict[str, Any]  # PreludeState
    totals: dict[str, Any]  # TotalsState


class EngineState(State):
    """The engine's frame; each part is validated by the component that reads it back."""

    format: Literal["driftline.state/2"]
    started: Literal[True]
    config_hash: str
    decoder: dict[str, Any]  # DecoderState
    reference: dict[str, Any] | None  # ReferenceState
    windows: dict[str, Any]  # WindowGroupsState
    incidents: dict[str, Any]  # TrackState per key
    memory: dict[str, dict[str, Any]]  # each validated by its detector's restore_memory
    coverage: dict[str, Any] | None = None  # CoverageState
    time: dict[str, Any] | None  # EventTimeState
    warmup: dict[str, Any]  # WarmUpState
    totals: dict[str, Any]  # TotalsState
