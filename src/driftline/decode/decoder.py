"""Batch decoding: raw JSON messages in, typed columns and dead letters out.

Fast path: the batch is joined into NDJSON and parsed by Arrow's C++ JSON reader
against an explicit schema, then validated column-wise (nulls, finiteness, known
models). If Arrow rejects the batch — one malformed or wrong-typed line fails
the whole read — each line is classified in Python (orjson), bad lines become
dead letters with a reason, and the good ones are re-serialised canonically and
parsed again. One bad line costs its batch the slow path; it never stops the
stream. ``contract.check_event`` states the rules both paths enforce, and a
test runs both over one corpus.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from driftline.decode.batch import Batch, DeadLetter
from driftline.decode.contract import check_event
from driftline.decode.schema import Schema
from driftline.decode.vocab import Vocabulary
from driftline.detectors.sketches import FloatArray, IntArray
from driftline.errors import StateError
from driftline.state import DecoderState, validated
from driftline.timestamps import MS_THRESHOLD, parse_timestamp

_READ = pj.ReadOptions(use_threads=False, block_size=1 << 26)
# NaN/Infinity are not JSON, but some writers emit them; name them as such
_NON_FINITE_TOKEN = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)\b")


def arrow_schema(schema: Schema, numeric_timestamp: bool) -> pa.Schema:
    """The explicit schema Arrow parses a batch against."""
    f = schema.fields
    feats = [(n, pa.float64()) for n in schema.numeric] + [(c, pa.string()) for c in schema.categorical]
    cols = [
        (f.model_id, pa.string()),
        (f.model_version, pa.string()),
        (f.timestamp, pa.float64() if numeric_timestamp else pa.string()),
        (f.prediction, pa.float64()),
        (f.decision, pa.string()),
        (f.latency_ms, pa.float64()),
    ]
    # always present, if empty: Arrow then checks that they are objects, as check_event does
    cols.append((f.features, pa.struct(feats)))
    cols.append((f.segments, pa.struct([(s, pa.string()) for s in schema.segments])))
    return pa.schema(cols)


class Decoder:
    """Turns raw message batches into ``Batch`` columns; owns the vocabularies."""

    def __init__(self, schema: Schema, *, models: list[str] | None = None,
                 max_message_bytes: int = 65536, segment_cardinality: int = 200,
                 category_cardinality: int = 500, model_cardinality: int = 100) -> None:
        self.schema = schema
        self.known_models = set(models or ())
        self.max_message_bytes = max_message_bytes
        self.models = Vocabulary(model_cardinality)
        self.versions = Vocabulary(1000)
        self.decisions = Vocabulary(category_cardinality)
        self.categories = {c: Vocabulary(category_cardinality) for c in schema.categorical}
        self.segment_values = {s: Vocabulary(segment_cardinality) for s in schema.segments}
        self._arrow = {True: arrow_schema(schema, True), False: arrow_schema(schema, False)}
        self.overflowed_events = 0  # events with a value past a cap, counted as __other__
        self._ts_numeric = True

    # -- public -----------------------------------------------------------------
    def decode(self, messages: list[bytes], positions: IntArray | None = None,
               partitions: IntArray | None = None) -> tuple[Batch, list[DeadLetter]]:
        n = len(messages)
        pos = np.arange(n, dtype=np.int64) if positions is None else np.asarray(positions, np.int64)
        part = np.full(n, -1, np.int64) if partitions is None else np.asarray(partitions, np.int64)
        dead: list[DeadLetter] = []
        rows = np.arange(n, dtype=np.int64)
        originals = messages
        table = self._fast(messages) if n else None
        if table is None and n:
            messages, keep = self._slow(messages, pos, part, dead)
            pos, part, rows = pos[keep], part[keep], rows[keep]
            table = self._read(messages, numeric_ts=True) if messages else None
            if table is None and messages:  # Arrow and check_event disagree: go line by line
                table, keep2 = self._line_by_line(messages, pos, part, dead)
                pos, part, rows = pos[keep2], part[keep2], rows[keep2]
        if table is None:
            return self._empty(), dead
        batch, bad, overflow = self._columns(table, pos, part, rows)
        judged = np.zeros(len(rows), bool)  # one dead letter per message, for its first fault
        for reason, detail, mask in bad:
            for i in np.flatnonzero(mask & ~judged):
                dead.append(DeadLetter(originals[rows[i]], reason, detail, int(pos[i]),
                                       int(part[i])))
            judged |= mask
        rejected = [m for r, _, m in bad if r != "cardinality_overflow"]
        good = ~np.any(rejected, axis=0) if rejected else np.ones(len(rows), bool)
        self.overflowed_events += int((overflow & good).sum())
        if rejected:
            batch = batch.take(good)
        return batch, dead

    # -- fast path --------------------------------------------------------------
    def _fast(self, messages: list[bytes]) -> pa.Table | None:
        if max(map(len, messages)) > self.max_message_bytes:
            return None
        if any(m.lstrip()[:4] == b"null" for m in messages):
            # Arrow (26) segfaults on a buffer whose first document is `null`, and reads a
            # later one as an all-null row (missing_field): the slow path says not_an_object
            return None
        buf = b"\n".join(messages)
        if buf.count(b"\n") != len(messages) - 1:
            return None  # a message with a raw newline: lines would not map to messages
        if buf.startswith(b"\xef\xbb\xbf"):
            return None  # Arrow skips a leading byte-order mark; orjson (and JSON) do not
        try:
            buf.decode("utf-8")
        except UnicodeDecodeError:
            return None  # Arrow does not check UTF-8 (decoding its strings would raise); orjson does
        table = self._read_buf(buf, self._ts_numeric)
        if table is None:
            # the stream may use the other timestamp form; remember what works
            table = self._read_buf(buf, not self._ts_numeric)
            if table is not None:
                self._ts_numeric = not self._ts_numeric
        if table is None or table.num_rows != len(messages):
            return None
        return table

    def _read(self, messages: list[bytes], numeric_ts: bool) -> pa.Table | None:
        t = self._read_buf(b"\n".join(messages), numeric_ts)
        return t if t is not None and t.num_rows == len(messages) else None

    def _read_buf(self, buf: bytes, numeric_ts: bool) -> pa.Table | None:
        try:
            return pj.read_json(io.BytesIO(buf), read_options=_READ, parse_options=pj.ParseOptions(
                explicit_schema=self._arrow[numeric_ts], unexpected_field_behavior="ignore"))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None

    # -- slow path --------------------------------------------------------------
    def _slow(self, messages: list[bytes], pos: IntArray, part: IntArray,
              dead: list[DeadLetter]) -> tuple[list[bytes], np.ndarray]:
        """Classify each line; return canonical re-serialisations of the good ones."""
        good: list[bytes] = []
        keep = np.zeros(len(messages), bool)
        ts = self.schema.fields.timestamp
        for i, raw in enumerate(messages):
            verdict = self._classify(raw)
            if isinstance(verdict, tuple):
                dead.append(DeadLetter(raw, verdict[0], verdict[1], int(pos[i]), int(part[i])))
                continue
            verdict[ts] = parse_timestamp(verdict[ts])  # one timestamp form for the re-read
            good.append(orjson.dumps(verdict))
            keep[i] = True
        return good, keep

    def _classify(self, raw: bytes) -> dict[str, Any] | tuple[str, str]:
        if len(raw) > self.max_message_bytes:
            return "oversize", f"longer than max_message_bytes ({self.max_message_bytes})"
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if "infinity" in str(exc) or _NON_FINITE_TOKEN.search(raw):
                return "non_finite", str(exc)[:200]
            return "malformed_json", str(exc)[:200]
        if not isinstance(obj, dict):
            return "not_an_object", f"a JSON {type(obj).__name__}, not an object"
        bad = check_event(obj, self.schema, self.schema.fields)
        return bad if bad is not None else obj

    def _line_by_line(self, messages: list[bytes], pos: IntArray, part: IntArray,
                      dead: list[DeadLetter]) -> tuple[pa.Table | None, np.ndarray]:
        tables, keep = [], np.zeros(len(messages), bool)
        for i, m in enumerate(messages):
            t = self._read([m], numeric_ts=True)
            if t is None:
                dead.append(DeadLetter(m, "wrong_type", "rejected by the schema", int(pos[i]),
                                       int(part[i])))
            else:
                tables.append(t)
                keep[i] = True
        return (pa.concat_tables(tables) if tables else None), keep

    # -- columns ----------------------------------------------------------------
    def _columns(self, table: pa.Table, pos: IntArray, part: IntArray, rows: IntArray,
                 ) -> tuple[Batch, list[tuple[str, str, np.ndarray]], np.ndarray]:
        """The columns; (reason, detail, rows) faults in check_event's order; overflow rows."""
        f = self.schema.fields
        n = table.num_rows
        bad: list[tuple[str, str, np.ndarray]] = []

        def required(name: str) -> None:
            miss = table.column(name).is_null().to_numpy(zero_copy_only=False)
            if miss.any():
                bad.append(("missing_field", f"{name} is required", miss))

        for name in (f.model_id, f.timestamp, f.features, f.prediction):  # check_event's order
            required(name)
        ts_col = table.column(f.timestamp)
        ts = self._timestamps(ts_col)
        given = ~ts_col.is_null().to_numpy(zero_copy_only=False)
        # Arrow reads NaN and Infinity literals as numbers; orjson (the slow path) does not
        nonfinite_ts = ~np.isfinite(_floats(ts_col)) & given if pa.types.is_floating(ts_col.type) \
            else np.zeros(len(ts), bool)
        bad_ts = np.isnan(ts) & given & ~nonfinite_ts
        if bad_ts.any():
            bad.append(("bad_timestamp", f"{f.timestamp} must be RFC 3339 or epoch", bad_ts))
        prediction = _floats(table.column(f.prediction))
        latency = _floats(table.column(f.latency_ms))
        numeric: dict[str, FloatArray] = {}
        categorical: dict[str, IntArray] = {}
        cat_overflow, cat_report = np.zeros(n, bool), np.zeros(n, bool)
        if self.schema.numeric or self.schema.categorical:
            feats = table.column(f.features).combine_chunks()
            for k in self.schema.numeric:
                numeric[k] = _floats(feats.field(k))
            for k in self.schema.categorical:
                categorical[k], over, first = self.categories[k].encode_reporting(feats.field(k))
                cat_overflow |= over
                cat_report |= first
        nonfinite = ~np.isfinite(prediction) & ~table.column(f.prediction).is_null().to_numpy(
            zero_copy_only=False)
        for k, col in numeric.items():
            nonfinite |= np.isinf(col) | (np.isnan(col) & ~feats.field(k).is_null().to_numpy(
                zero_copy_only=False))
        nonfinite |= nonfinite_ts | (~np.isfinite(latency) & ~table.column(f.latency_ms).is_null(
        ).to_numpy(zero_copy_only=False))
        if nonfinite.any():
            bad.append(("non_finite", "NaN or infinite number", nonfinite))
        model, model_over = self.models.encode(table.column(f.model_id))
        if model_over.any():
            # a model past limits.models is rejected, never merged with others as __other__
            bad.append(("model_overflow", f"model_id beyond limits.models ({self.models.cap})",
                        model_over))
        if self.known_models:
            # sorted: codes must not depend on the set's per-process hash order
            unknown = np.isin(model, [self.models.code(m) for m in sorted(self.known_models)],
                              invert=True)
            unknown &= model >= 0
            if unknown.any():
                bad.append(("unknown_model", "model_id not in input.models", unknown))
        segments: dict[str, IntArray] = {}
        overflow, report = cat_overflow, cat_report
        if self.schema.segments:
            segs = table.column(f.segments).combine_chunks()
            for k in self.schema.segments:
                segments[k], over, first = self.segment_values[k].encode_reporting(segs.field(k))
                overflow |= over
                report |= first
        decision, over, first = self.decisions.encode_reporting(table.column(f.decision))
        overflow, report = overflow | over, report | first
        batch = Batch(
            rows=rows, positions=pos, partitions=part, timestamp=ts, model=model,
            version=self.versions.encode(table.column(f.model_version))[0],
            prediction=prediction, decision=decision,
            latency=latency, numeric=numeric, categorical=categorical, segments=segments,
        )
        if report.any():
            # kept (counted under __other__) and reported once per distinct name, so a
            # flood is visible without a dead letter per event
            bad.append(("cardinality_overflow", "a value beyond its cardinality cap, counted as "
                        "__other__ (reported once per distinct value)", report))
        return batch, bad, overflow

    def _timestamps(self, col: pa.ChunkedArray) -> FloatArray:
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            x = col.to_numpy().astype(np.float64)
            return np.where(x > MS_THRESHOLD, x / 1000.0, np.where(x < 0, np.nan, x))
        try:
            parsed = pc.cast(col, pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return np.array([parse_timestamp(v) if v is not None else np.nan
                             for v in col.to_pylist()], dtype=np.float64)
        us = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
        return np.asarray(us, dtype=np.float64) / 1e6

    def _empty(self) -> Batch:
        s = self.schema
        return Batch.empty(s.numeric, s.categorical, s.segments)

    # -- checkpoint ---------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "schema": self.schema.to_json(),
            "models": self.models.snapshot(), "versions": self.versions.snapshot(),
            "decisions": self.decisions.snapshot(),
            "categories": {k: v.snapshot() for k, v in self.categories.items()},
            "segments": {k: v.snapshot() for k, v in self.segment_values.items()},
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """The vocabularies of ``snapshot()``, validated; they must fit this decoder's schema."""
        s = validated(DecoderState, snap, "decoder")
        mine = self.schema
        if (tuple(s.schema_.categorical), tuple(s.schema_.segments)) != (mine.categorical,
                                                                         mine.segments):
            raise StateError("decoder: the saved vocabularies are for another schema")
        self.models = Vocabulary.from_state(s.models)
        self.versions = Vocabulary.from_state(s.versions)
        self.decisions = Vocabulary.from_state(s.decisions)
        self.categories = {k: Vocabulary.from_state(v) for k, v in s.categories.items()}
        self.segment_values = {k: Vocabulary.from_state(v) for k, v in s.segments.items()}


def _floats(col: pa.ChunkedArray | pa.Array) -> FloatArray:
    """Float column with NaN for nulls."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    out: FloatArray = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return out
