"""Event times alone, for a batch of raw messages: what the performance layer holds by.

The performance layer on Kafka holds each prediction until its labels are final, so it needs
every message's event time before its engine decodes the message. Parsing each message with
orjson for one field cost about as much as the engine's whole decode (``benchmarks/
throughput.py``, its ``event_times``). Arrow reads the one field of a large batch as a column
instead, under the decoder's own conditions (``ndjson``); a small batch, or one Arrow cannot
read, goes message by message.
Both give the contract's rule: epoch seconds, NaN where there is no usable timestamp (the
message is unreadable, the field missing, null, of a wrong type, or before the floor).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pj

from driftline.decode.contract import MISSING, lookup
from driftline.decode.decoder import _READ, column_at, epoch_seconds, ndjson
from driftline.detectors.sketches import FloatArray
from driftline.timestamps import parse_timestamp

#: the smallest batch read as a column: the column read costs about 1 ms a call whatever the
#: batch (the batch check's regexes, Arrow's reader), the parse ~4 µs a message
MIN_BATCH = 1024


class EventTimes:
    """The event time of each message, by the timestamp field's path."""

    def __init__(self, path: Sequence[str], floor: float, max_message_bytes: int,
                 min_batch: int = MIN_BATCH) -> None:
        self.path, self.floor, self.max_message_bytes = tuple(path), floor, max_message_bytes
        self.min_batch = min_batch
        self._numeric = True  # which form the stream used last: tried first
        #: the explicit schema of each form: the timestamp field alone, as number or string
        self._options = {numeric: _only(self.path, pa.float64() if numeric else pa.string())
                         for numeric in (True, False)}
        self.fast_batches = self.slow_batches = 0

    def __call__(self, messages: list[bytes]) -> FloatArray:
        small = len(messages) < max(self.min_batch, 1)
        buf = None if small else ndjson(messages, self.max_message_bytes)
        out = None if buf is None else self._fast(buf, len(messages))
        if out is None:
            self.slow_batches += 1
            return self.per_message(messages)
        self.fast_batches += 1
        return out

    def per_message(self, messages: list[bytes]) -> FloatArray:
        """The authoritative path: each message parsed in full."""
        out = np.full(len(messages), np.nan)
        for i, raw in enumerate(messages):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            v = lookup(obj, self.path) if isinstance(obj, dict) else MISSING
            ts = None if v is MISSING or v is None else parse_timestamp(v, self.floor)
            if ts is not None:
                out[i] = ts
        return out

    def _fast(self, buf: bytes, n: int) -> FloatArray | None:
        for numeric in (self._numeric, not self._numeric):
            col = self._read(buf, n, numeric)
            if col is not None:
                self._numeric = numeric
                return epoch_seconds(col, self.floor)
        return None

    def _read(self, buf: bytes, n: int, numeric: bool) -> pa.Array | None:
        """The field as one column (None: Arrow refused a line, or read another count)."""
        try:
            table = pj.read_json(io.BytesIO(buf), read_options=_READ,
                                 parse_options=self._options[numeric])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
        return column_at(table, self.path) if table.num_rows == n else None


def _only(path: tuple[str, ...], leaf: pa.DataType) -> pj.ParseOptions:
    """Arrow's parse options that read the field at ``path`` alone, as ``leaf``."""
    for key in reversed(path[1:]):
        leaf = pa.struct([pa.field(key, leaf)])
    return pj.ParseOptions(explicit_schema=pa.schema([pa.field(path[0], leaf)]),
                           unexpected_field_behavior="ignore")
