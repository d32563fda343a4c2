"""One decoder contract: every path gives every byte string the same verdict, reason and values.

Generated lines — valid events of two field layouts (top-level and dotted paths), mutated the
ways real producers and hostile ones do — go through the Arrow fast path, the authoritative
per-line path, the native decoder (Rust, ``native/``) and the pydantic contract model, in
batches and alone. They must agree on which lines are events, on the reason of every rejected
line and on every value of every event. The native decoder is in ``PATHS`` wherever it is
installed, and must be installed in CI and wherever a Rust toolchain exists (``decoders.py``).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pydantic
from decoders import require_native
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from driftline.config import FieldNames
from driftline.decode import Decoder, Schema, native
from driftline.decode.batch import Batch, DeadLetter
from driftline.events import PredictionEvent

T0 = 1_770_962_400.0
FLAT = Schema(("x", "y"), ("color", "flag"), ("region", "tier"), labels=True)
NESTED = Schema(("x", "y"), ("color", "flag"), ("region", "tier"), labels=True,
                fields=FieldNames(model_id="meta.model", timestamp="meta.ts",
                                  features=["payload", "features.v1"], prediction="out.score",
                                  decision="out.decision", segments="meta.segments"))
Decode = Callable[[Decoder, list[bytes]], tuple[Batch, list[DeadLetter]]]


def fast_or_per_line(d: Decoder, messages: list[bytes]) -> tuple[Batch, list[DeadLetter]]:
    """The Python decoder as it runs: the fast path where it may, else line by line."""
    d.native = None
    return d.decode(messages, np.arange(len(messages)))


def per_line(d: Decoder, messages: list[bytes]) -> tuple[Batch, list[DeadLetter]]:
    """The authoritative path only."""
    d.native = None
    d._eligible = lambda _m: None  # type: ignore[method-assign]  # force the per-line path
    return d.decode(messages, np.arange(len(messages)))


def native_reader(d: Decoder, messages: list[bytes]) -> tuple[Batch, list[DeadLetter]]:
    """The native decoder; a line it refuses is classified by the per-line path. It must
    never refuse an event (that would send its batch the Python way: ``mismatches``)."""
    assert d.native is not None, "the native decoder did not load"
    out = d.decode(messages, np.arange(len(messages)))
    assert (d.native.mismatches, d.native.batches) == (0, 1)
    return out


PATHS: dict[str, Decode] = {"decoder": fast_or_per_line, "per-line": per_line}
if native.available():
    PATHS["native"] = native_reader


def test_the_native_decoder_is_one_of_the_paths() -> None:
    """Where the native decoder can be built (CI, a machine with Rust), it is held to the contract."""
    require_native()
    assert "native" in PATHS


def put(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj[path[-1]] = value


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=6), st.sampled_from(["", "red", "ü", "1", "true", "1.0"]))
ANY = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=2)
                   | st.dictionaries(st.text(max_size=4), inner, max_size=2), max_leaves=4)
TIMES = st.one_of(
    st.floats(T0, T0 + 1e6), st.integers(int(T0), int(T0) + 10**6),
    st.integers(int(T0 * 1e3), int(T0 * 1e3) + 10**9),
    st.integers(int(T0 * 1e6), int(T0 * 1e6) + 10**12), st.integers(int(T0) * 10**9, 2**63),
    st.sampled_from(["2026-02-13T06:00:00Z", "2026-02-13t06:00:00.5z", "2026-02-13 06:00:00+01:00",
                     "2026-02-13T06:00:00.123456789-05:30", "2026-02-13T06:00:00", "2026-02-30T00:00:00Z",
                     "1999-12-31T23:59:59Z", "2026-02-13T06:00:60Z", "0", "", "2026-02-13T06:00:00.Z"]),
    st.integers(-10, 10**12), st.floats(allow_nan=False, allow_infinity=False))
NUMBERS = st.one_of(st.floats(-1e6, 1e6), st.integers(-1000, 1000), st.floats(allow_nan=False,
                                                                               allow_infinity=False))


TEXTS = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["red", "", "ü", "1"]))


@st.composite
def clean(draw: st.DrawFn, schema: Schema) -> dict[str, Any]:
    """An event of the types the fast path reads (strings for categories): its domain."""
    f = schema.fields
    obj: dict[str, Any] = {}
    put(obj, f.path("model_id"), draw(st.sampled_from(["m", "m2", "Ü"])))
    put(obj, f.path("timestamp"), draw(TIMES))
    put(obj, f.path("features"), {**{k: draw(st.none() | NUMBERS) for k in schema.numeric},
                                   **{k: draw(TEXTS) for k in schema.categorical}})
    put(obj, f.path("prediction"), draw(st.none() | NUMBERS))
    for name, values in (("decision", TEXTS), ("latency_ms", st.none() | NUMBERS),
                         ("event_id", TEXTS), ("label", TEXTS)):
        if draw(st.booleans()):
            put(obj, f.path(name), draw(values))
    if draw(st.booleans()):
        put(obj, f.path("segments"), {k: draw(TEXTS) for k in schema.segments})
    return obj


@st.composite
def event(draw: st.DrawFn, schema: Schema) -> dict[str, Any]:
    if draw(st.booleans()):
        return draw(clean(schema))
    f = schema.fields
    obj: dict[str, Any] = {}
    odd = draw(st.integers(0, 5)) == 0  # mostly what the contract wants, sometimes anything
    put(obj, f.path("model_id"), draw(ANY if odd else st.sampled_from(["m", "m2", "Ü"])))
    put(obj, f.path("timestamp"), draw(ANY if odd and draw(st.booleans()) else TIMES))
    feats = {k: draw(NUMBERS | (ANY if odd else st.none())) for k in schema.numeric}
    feats |= {k: draw(SCALARS if not odd else ANY) for k in schema.categorical}
    feats |= draw(st.dictionaries(st.text(max_size=3), ANY, max_size=2))
    put(obj, f.path("features"), feats if not odd or draw(st.booleans()) else draw(ANY))
    put(obj, f.path("prediction"), draw(NUMBERS if not odd else ANY))
    for name, values in (("decision", SCALARS), ("model_version", st.sampled_from(["v1", None])),
                         ("latency_ms", NUMBERS), ("event_id", SCALARS), ("label", SCALARS)):
        if draw(st.booleans()):
            put(obj, f.path(name), draw(ANY if odd else values))
    if draw(st.booleans()):
        segs = {k: draw(SCALARS if not odd else ANY) for k in schema.segments}
        put(obj, f.path("segments"), segs)
    for path in draw(st.lists(st.sampled_from([f.path(n) for n in FieldNames.model_fields]),
                              max_size=1)):
        put(obj, path, None) if draw(st.booleans()) else None
    return obj


#: number texts json.dumps never writes: exponents, -0, 64-bit edges, overflow, long digits
NUMBER_TEXTS = ["1E5", "1e+2", "-0", "-0.0", "0e0", "1e-400", "0e99999999999999999999", "1e16",
                "18446744073709551615", "18446744073709551616", "-9223372036854775808",
                "-9223372036854775809", "1.7976931348623157e308", "1.7976931348623159e308",
                "2.4703282292062328e-324", "123456789012345678901234567890", "0.1e1", "1.0",
                "9999999999999998", "1e-5", "0.0001", "1770962400123", "1770962400.5e3",
                "1.770962400e9", "12345678901234567890e-10", "1." + "0" * 400,
                "0." + "0" * 30 + "1", "1" + "0" * 310, "9007199254740993", "4.35", "1e22"]
RAW = "\x00raw"  # a placeholder json.dumps writes as "\u0000raw"


@st.composite
def line(draw: st.DrawFn, schema: Schema) -> bytes:
    obj = draw(event(schema))
    how = draw(st.integers(0, 32))  # 19 and more: no mutation
    if how == 12:  # a number written as json.dumps never writes it, where the contract reads
        f = schema.fields
        path = draw(st.sampled_from([(*f.path("features"), "x"), (*f.path("features"), "color"),
                                     f.path("prediction"), f.path("decision"), f.path("timestamp"),
                                     (*f.path("segments"), "region"), f.path("latency_ms"),
                                     f.path("label"), ("junk",)]))
        with contextlib.suppress(TypeError, AttributeError):  # a level that is not an object
            put(obj, path, RAW)
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()),
                      separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    text = mutated(draw, text, how)
    raw = text.encode("utf-8", "surrogatepass")
    if how == 6:  # not UTF-8: a stray byte, a UTF-8 surrogate, an overlong form, a cut sequence
        raw = raw.replace(b"e", draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc0\xae",
                                                      b"\xc3", b"\xf4\x90\x80\x80"])), 1)
    return raw


def mutated(draw: st.DrawFn, text: str, how: int) -> str:
    """The JSON text of an event, changed the way ``how`` says (the ways producers err)."""
    obj_end = text.endswith("}")
    if how == 0:  # cut short
        text = text[:draw(st.integers(0, len(text)))]
    elif how == 1:  # a NaN or an Infinity token where a number was
        text = text.replace("0.5", draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"])), 1)
    elif how == 2:  # leading/trailing bytes
        text = draw(st.sampled_from(["\ufeff", " ", "x", "\t", "\r\n"])) + text + draw(
            st.sampled_from(["", " ", "\n", "}", "\x0c", "\x00", " \r\n\t"]))
    elif how == 3:  # not an object at all
        text = draw(st.sampled_from(["null", "[]", "42", '"s"', "true", "", "{", "}", "{}"]))
    elif how == 4 and obj_end:  # nested around orjson's limit (1024), in a field nobody reads
        depth = draw(st.sampled_from([1022, 1023, 1024, 1100]))
        nest = draw(st.sampled_from([("[", "]"), ('{"k":', "}")]))
        text = text[:-1] + ', "junk": ' + nest[0] * depth + "1" * (nest[0] != "[") + nest[1] * depth + "}"
    elif how == 5 and obj_end:  # a duplicate key, the last wins (a whole object replaced too)
        text = text[:-1] + draw(st.sampled_from([', "model_id": 5}', ', "model_id": "m2"}',
                                                 ', "features": {"x": 1}}', ', "segments": null}',
                                                 ', "meta": {"model": "m2"}}', ', "out": 1}']))
    elif how == 7:  # a key written with an escape: the same key to a JSON parser
        text = text.replace('"model_id"', '"\\u006dodel_id"', 1).replace('"meta"', '"m\\u0065ta"', 1) \
            .replace('"region"', '"\\u0072egion"', 1).replace('"x"', '"\\u0078"', 1)
    elif how == 8:  # a raw control character inside a string (not JSON); DEL is allowed
        text = text.replace('"m"', draw(st.sampled_from(['"m\x01"', '"m\x7f"', '"m\x1f"'])), 1)
    elif how == 9 and obj_end:  # a trailing comma (not JSON)
        text = text[:-1] + draw(st.sampled_from([",}", ', "a": [1,]}', ', "a": {"b": 1,}}']))
    elif how == 10:  # numbers JSON does not allow: a leading zero, a plus sign, a bare dot
        text = text.replace(":0.", draw(st.sampled_from([":00.", ":+0.", ":.", ":-.0", ":0.e1"])), 1)
    elif how == 11:  # escaped string values: valid ones, lone surrogates, a bad escape
        text = text.replace('"m"', draw(st.sampled_from([
            '"\\u006d"', '"\\ud800"', '"m\\n"', '"\\udc00m"', '"\\ud83d\\ude00"', '"\\uD83D\\uDE00"',
            '"\\ud800\\u0041"', '"m\\/"', '"m\\x"', '"m\\u00"', '"\\u0000"'])), 1)
    elif how == 12:
        text = text.replace('"\\u0000raw"', draw(st.sampled_from(NUMBER_TEXTS)))
    elif how == 13:  # other whitespace between the tokens (and in strings that hold ':')
        text = text.replace(":", draw(st.sampled_from([": \t", " :\r\n", "\n:\n"])))
    elif how == 14:  # literals cut or misspelt
        text = text.replace("true", draw(st.sampled_from(["tru", "True", "truex"])), 1) \
            .replace("null", draw(st.sampled_from(["nul", "NULL", "null"])), 1)
    return text


def names(d: Decoder, batch: Batch) -> list[tuple[Any, ...]]:
    """Every value of every event, codes replaced by the names they stand for."""
    def name(vocab: Any, code: int) -> str | None:
        return None if code < 0 else vocab.names[code]

    def num(x: float) -> float | str:
        return "nan" if math.isnan(x) else float(x)

    out = []
    for i in range(len(batch)):
        out.append((
            int(batch.positions[i]), name(d.models, batch.model[i]),
            name(d.versions, batch.version[i]), num(batch.timestamp[i]),
            num(batch.prediction[i]), name(d.decisions, batch.decision[i]),
            num(batch.latency[i]),
            tuple(num(batch.numeric[k][i]) for k in d.schema.numeric),
            tuple(name(d.categories[k], batch.categorical[k][i]) for k in d.schema.categorical),
            tuple(name(d.segment_values[k], batch.segments[k][i]) for k in d.schema.segments),
            *labels(d, batch, i)))
    return out


def labels(d: Decoder, batch: Batch, i: int) -> tuple[Any, ...]:
    """The labels layer's values of event ``i``: the id's key, the label's text and value."""
    if not d.schema.labels:
        assert not batch.labelled
        return ()
    assert batch.event_key is not None and batch.label is not None
    assert batch.label_value is not None
    value = float(batch.label_value[i])
    code = int(batch.label[i])
    return (int(batch.event_key[i]), None if code < 0 else d.labels.names[code],
            "nan" if math.isnan(value) else value)


def verdicts(schema: Schema, messages: list[bytes], path: Decode,
             ) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]]]:
    d = Decoder(schema)
    batch, dead = path(d, messages)
    return names(d, batch), sorted((x.position, x.reason) for x in dead)


def pydantic_valid(raw: bytes) -> bool | None:
    """The contract model's verdict on a top-level-layout line (None: it does not apply)."""
    try:
        PredictionEvent.model_validate_json(raw)
    except pydantic.ValidationError:
        return False
    return True


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from([FLAT, NESTED]).flatmap(lambda s: st.tuples(
    st.just(s), st.lists(line(s), min_size=1, max_size=25))))
@example((FLAT, [b'{"model_id":"m","timestamp":1e999,"features":{},"prediction":1}']))
def test_every_path_gives_every_line_the_same_verdict_and_values(
        case: tuple[Schema, list[bytes]]) -> None:
    """In one batch and one line at a time, every path agrees on events, reasons and values."""
    schema, messages = case
    results = {name: verdicts(schema, messages, path) for name, path in PATHS.items()}
    reference = results["per-line"]
    for name, got in results.items():
        assert got == reference, name
    alone = [p for n, p in PATHS.items() if n != "per-line"]  # per line, alone is the same
    for i, raw in enumerate(messages):  # alone: a line's verdict does not depend on its batch
        batch_events = [e[1:] for e in reference[0] if e[0] == i]
        for path in alone:
            events, dead = verdicts(schema, [raw], path)
            assert [e[1:] for e in events] == batch_events
            assert [r for _, r in dead] == [r for p, r in reference[1] if p == i]


def projected(raw: bytes, schema: Schema) -> bytes | None:
    """The line as the decoder reads it: only the schema's features and segment keys (the
    decoder does not read the others, documented); None if it is not a JSON object."""
    try:
        obj = orjson.loads(raw)  # the contract's JSON is orjson's (strict RFC 8259)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    # fields outside the contract are not read (the model allows any): deep junk there is
    # orjson's to judge, not the model's own JSON parser's (whose depth limit is lower)
    obj = {k: v for k, v in obj.items() if k in PredictionEvent.model_fields}
    if isinstance(obj.get("features"), dict):
        keep = set(schema.numeric) | set(schema.categorical)
        obj["features"] = {k: v for k, v in obj["features"].items() if k in keep}
    if isinstance(obj.get("segments"), dict):
        obj["segments"] = {k: v for k, v in obj["segments"].items() if k in schema.segments}
    return orjson.dumps(obj)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(line(FLAT))
def test_the_contract_model_accepts_exactly_the_decoders_events(raw: bytes) -> None:
    """On what the decoder reads, PredictionEvent accepts a line iff the decoder does — but for
    the types only the decoder's schema knows (a numeric feature that is a string or a boolean)."""
    events, dead = verdicts(FLAT, [raw], per_line)
    shown = projected(raw, FLAT)
    if shown is None:
        assert not events
        return
    model = pydantic_valid(shown)
    if events:
        assert model, "the decoder accepts an event the contract model refuses"
    elif dead and not (dead[0][1] == "wrong_type" and model):
        assert not model, f"the model accepts a line the decoder rejects as {dead[0][1]}"
