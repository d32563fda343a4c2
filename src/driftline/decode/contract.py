"""The event contract, one event at a time: what makes a decoded JSON object valid.

Both decoder paths enforce these rules (the fast one column-wise); a test feeds
them, and the pydantic model in ``events.py``, one corpus and checks they agree.
"""

from __future__ import annotations

from typing import Any

from driftline.config import FieldNames
from driftline.decode.schema import Schema
from driftline.timestamps import parse_timestamp

#: Dead-letter reasons, also the ``reason`` label of driftline_events_invalid_total.
REASONS = ("malformed_json", "not_an_object", "missing_field", "wrong_type", "non_finite",
           "bad_timestamp", "unknown_model", "model_overflow", "oversize", "late",
           "cardinality_overflow", "feature_overflow", "segment_key_overflow")
#: dead letters that report something about an event that was processed all the same (a
#: value counted as __other__, a name beyond a cap): the event is valid, not invalid
REPORTS = ("cardinality_overflow", "feature_overflow", "segment_key_overflow")


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_event(obj: dict[str, Any], schema: Schema | None,
                fields: FieldNames = FieldNames(),  # noqa: B008 - frozen, never mutated
                ) -> tuple[str, str] | None:
    """None if ``obj`` is a valid event, else (reason, detail) for its first fault."""
    f = fields
    for name in (f.model_id, f.timestamp, f.features, f.prediction):
        if obj.get(name) is None:
            return "missing_field", f"{name} is required"
    if not isinstance(obj[f.model_id], str):
        return "wrong_type", f"{f.model_id} must be a string"
    if parse_timestamp(obj[f.timestamp]) is None:
        return "bad_timestamp", f"{f.timestamp} must be RFC 3339 with offset or epoch s/ms"
    if not is_number(obj[f.prediction]):
        return "wrong_type", f"{f.prediction} must be a number"
    feats = obj[f.features]
    if not isinstance(feats, dict):
        return "wrong_type", f"{f.features} must be an object"
    for opt in (f.model_version, f.decision):
        if obj.get(opt) is not None and not isinstance(obj[opt], str):
            return "wrong_type", f"{opt} must be a string"
    if obj.get(f.latency_ms) is not None and not is_number(obj[f.latency_ms]):
        return "wrong_type", f"{f.latency_ms} must be a number"
    segs = obj.get(f.segments)
    if segs is not None:
        if not isinstance(segs, dict):
            return "wrong_type", f"{f.segments} must be an object"
        for k, v in segs.items():
            if schema is not None and k not in schema.segments:
                continue  # a key outside the schema is not read (as features are not)
            if v is not None and not isinstance(v, str):
                return "wrong_type", f"{f.segments}.{k} must be a string"
    if schema is not None:
        for k in schema.numeric:
            v = feats.get(k)
            if v is not None and not is_number(v):
                return "wrong_type", f"{f.features}.{k} must be a number"
        for k in schema.categorical:
            v = feats.get(k)
            if v is not None and not isinstance(v, str):
                return "wrong_type", f"{f.features}.{k} must be a string"
    return None
