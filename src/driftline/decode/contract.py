"""The event contract, one event at a time: the reference every decoder path is held to.

``Contract.read`` takes a parsed JSON object and returns the event's canonical values or the
reason and detail of its first fault. The Arrow fast path, the per-line path and the native
decoder must give, for every byte string, the same verdict, the same reason and the same
values (a differential property test feeds them all the same lines). The rules, in the order
they are checked (docs/events.md, "The decoder contract"):

1. ``model_id`` (unless ``input.model_id`` names the one model), ``timestamp``, ``features``,
   ``prediction``: present and not null, else ``missing_field``;
2. ``model_id`` a string, else ``wrong_type``; the timestamp by ``timestamps.py``, else
   ``bad_timestamp``; ``prediction`` a number (not a boolean), else ``wrong_type``;
   ``features`` an object, else ``wrong_type``;
3. optional, null = absent: ``model_version`` a string; ``decision`` any scalar (its
   canonical text, ``canonical.py``); ``latency_ms`` a number; ``segments`` an object whose
   values for the schema's keys are scalars; ``event_id`` and ``label`` scalars — read (and
   checked) only when the labels layer is on (``Schema.labels``), as fields nobody reads are
   not checked;
4. the schema's features: numeric ones numbers, categorical ones scalars (canonical text);
   features and segment keys the schema does not name are not read at all;
5. any number that is read must be finite, else ``non_finite``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from driftline.config import FieldNames
from driftline.decode.canonical import canonical
from driftline.decode.schema import Schema
from driftline.timestamps import DEFAULT_FLOOR, parse_timestamp

#: Dead-letter reasons, also the ``reason`` label of driftline_events_invalid_total.
REASONS = ("malformed_json", "not_an_object", "missing_field", "wrong_type", "non_finite",
           "bad_timestamp", "unknown_model", "model_overflow", "oversize", "late",
           "cardinality_overflow", "feature_overflow", "segment_key_overflow")
#: dead letters that report something about an event that was processed all the same (a
#: value counted as __other__, a name beyond a cap): the event is valid, not invalid
REPORTS = ("cardinality_overflow", "feature_overflow", "segment_key_overflow")

MISSING: Any = object()
Fault = tuple[str, str]


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool)


def lookup(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path``, or MISSING when a key is absent or a level is not an object."""
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return MISSING
        node = node.get(key, MISSING)
        if node is MISSING:
            return MISSING
    return node


@dataclass(frozen=True, slots=True)
class Event:
    """The canonical values of one valid event (NaN / None: absent)."""

    model: str
    version: str | None
    timestamp: float
    prediction: float
    decision: str | None
    latency: float
    numeric: tuple[float, ...]
    categorical: tuple[str | None, ...]
    segments: tuple[str | None, ...]
    event_id: str | None
    label: str | None
    label_value: float


class Reject(Exception):
    """An event's first fault (internal to ``Contract.read``)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.fault: Fault = (reason, detail)


class Contract:
    """The rules for one schema and field layout."""

    def __init__(self, schema: Schema | None, fields: FieldNames = FieldNames(),  # noqa: B008
                 model_id: str | None = None, floor: float = DEFAULT_FLOOR) -> None:
        self.schema, self.fields, self.model_id, self.floor = schema, fields, model_id, floor
        self.paths = {name: fields.path(name) for name in FieldNames.model_fields}
        self.names = {name: fields.label_of(name) for name in FieldNames.model_fields}

    def read(self, obj: dict[str, Any]) -> Event | Fault:
        """The event's canonical values, or (reason, detail) of its first fault."""
        try:
            return self._read({k: lookup(obj, path) for k, path in self.paths.items()})
        except Reject as exc:
            return exc.fault

    def _read(self, get: dict[str, Any]) -> Event:
        n = self.names
        required = ("timestamp", "features", "prediction") if self.model_id is not None \
            else ("model_id", "timestamp", "features", "prediction")
        for name in required:
            if get[name] is MISSING or get[name] is None:
                raise Reject("missing_field", f"{n[name]} is required")
        model = self.model_id if self.model_id is not None else get["model_id"]
        if not isinstance(model, str):
            raise Reject("wrong_type", f"{n['model_id']} must be a string")
        ts = parse_timestamp(get["timestamp"], self.floor)
        if ts is None:
            raise Reject("bad_timestamp", f"{n['timestamp']} must be RFC 3339 with an offset, "
                                          "or epoch s/ms/µs/ns, at or after the floor")
        if not is_number(get["prediction"]):
            raise Reject("wrong_type", f"{n['prediction']} must be a number")
        if not isinstance(get["features"], dict):
            raise Reject("wrong_type", f"{n['features']} must be an object")
        opt = {k: (None if get[k] is MISSING else get[k])
               for k in ("model_version", "decision", "latency_ms", "segments", "event_id",
                         "label")}
        if opt["model_version"] is not None and not isinstance(opt["model_version"], str):
            raise Reject("wrong_type", f"{n['model_version']} must be a string")
        decision = self._scalar(opt["decision"], n["decision"])
        latency = self._number(opt["latency_ms"], n["latency_ms"])
        segments = self._segments(opt["segments"])
        labels = self.schema is not None and self.schema.labels
        event_id = self._scalar(opt["event_id"], n["event_id"]) if labels else None
        label = self._scalar(opt["label"], n["label"]) if labels else None
        numeric, categorical = self._features(get["features"])
        prediction = float(get["prediction"])
        raw_label: Any = opt["label"] if labels else None
        label_value = float(raw_label) if is_number(raw_label) else math.nan
        if not math.isfinite(prediction) or any(
                math.isinf(x) for x in (latency, label_value, *numeric)):
            raise Reject("non_finite", "NaN or infinite number")
        return Event(model, opt["model_version"], ts, prediction, decision, latency, numeric,
                     categorical, segments, event_id, label, label_value)

    @staticmethod
    def _scalar(v: Any, name: str) -> str | None:
        if v is not None and not is_scalar(v):
            raise Reject("wrong_type", f"{name} must be a string, a number or a boolean")
        return canonical(v)

    @staticmethod
    def _number(v: Any, name: str) -> float:
        if v is None:
            return math.nan
        if not is_number(v):
            raise Reject("wrong_type", f"{name} must be a number")
        return float(v)

    def _segments(self, segs: Any) -> tuple[str | None, ...]:
        name = self.names["segments"]
        if segs is not None and not isinstance(segs, dict):
            raise Reject("wrong_type", f"{name} must be an object")
        keys = self.schema.segments if self.schema is not None else ()
        return tuple(self._scalar((segs or {}).get(k), f"{name}.{k}") for k in keys)

    def _features(self, feats: dict[str, Any]) -> tuple[tuple[float, ...], tuple[str | None, ...]]:
        if self.schema is None:
            return (), ()
        f = self.names["features"]
        numeric = tuple(self._number(feats.get(k), f"{f}.{k}") for k in self.schema.numeric)
        categorical = tuple(self._scalar(feats.get(k), f"{f}.{k}")
                            for k in self.schema.categorical)
        return numeric, categorical


def check_event(obj: dict[str, Any], schema: Schema | None,
                fields: FieldNames = FieldNames(),  # noqa: B008 - frozen, never mutated
                ) -> tuple[str, str] | None:
    """None if ``obj`` is a valid event, else (reason, detail) for its first fault."""
    verdict = Contract(schema, fields).read(obj)
    return None if isinstance(verdict, Event) else verdict
