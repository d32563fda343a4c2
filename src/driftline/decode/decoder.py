"""Batch decoding: raw JSON messages in, typed columns (``Batch``) and dead letters out.

Two paths, one contract (``contract.py``):

- **per line** (authoritative): each message is parsed by orjson and read by
  ``Contract.read``; the canonical values of the valid ones become columns;
- **fast**: the whole batch is parsed by Arrow's C++ NDJSON reader against an explicit schema
  and checked column-wise. It is taken only where it provably agrees with the per-line path:
  the batch must pass ``ndjson`` (sizes, UTF-8, no byte-order mark, no raw newline, no
  ``null`` document, no NaN/Infinity token, no nesting orjson would refuse), Arrow must read
  every line with the expected types (a number where a category goes fails the read, as it
  fails the typed schema), and nothing Arrow read may be infinite. Anything else goes line by
  line — one bad line costs its batch the slower path, never an event.

Where the native decoder (Rust, ``native.py``) is installed it reads every batch instead, and
hands each line it refuses to ``classify`` for its reason. All three end in ``_finish``:
vocabulary codes, known models, the model cap, values past a cap.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from driftline.decode import native
from driftline.decode.batch import Batch, Columns, DeadLetter
from driftline.decode.contract import Contract, Event
from driftline.decode.keys import truth_columns
from driftline.decode.schema import Schema
from driftline.decode.vocab import Vocabulary
from driftline.detectors.sketches import FloatArray, IntArray
from driftline.errors import StateError
from driftline.state import DecoderState, validated
from driftline.timestamps import DEFAULT_FLOOR, UNITS, parse_rfc3339_column

_READ = pj.ReadOptions(use_threads=False, block_size=1 << 26)
# NaN/Infinity are not JSON, but some writers emit them; name them as such
_NON_FINITE_TOKEN = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)\b")
_MAX_DEPTH = 1024  # orjson's nesting limit: a deeper document is malformed_json
_SPACES = {b" ", b"\t", b"\r"}
_HUGE = r"[0-9][eE]\+?[0-9]{3}|[0-9]{100}"  # a number that may overflow a double (RE2)


def _tree(paths: dict[str, tuple[tuple[str, ...], pa.DataType]]) -> pa.Schema:
    """An Arrow schema of nested structs that holds every (path, type)."""
    root: dict[str, Any] = {}
    for path, dtype in paths.values():
        node = root
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"field path {'.'.join(path)} runs through another field")
        node[path[-1]] = dtype

    def build(node: dict[str, Any]) -> list[pa.Field]:
        return [pa.field(k, pa.struct(build(v)) if isinstance(v, dict) else v)
                for k, v in node.items()]

    return pa.schema(build(root))


class Decoder:
    """Turns raw message batches into ``Batch`` columns; owns the vocabularies."""

    def __init__(self, schema: Schema, *, models: list[str] | None = None,
                 max_message_bytes: int = 65536, segment_cardinality: int = 200,
                 category_cardinality: int = 500, model_cardinality: int = 100,
                 model_id: str | None = None, floor: float = DEFAULT_FLOOR) -> None:
        self.schema = schema
        self.contract = Contract(schema, schema.fields, model_id, floor)
        self.known_models = set(models or ())
        self.max_message_bytes = max_message_bytes
        self.models = Vocabulary(model_cardinality)
        self.versions = Vocabulary(1000)
        self.decisions = Vocabulary(category_cardinality)
        self.labels = Vocabulary(category_cardinality)  # the labels layer's classes
        self.categories = {c: Vocabulary(category_cardinality) for c in schema.categorical}
        self.segment_values = {s: Vocabulary(segment_cardinality) for s in schema.segments}
        #: the labels layer's task and positive class, decided from the reference (``truth``)
        self.task: str | None = None
        self.positive: str | None = None
        self.overflowed_events = 0  # events with a value past a cap, counted as __other__
        self._arrow = {numeric: self._arrow_schema(numeric) for numeric in (True, False)}
        self._ts_numeric = True
        self.fast_batches = self.slow_batches = 0
        self.native = native.reader(self.contract, max_message_bytes, self.classify)

    def _arrow_schema(self, numeric_ts: bool) -> pa.Schema:
        f, s, c = self.schema.fields, self.schema, self.contract
        feats = pa.struct([(n, pa.float64()) for n in s.numeric]
                          + [(k, pa.string()) for k in s.categorical])
        cols: dict[str, tuple[tuple[str, ...], pa.DataType]] = {
            "model_version": (f.path("model_version"), pa.string()),
            "timestamp": (f.path("timestamp"), pa.float64() if numeric_ts else pa.string()),
            "prediction": (f.path("prediction"), pa.float64()),
            "decision": (f.path("decision"), pa.string()),
            "latency_ms": (f.path("latency_ms"), pa.float64()),
            # always present, if empty: Arrow then checks that they are objects, as the contract
            "features": (f.path("features"), feats),
            "segments": (f.path("segments"), pa.struct([(k, pa.string()) for k in s.segments])),
        }
        if c.model_id is None:
            cols["model_id"] = (f.path("model_id"), pa.string())
        if s.labels:  # a number or an object here fails the read: the per-line path judges
            cols["event_id"] = (f.path("event_id"), pa.string())
            cols["label"] = (f.path("label"), pa.string())
        return _tree(cols)

    # -- public -----------------------------------------------------------------
    def decode(self, messages: list[bytes], positions: IntArray | None = None,
               partitions: IntArray | None = None) -> tuple[Batch, list[DeadLetter]]:
        """The valid events of ``messages`` as columns, and a dead letter for every other."""
        n = len(messages)
        pos = np.arange(n, dtype=np.int64) if positions is None else np.asarray(positions, np.int64)
        part = np.full(n, -1, np.int64) if partitions is None else np.asarray(partitions, np.int64)
        dead: list[DeadLetter] = []
        if not n:
            return self._empty(), dead
        cols = self.native.read(messages, pos, part, dead) if self.native is not None else None
        if cols is not None:  # the native reader: a refused line gets classify's verdict
            return self._finish(cols, messages, pos, part, dead)
        buf = self._eligible(messages)
        cols = self._fast(buf, len(messages)) if buf is not None else None
        if cols is None:
            self.slow_batches += 1
            cols = self._per_line(messages, pos, part, dead)
        else:
            self.fast_batches += 1
        return self._finish(cols, messages, pos, part, dead)

    # -- the per-line path ---------------------------------------------------------
    def classify(self, raw: bytes) -> Event | tuple[str, str]:
        """One message's verdict: its event, or (reason, detail)."""
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
        return self.contract.read(obj)

    def _per_line(self, messages: list[bytes], pos: IntArray, part: IntArray,
                  dead: list[DeadLetter]) -> Columns:
        events: list[Event] = []
        rows: list[int] = []
        for i, raw in enumerate(messages):
            verdict = self.classify(raw)
            if isinstance(verdict, Event):
                events.append(verdict)
                rows.append(i)
            else:
                dead.append(DeadLetter(raw, verdict[0], verdict[1], int(pos[i]), int(part[i])))
        s = self.schema

        def floats(values: Iterable[float]) -> FloatArray:
            return np.fromiter(values, np.float64, len(events))

        return Columns(
            rows=np.asarray(rows, np.int64), model=[e.model for e in events],
            version=[e.version for e in events],
            timestamp=floats(e.timestamp for e in events),
            prediction=floats(e.prediction for e in events),
            decision=[e.decision for e in events],
            latency=floats(e.latency for e in events),
            numeric={k: floats(e.numeric[j] for e in events) for j, k in enumerate(s.numeric)},
            categorical={k: [e.categorical[j] for e in events] for j, k in enumerate(s.categorical)},
            segments={k: [e.segments[j] for e in events] for j, k in enumerate(s.segments)},
            event_id=[e.event_id for e in events] if s.labels else None,
            label=[e.label for e in events] if s.labels else None,
            label_value=floats(e.label_value for e in events) if s.labels else None)

    # -- the fast path --------------------------------------------------------------
    def _read(self, buf: bytes, numeric_ts: bool) -> pa.Table | None:
        try:
            return pj.read_json(io.BytesIO(buf), read_options=_READ, parse_options=pj.ParseOptions(
                explicit_schema=self._arrow[numeric_ts], unexpected_field_behavior="ignore"))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None

    def _eligible(self, messages: list[bytes]) -> bytes | None:
        """``ndjson`` with this decoder's size limit (a method: the differential test
        replaces it to force the per-line path)."""
        return ndjson(messages, self.max_message_bytes)

    def _fast(self, buf: bytes, n: int) -> Columns | None:
        table = self._read(buf, self._ts_numeric)
        if table is None:  # the stream may use the other timestamp form; remember what works
            table = self._read(buf, not self._ts_numeric)
            if table is not None:
                self._ts_numeric = not self._ts_numeric
        if table is None or table.num_rows != n:
            return None
        return self._columns(table)

    def _at(self, table: pa.Table, name: str) -> pa.Array:
        """The column of field ``name``, walking its path through the structs."""
        return column_at(table, self.schema.fields.path(name))

    def _columns(self, table: pa.Table) -> Columns | None:
        """Columns and the faults the contract finds in them, in its order; None if the
        per-line path must judge (a value Arrow read that orjson would refuse)."""
        f, c = self.schema.fields, self.contract
        n = table.num_rows
        faults: list[tuple[str, str, np.ndarray]] = []
        required = ("timestamp", "features", "prediction") if c.model_id is not None \
            else ("model_id", "timestamp", "features", "prediction")
        for name in required:
            miss = _nulls(self._at(table, name))
            if miss.any():
                faults.append(("missing_field", f"{f.label_of(name)} is required", miss))
        ts_col = self._at(table, "timestamp")
        ts = epoch_seconds(ts_col, c.floor)
        bad_ts = np.isnan(ts) & ~_nulls(ts_col)
        if bad_ts.any():
            faults.append(("bad_timestamp", f"{f.label_of('timestamp')} must be RFC 3339 with "
                           "an offset, or epoch s/ms/µs/ns, at or after the floor", bad_ts))
        prediction, latency = _floats(self._at(table, "prediction")), _floats(
            self._at(table, "latency_ms"))
        feats = self._at(table, "features")
        numeric = {k: _floats(_field(feats, k)) for k in self.schema.numeric}
        if any(np.isinf(a).any() for a in (prediction, latency, *numeric.values())):
            return None  # 1e999: Arrow reads infinity, orjson refuses the line (non_finite)
        segs = self._at(table, "segments")
        model: pa.Array | list[str | None] = [c.model_id] * n if c.model_id is not None \
            else self._at(table, "model_id")
        return Columns(
            rows=np.arange(n, dtype=np.int64), model=model,
            version=self._at(table, "model_version"), timestamp=ts, prediction=prediction,
            decision=self._at(table, "decision"), latency=latency, numeric=numeric,
            categorical={k: _field(feats, k) for k in self.schema.categorical},
            segments={k: _field(segs, k) for k in self.schema.segments}, faults=faults,
            # Arrow reads labels as strings only (a number fails the read: per line then)
            **({"event_id": self._at(table, "event_id"), "label": self._at(table, "label"),
                "label_value": np.full(n, np.nan)} if self.schema.labels else {}))

    # -- both paths ----------------------------------------------------------------
    def _finish(self, cols: Columns, messages: list[bytes], pos: IntArray, part: IntArray,
                dead: list[DeadLetter]) -> tuple[Batch, list[DeadLetter]]:
        """Vocabulary codes, then the decoder's own checks; one dead letter per message."""
        n = cols.rows.size
        faults = list(cols.faults)
        model, model_over = self.models.encode(_arrow(cols.model))
        if model_over.any():
            # a model past limits.models is rejected, never merged with others as __other__
            faults.append(("model_overflow", f"model_id beyond limits.models ({self.models.cap})",
                           model_over))
        if self.known_models:
            # sorted: codes must not depend on the set's per-process hash order
            known = [self.models.code(m) for m in sorted(self.known_models)]
            unknown = np.isin(model, known, invert=True) & (model >= 0)
            if unknown.any():
                faults.append(("unknown_model", "model_id not in input.models", unknown))
        overflow, report = np.zeros(n, bool), np.zeros(n, bool)

        def encode(vocab: Vocabulary, values: Any) -> IntArray:
            codes, over, first = vocab.encode_reporting(_arrow(values))
            overflow[:] |= over
            report[:] |= first
            return codes

        categorical = {k: encode(self.categories[k], v) for k, v in cols.categorical.items()}
        segments = {k: encode(self.segment_values[k], v) for k, v in cols.segments.items()}
        decision = encode(self.decisions, cols.decision)
        if report.any():
            # kept (counted under __other__) and reported once per distinct name, so a
            # flood is visible without a dead letter per event
            faults.append(("cardinality_overflow", "a value beyond its cardinality cap, counted "
                           "as __other__ (reported once per distinct value)", report))
        rows = cols.rows
        batch = Batch(rows=rows, positions=pos[rows], partitions=part[rows],
                      timestamp=cols.timestamp, model=model,
                      version=self.versions.encode(_arrow(cols.version))[0],
                      prediction=cols.prediction, decision=decision, latency=cols.latency,
                      numeric=cols.numeric, categorical=categorical, segments=segments,
                      **truth_columns(cols, lambda v: self.labels.encode(_arrow(v))[0]))
        judged = np.zeros(n, bool)  # one dead letter per message, for its first fault
        for reason, detail, mask in faults:
            for i in np.flatnonzero(mask & ~judged):
                r = int(rows[i])
                dead.append(DeadLetter(messages[r], reason, detail, int(pos[r]), int(part[r])))
            judged |= mask
        rejected = [m for r, _, m in faults if r != "cardinality_overflow"]
        good = ~np.any(rejected, axis=0) if rejected else np.ones(n, bool)
        self.overflowed_events += int((overflow & good).sum())
        if rejected:
            batch = batch.take(good)
        dead.sort(key=lambda d: (d.partition, d.position))
        return batch, dead

    def _empty(self) -> Batch:
        s = self.schema
        return Batch.empty(s.numeric, s.categorical, s.segments, s.labels)

    # -- checkpoint ---------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "schema": self.schema.to_json(),
            "models": self.models.snapshot(), "versions": self.versions.snapshot(),
            "decisions": self.decisions.snapshot(),
            "categories": {k: v.snapshot() for k, v in self.categories.items()},
            "segments": {k: v.snapshot() for k, v in self.segment_values.items()},
            **({k: v for k, v in (("labels", self.labels.snapshot()), ("task", self.task),
                                  ("positive", self.positive)) if v is not None}
               if self.schema.labels else {}),
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
        if s.labels is not None:
            self.labels = Vocabulary.from_state(s.labels)
        self.task, self.positive = s.task, s.positive


def column_at(table: pa.Table, path: Sequence[str]) -> pa.Array:
    """The column at ``path``, walking it through the structs."""
    col: Any = table.column(path[0]).combine_chunks()
    for key in path[1:]:
        col = _field(col, key)
    return col


def ndjson(messages: list[bytes], max_message_bytes: int) -> bytes | None:
    """The batch as one NDJSON buffer, if Arrow can be trusted with it (else: line by line).

    Each check is a cheap necessary condition first (a byte search in C), the exact
    one only when it fires: this runs on every batch.
    """
    longest = max(map(len, messages))
    if longest > max_message_bytes:
        return None
    starts = {m[:1] for m in messages}  # one-byte bytes are interned: no allocation
    # Arrow (26) segfaults on a buffer whose first document is `null`, and reads a later
    # one as an all-null row (missing_field): the per-line path says not_an_object
    if (b"n" in starts or starts & _SPACES) and any(m.lstrip()[:4] == b"null"
                                                    for m in messages):
        return None
    buf = b"\n".join(messages)
    if buf.count(b"\n") != len(messages) - 1:
        return None  # a message with a raw newline: lines would not map to messages
    # (a one-byte search is a memchr, ~20x faster than a multi-byte one: filter with it)
    if b"\xef" in buf and b"\xef\xbb\xbf" in buf:
        return None  # Arrow skips a byte-order mark; orjson (and JSON) do not
    if ((b"N" in buf and b"NaN" in buf) or (b"I" in buf and b"Infinity" in buf)) \
            and _NON_FINITE_TOKEN.search(buf):
        return None  # Arrow reads NaN/Infinity literals; orjson fails the whole line
    if _maybe_huge(messages, buf):
        return None  # a number past a double's range, even unread: orjson refuses the line
    if longest > 2 * _MAX_DEPTH and any(
            len(m) > 2 * _MAX_DEPTH and m.count(b"[") + m.count(b"{") >= _MAX_DEPTH
            for m in messages):
        return None  # maybe deeper than orjson's limit, even in a field nobody reads
    if not buf.isascii():  # (a scan in C, no copy: most batches are ASCII)
        try:
            buf.decode("utf-8")
        except UnicodeDecodeError:
            return None  # Arrow does not check UTF-8; orjson does
    return buf


def epoch_seconds(col: pa.Array, floor: float) -> FloatArray:
    """Epoch seconds by the contract's rule (NaN where it is not a usable timestamp)."""
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        x = _floats(col)
        out = np.full(x.shape, np.nan)
        lower = 0.0
        with np.errstate(invalid="ignore"):
            for bound, unit in UNITS:
                sel = (x >= lower) & (x < bound)
                out[sel] = x[sel] / unit if unit != 1.0 else x[sel]
                lower = bound
            return np.where(out >= floor, out, np.nan)
    parsed = parse_rfc3339_column(col)
    with np.errstate(invalid="ignore"):
        return np.where(parsed >= floor, parsed, np.nan)


def _maybe_huge(messages: list[bytes], buf: bytes) -> bool:
    """Whether a message may hold a number that overflows a double and is not JSON then.

    Arrow never converts a number in a field it does not read, so it would take a line that
    orjson refuses (``1e999`` where nobody looks is still not JSON to the contract). Such a
    number has an exponent of three digits or more, or a run of 100 digits (below both it is
    under 1e199): one linear-time regex pass (RE2) over the batch, and orjson only for the
    messages that match.
    """
    offsets = pa.py_buffer(np.array([0, len(buf)], np.int64))
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(buf)])
    if not pc.match_substring_regex(whole, _HUGE)[0].as_py():
        return False
    hits = pc.match_substring_regex(pa.array(messages, pa.binary()), _HUGE)
    return any(not _is_json(messages[i])
               for i in np.flatnonzero(hits.to_numpy(zero_copy_only=False)))


def _is_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def _arrow(values: Sequence[str | None] | pa.Array) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, pa.string())


def _field(struct: pa.Array, key: str) -> pa.Array:
    """A child of a struct column; a null struct makes its children null too."""
    child = struct.field(key)
    if struct.null_count:
        child = pa.compute.if_else(struct.is_null(), pa.scalar(None, child.type), child)
    return child


def _nulls(col: pa.Array) -> np.ndarray:
    out: np.ndarray = col.is_null().to_numpy(zero_copy_only=False)
    return out


def _floats(col: pa.ChunkedArray | pa.Array) -> FloatArray:
    """Float column with NaN for nulls."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    out: FloatArray = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return out
