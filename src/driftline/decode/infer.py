"""Zero-config: the schema inferred from a sample of the stream."""

from __future__ import annotations

import orjson

from driftline.config import FieldNames
from driftline.decode.contract import check_event
from driftline.decode.schema import Schema


def infer_schema(messages: list[bytes], fields: FieldNames = FieldNames(),  # noqa: B008 - frozen
                 sample: int = 2000) -> Schema:
    """Zero-config: numbers are numeric features, strings categorical; every segment key seen."""
    kinds: dict[str, set[str]] = {}
    segs: dict[str, None] = {}
    for raw in messages[:sample]:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or check_event(obj, None, fields) is not None:
            continue
        for k, v in (obj.get(fields.features) or {}).items():
            if isinstance(v, bool) or v is None:
                continue
            kinds.setdefault(k, set()).add("n" if isinstance(v, int | float) else "c")
        for k in obj.get(fields.segments) or {}:
            segs[k] = None
    numeric = tuple(k for k, s in kinds.items() if s == {"n"})
    categorical = tuple(k for k, s in kinds.items() if s == {"c"})
    return Schema(numeric, categorical, tuple(segs), fields)
