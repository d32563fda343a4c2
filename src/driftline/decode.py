"""Batch decoding: raw JSON messages in, typed columns and dead letters out.

Fast path: the batch is joined into NDJSON and parsed by Arrow's C++ JSON reader
against an explicit schema, then validated column-wise (nulls, finiteness, known
models). If Arrow rejects the batch — one malformed or wrong-typed line fails
the whole read — each line is classified in Python (orjson), bad lines become
dead letters with a reason, and the good ones are re-serialised canonically and
parsed again. One bad line costs its batch the slow path; it never stops the
stream. ``check_event`` states the contract rules that both paths enforce, and
a test runs both over one corpus.
"""

from __future__ import annotations

import base64
import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from driftline.config import FieldNames
from driftline.detectors.sketches import FloatArray, IntArray
from driftline.vocab import Vocabulary

#: Dead-letter reasons, also the ``reason`` label of driftline_events_invalid_total.
REASONS = ("malformed_json", "not_an_object", "missing_field", "wrong_type", "non_finite",
           "bad_timestamp", "unknown_model", "oversize", "late", "cardinality_overflow")

_READ = pj.ReadOptions(use_threads=False, block_size=1 << 26)
# NaN/Infinity are not JSON, but some writers emit them; name them as such
_NON_FINITE_TOKEN = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)\b")
MS_THRESHOLD = 1e11  # epoch numbers above this are milliseconds (year 5138 in seconds)


@dataclass(frozen=True)
class Schema:
    """Which features are numeric or categorical, and which segment keys exist."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    segments: tuple[str, ...]
    fields: FieldNames = field(default_factory=FieldNames)

    def arrow(self, numeric_timestamp: bool) -> pa.Schema:
        f = self.fields
        feats = [(n, pa.float64()) for n in self.numeric] + [(c, pa.string()) for c in self.categorical]
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
        cols.append((f.segments, pa.struct([(s, pa.string()) for s in self.segments])))
        return pa.schema(cols)

    def to_json(self) -> dict[str, Any]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical),
                "segments": list(self.segments)}


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


def parse_timestamp(v: Any) -> float | None:
    """RFC 3339 string or epoch seconds/milliseconds → epoch seconds; None if unusable."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        x = float(v)
        if not math.isfinite(x) or x < 0:
            return None
        return x / 1000.0 if x > MS_THRESHOLD else x
    if isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            return None  # a time without offset is ambiguous
        return dt.timestamp()
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_event(obj: dict[str, Any], schema: Schema | None, fields: FieldNames = FieldNames(),  # noqa: B008
                ) -> tuple[str, str] | None:
    """The contract, one event at a time: None if valid, else (reason, detail)."""
    f = fields
    for name in (f.model_id, f.timestamp, f.features, f.prediction):
        if obj.get(name) is None:
            return "missing_field", f"{name} is required"
    if not isinstance(obj[f.model_id], str):
        return "wrong_type", f"{f.model_id} must be a string"
    if parse_timestamp(obj[f.timestamp]) is None:
        return "bad_timestamp", f"{f.timestamp} must be RFC 3339 with offset or epoch s/ms"
    if not _is_number(obj[f.prediction]):
        return "wrong_type", f"{f.prediction} must be a number"
    feats = obj[f.features]
    if not isinstance(feats, dict):
        return "wrong_type", f"{f.features} must be an object"
    for opt in (f.model_version, f.decision):
        if obj.get(opt) is not None and not isinstance(obj[opt], str):
            return "wrong_type", f"{opt} must be a string"
    if obj.get(f.latency_ms) is not None and not _is_number(obj[f.latency_ms]):
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
            if v is not None and not _is_number(v):
                return "wrong_type", f"{f.features}.{k} must be a number"
        for k in schema.categorical:
            v = feats.get(k)
            if v is not None and not isinstance(v, str):
                return "wrong_type", f"{f.features}.{k} must be a string"
    return None


@dataclass
class DeadLetter:
    """A rejected message: the original bytes, why, and where it came from."""

    raw: bytes
    reason: str
    detail: str
    position: int
    partition: int = -1


@dataclass
class Batch:
    """Decoded events as columns. Codes index the decoder's vocabularies; -1 is missing."""

    rows: IntArray  # index of each event in the decoded message list (for its raw bytes)
    positions: IntArray
    partitions: IntArray
    timestamp: FloatArray
    model: IntArray
    version: IntArray
    prediction: FloatArray
    decision: IntArray
    latency: FloatArray
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    categorical: dict[str, IntArray] = field(default_factory=dict)
    segments: dict[str, IntArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.timestamp.size)

    def take(self, idx: IntArray | np.ndarray) -> Batch:
        """Rows ``idx`` (indices or boolean mask) as a new batch."""
        def t(a: np.ndarray) -> np.ndarray:
            return a[idx]
        return Batch(
            t(self.rows), t(self.positions), t(self.partitions), t(self.timestamp), t(self.model),
            t(self.version), t(self.prediction), t(self.decision), t(self.latency),
            {k: t(v) for k, v in self.numeric.items()},
            {k: t(v) for k, v in self.categorical.items()},
            {k: t(v) for k, v in self.segments.items()},
        )

    _ARRAYS = ("rows", "positions", "partitions", "timestamp", "model", "version", "prediction",
               "decision", "latency")

    def snapshot(self) -> dict[str, Any]:
        """Columns as base64 of their raw bytes (exact, compact): for warm-up checkpoints."""
        def enc(a: np.ndarray) -> dict[str, str]:
            return {"dtype": a.dtype.str, "b64": base64.b64encode(a.tobytes()).decode("ascii")}
        return {**{k: enc(getattr(self, k)) for k in self._ARRAYS},
                "numeric": {k: enc(v) for k, v in self.numeric.items()},
                "categorical": {k: enc(v) for k, v in self.categorical.items()},
                "segments": {k: enc(v) for k, v in self.segments.items()}}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Batch:
        def dec(d: dict[str, str]) -> np.ndarray:
            return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.dtype(d["dtype"])).copy()
        cols: dict[str, Any] = {k: dec(snap[k]) for k in cls._ARRAYS}
        return cls(**cols,
                   numeric={k: dec(v) for k, v in snap["numeric"].items()},
                   categorical={k: dec(v) for k, v in snap["categorical"].items()},
                   segments={k: dec(v) for k, v in snap["segments"].items()})

    @classmethod
    def concat(cls, batches: list[Batch]) -> Batch:
        first = batches[0]
        def c(get: Any) -> np.ndarray:
            return np.concatenate([get(b) for b in batches])
        return Batch(
            c(lambda b: b.rows), c(lambda b: b.positions), c(lambda b: b.partitions),
            c(lambda b: b.timestamp),
            c(lambda b: b.model), c(lambda b: b.version), c(lambda b: b.prediction),
            c(lambda b: b.decision), c(lambda b: b.latency),
            {k: c(lambda b, k=k: b.numeric[k]) for k in first.numeric},
            {k: c(lambda b, k=k: b.categorical[k]) for k in first.categorical},
            {k: c(lambda b, k=k: b.segments[k]) for k in first.segments},
        )


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
        self._arrow = {True: schema.arrow(True), False: schema.arrow(False)}
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
        batch, bad = self._columns(table, pos, part, rows)
        judged = np.zeros(len(rows), bool)  # one dead letter per message, for its first fault
        for reason, detail, mask in bad:
            for i in np.flatnonzero(mask & ~judged):
                dead.append(DeadLetter(originals[rows[i]], reason, detail, int(pos[i]),
                                       int(part[i])))
            judged |= mask
        rejected = [m for r, _, m in bad if r != "cardinality_overflow"]
        good = ~np.any(rejected, axis=0) if rejected else None
        if good is not None:
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
            return "oversize", f"{len(raw)} bytes > max_message_bytes {self.max_message_bytes}"
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
                 ) -> tuple[Batch, list[tuple[str, str, np.ndarray]]]:
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
        if self.schema.numeric or self.schema.categorical:
            feats = table.column(f.features).combine_chunks()
            for k in self.schema.numeric:
                numeric[k] = _floats(feats.field(k))
            for k in self.schema.categorical:
                categorical[k], _ = self.categories[k].encode(feats.field(k))
        nonfinite = ~np.isfinite(prediction) & ~table.column(f.prediction).is_null().to_numpy(
            zero_copy_only=False)
        for k, col in numeric.items():
            nonfinite |= np.isinf(col) | (np.isnan(col) & ~feats.field(k).is_null().to_numpy(
                zero_copy_only=False))
        nonfinite |= nonfinite_ts | (~np.isfinite(latency) & ~table.column(f.latency_ms).is_null(
        ).to_numpy(zero_copy_only=False))
        if nonfinite.any():
            bad.append(("non_finite", "NaN or infinite number", nonfinite))
        model, _ = self.models.encode(table.column(f.model_id))
        if self.known_models:
            # sorted: codes must not depend on the set's per-process hash order
            unknown = np.isin(model, [self.models.code(m) for m in sorted(self.known_models)],
                              invert=True)
            unknown &= model >= 0
            if unknown.any():
                bad.append(("unknown_model", "model_id not in input.models", unknown))
        segments: dict[str, IntArray] = {}
        overflow = np.zeros(n, bool)
        if self.schema.segments:
            segs = table.column(f.segments).combine_chunks()
            for k in self.schema.segments:
                segments[k], over = self.segment_values[k].encode(segs.field(k))
                overflow |= over
        batch = Batch(
            rows=rows, positions=pos, partitions=part, timestamp=ts, model=model,
            version=self.versions.encode(table.column(f.model_version))[0],
            prediction=prediction, decision=self.decisions.encode(table.column(f.decision))[0],
            latency=latency, numeric=numeric, categorical=categorical, segments=segments,
        )
        if overflow.any():
            # kept (counted under __other__) and also reported, so a flood is visible
            bad.append(("cardinality_overflow", "segment value beyond the cap, counted as __other__",
                        overflow))
        return batch, bad

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
        z = np.empty(0, np.float64)
        zi = np.empty(0, np.int64)
        return Batch(zi, zi, zi, z, zi, zi, z, zi, z,
                     {k: z for k in self.schema.numeric},
                     {k: zi for k in self.schema.categorical},
                     {k: zi for k in self.schema.segments})

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
        self.models = Vocabulary.restore(snap["models"])
        self.versions = Vocabulary.restore(snap["versions"])
        self.decisions = Vocabulary.restore(snap["decisions"])
        self.categories = {k: Vocabulary.restore(v) for k, v in snap["categories"].items()}
        self.segment_values = {k: Vocabulary.restore(v) for k, v in snap["segments"].items()}


def _floats(col: pa.ChunkedArray | pa.Array) -> FloatArray:
    """Float column with NaN for nulls."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
