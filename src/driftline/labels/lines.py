"""Label lines (``{"event_id", "label", "timestamp"}``, names from ``labels.fields``) read and
checked one batch at a time: each valid one a store row, each other counted by its reason.

The rules are the event contract's, for three fields: all present and not null
(``missing_field``); the id and the label scalars (``wrong_type``, canonical text like every
text the events carry); the timestamp by ``timestamps.py`` (``bad_timestamp``). A line that is
not JSON is ``malformed_json`` (NaN and Infinity are not JSON), longer than
``input.max_message_bytes`` it is ``oversize`` — counted, never raised.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from driftline.config import LabelFieldNames
from driftline.decode.canonical import canonical
from driftline.decode.contract import MISSING, is_number, is_scalar, lookup
from driftline.decode.keys import id_key
from driftline.timestamps import parse_timestamp

#: (event-id key, label's canonical text, its value if a number, label timestamp, and where it
#: was read: partition (-1: a file) and offset or 1-based line — what an incident cites)
Row = tuple[int, str, float | None, float, int, int]


class LabelReader:
    """Turns label lines into store rows; counts the refused ones by reason."""

    def __init__(self, fields: LabelFieldNames, floor: float, max_bytes: int) -> None:
        self.paths = {n: fields.path(n) for n in ("event_id", "label", "timestamp")}
        self.floor, self.max_bytes = floor, max_bytes
        self.invalid: Counter[str] = Counter()

    def rows(self, lines: list[bytes], positions: Sequence[int], partition: int = -1,
             ) -> list[Row]:
        """The valid lines' rows, each with its position (an offset of ``partition``, or a
        file's line number); blank lines are skipped, not counted."""
        out = []
        for raw, at in zip(lines, positions, strict=True):
            if not raw.strip():
                continue
            row = self._row(raw)
            if isinstance(row, str):
                self.invalid[row] += 1
            else:
                out.append((*row, partition, int(at)))
        return out

    def _row(self, raw: bytes) -> tuple[int, str, float | None, float] | str:
        if len(raw) > self.max_bytes:
            return "oversize"
        try:
            obj: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return "malformed_json"
        if not isinstance(obj, dict):
            return "not_an_object"
        eid, label, ts = (lookup(obj, self.paths[n]) for n in ("event_id", "label", "timestamp"))
        if any(v is MISSING or v is None for v in (eid, label, ts)):
            return "missing_field"
        if not (is_scalar(eid) and is_scalar(label)):
            return "wrong_type"
        if is_number(label) and not math.isfinite(label):
            return "non_finite"  # orjson refuses NaN and 1e999 already: kept as the contract has it
        when = parse_timestamp(ts, self.floor)
        if when is None:
            return "bad_timestamp"
        text, key = canonical(label), canonical(eid)
        assert text is not None and key is not None  # scalars, not null
        return id_key(key), text, float(label) if is_number(label) else None, when
