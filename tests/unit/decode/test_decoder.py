"""The decoder: every bad input becomes exactly one dead letter with its reason; no good event is lost.

A corpus of hostile and edge-case messages is decoded alone (one line per batch) and
interleaved with good events, on both the Arrow fast path and the per-line slow path, and on
the native decoder: every test here runs once per decoder (``decoder_kind``, conftest.py).
The pydantic ``PredictionEvent`` model is held to the same verdicts, with its
documented differences written down next to the cases they concern.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pydantic
import pytest

from driftline.decode import REASONS, REPORTS, Batch, Decoder, Schema, check_event, infer_schema
from driftline.decode.vocab import MAX_OVERFLOW_NAMES, OTHER
from driftline.events import PredictionEvent

pytestmark = pytest.mark.usefixtures("decoder_kind")
SCHEMA = Schema(numeric=("x",), categorical=("color",), segments=("region",), labels=True)
MODELS = ["m"]
EPOCH = 1_770_962_400.0  # 2026-02-13T06:00:00Z

BASE: dict[str, Any] = {
    "model_id": "m", "model_version": "v1", "timestamp": "2026-02-13T06:00:00Z",
    "features": {"x": 1.5, "color": "red"}, "prediction": 0.5, "decision": "go",
    "segments": {"region": "south"}, "latency_ms": 12.0,
}


def body(**changes: Any) -> bytes:
    """BASE with top-level fields replaced (a value of ``...`` removes the field)."""
    obj = {**BASE, **changes}
    return orjson.dumps({k: v for k, v in obj.items() if v is not ...})


def raw_body(**raw_values: bytes) -> bytes:
    """BASE with some top-level values written verbatim (for what orjson will not emit)."""
    obj = {k: v for k, v in BASE.items() if k not in raw_values}
    text = orjson.dumps(obj)[:-1]
    for k, v in raw_values.items():
        text += b',"' + k.encode() + b'":' + v
    return text + b"}"


GOOD = body()


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    reason: str | None  # None: a valid event
    pydantic: str = ""  # why PredictionEvent judges it otherwise ("" = it agrees)
    documented: bool = False  # the difference is stated in docs/events.md


SCHEMA_KNOWN = "documented: the decoder checks the types of the features its schema knows"
CONFIG = "config: the model list and the size cap are deployment settings, not the contract"
INF = "pydantic's JSON parser reads an out-of-range number as inf, and extra fields are not checked"

CORPUS = [
    # not JSON at all
    Case("malformed", b'{"model_id": "m", "timestamp": ', "malformed_json"),
    Case("truncated", GOOD[:-7], "malformed_json"),
    Case("empty_line", b"", "malformed_json"),
    Case("whitespace_line", b"   ", "malformed_json"),
    Case("two_objects_one_line", GOOD + GOOD, "malformed_json"),
    Case("two_objects_with_space", GOOD + b" " + GOOD, "malformed_json"),
    Case("newline_inside_a_string", GOOD.replace(b'"south"', b'"so\nuth"'), "malformed_json"),
    # JSON, but not an object
    Case("array", b"[1, 2, 3]", "not_an_object"),
    Case("number", b"42", "not_an_object"),
    Case("string", b'"an event"', "not_an_object"),
    Case("true", b"true", "not_an_object"),
    Case("null", b"null", "not_an_object"),
    # required fields
    Case("no_model_id", body(model_id=...), "missing_field"),
    Case("no_timestamp", body(timestamp=...), "missing_field"),
    Case("no_features", body(features=...), "missing_field"),
    Case("no_prediction", body(prediction=...), "missing_field"),
    Case("null_prediction", body(prediction=None), "missing_field"),
    Case("null_model_id", body(model_id=None), "missing_field"),
    Case("empty_object", b"{}", "missing_field"),
    # wrong types
    Case("prediction_as_string", body(prediction="0.5"), "wrong_type"),
    Case("prediction_as_bool", body(prediction=True), "wrong_type"),
    Case("latency_as_string", body(latency_ms="12"), "wrong_type"),
    Case("model_id_object", body(model_id={"name": "m"}), "wrong_type"),
    Case("model_id_number", body(model_id=7), "wrong_type"),
    Case("model_version_number", body(model_version=2), "wrong_type"),
    Case("decision_object", body(decision={"v": 1}), "wrong_type"),
    Case("decision_array", body(decision=["go"]), "wrong_type"),
    Case("features_array", body(features=[1.5, "red"]), "wrong_type"),
    Case("features_string", body(features="x=1.5"), "wrong_type"),
    Case("segments_string", body(segments="south"), "wrong_type"),
    Case("segment_value_object", body(segments={"region": {"n": 3}}), "wrong_type"),
    Case("segment_value_array", body(segments={"region": ["south"]}), "wrong_type"),
    Case("numeric_feature_as_string", body(features={"x": "1.5", "color": "red"}), "wrong_type",
         SCHEMA_KNOWN, documented=True),
    Case("numeric_feature_as_bool", body(features={"x": True, "color": "red"}), "wrong_type",
         SCHEMA_KNOWN, documented=True),
    Case("categorical_feature_as_object", body(features={"x": 1.5, "color": {"r": 1}}),
         "wrong_type"),
    Case("event_id_object", body(event_id={"a": 1}), "wrong_type"),
    Case("label_array", body(label=[1]), "wrong_type"),
    Case("duplicate_keys_last_is_wrong_type", GOOD[:-1] + b',"model_id":5}', "wrong_type"),
    # not finite
    Case("nan_feature", raw_body(features=b'{"x": NaN, "color": "red"}'), "non_finite"),
    Case("infinity_prediction", raw_body(prediction=b"Infinity"), "non_finite"),
    Case("minus_infinity_feature", raw_body(features=b'{"x": -Infinity}'), "non_finite"),
    Case("1e999_feature", raw_body(features=b'{"x": 1e999, "color": "red"}'), "non_finite"),
    Case("1e999_prediction", raw_body(prediction=b"1e999"), "non_finite"),
    Case("1e999_latency", raw_body(latency_ms=b"1e999"), "non_finite"),
    Case("nan_latency", raw_body(latency_ms=b"NaN"), "non_finite"),
    Case("1e999_timestamp", raw_body(timestamp=b"1e999"), "non_finite"),
    Case("nan_timestamp", raw_body(timestamp=b"NaN"), "non_finite"),
    Case("infinity_timestamp", raw_body(timestamp=b"Infinity"), "non_finite"),
    Case("infinity_latency", raw_body(latency_ms=b"Infinity"), "non_finite"),
    # a number past a double's range is not JSON to the contract, even in a field nobody reads
    Case("huge_number_nobody_reads", raw_body(junk=b"1.7976931348623159e308"), "non_finite", INF),
    Case("huge_exponent_nobody_reads", raw_body(junk=b"[2.5E+312]"), "non_finite", INF),
    Case("long_integer_nobody_reads", raw_body(junk=b"9" * 320), "non_finite", INF),
    Case("huge_feature_nobody_reads", raw_body(features=b'{"x": 1, "other": 1e400}'), "non_finite"),
    Case("nan_prediction", raw_body(prediction=b"NaN"), "non_finite"),
    # timestamps
    Case("rfc3339_z", body(timestamp="2026-02-13T06:00:00Z"), None),
    Case("rfc3339_fraction", body(timestamp="2026-02-13T06:00:00.250Z"), None),
    Case("rfc3339_plus_offset", body(timestamp="2026-02-13T07:00:00+01:00"), None),
    Case("rfc3339_minus_offset", body(timestamp="2026-02-13T01:00:00-05:00"), None),
    Case("epoch_seconds", body(timestamp=EPOCH), None),
    Case("epoch_seconds_int", body(timestamp=int(EPOCH)), None),
    Case("epoch_milliseconds", body(timestamp=int(EPOCH * 1000)), None),
    Case("epoch_microseconds", body(timestamp=int(EPOCH * 1_000_000)), None),
    Case("epoch_nanoseconds", body(timestamp=int(EPOCH) * 1_000_000_000), None),
    Case("rfc3339_lowercase", body(timestamp="2026-02-13t06:00:00z"), None),
    Case("rfc3339_space", body(timestamp="2026-02-13 06:00:00+00:00"), None),
    Case("rfc3339_nanoseconds", body(timestamp="2026-02-13T06:00:00.123456789Z"), None),
    Case("epoch_zero", body(timestamp=0), "bad_timestamp"),
    Case("before_the_floor", body(timestamp="1999-12-31T23:59:59Z"), "bad_timestamp"),
    Case("before_1970", body(timestamp="1969-07-20T20:17:00Z"), "bad_timestamp"),
    Case("epoch_past_nanoseconds", body(timestamp=1e21), "bad_timestamp"),
    Case("fraction_of_ten_digits", body(timestamp="2026-02-13T06:00:00.1234567891Z"),
         "bad_timestamp"),
    Case("leap_second", body(timestamp="2026-12-31T23:59:60Z"), "bad_timestamp"),
    Case("hour_24", body(timestamp="2026-02-13T24:00:00Z"), "bad_timestamp"),
    Case("basic_format", body(timestamp="20260213T060000Z"), "bad_timestamp"),
    Case("comma_fraction", body(timestamp="2026-02-13T06:00:00,5Z"), "bad_timestamp"),
    Case("no_offset", body(timestamp="2026-02-13T06:00:00"), "bad_timestamp"),
    Case("date_only", body(timestamp="2026-02-13"), "bad_timestamp"),
    Case("not_a_date", body(timestamp="yesterday"), "bad_timestamp"),
    Case("impossible_date", body(timestamp="2026-02-30T06:00:00Z"), "bad_timestamp"),
    Case("offset_out_of_range", body(timestamp="2026-02-13T06:00:00+25:00"), "bad_timestamp"),
    Case("timestamp_object", body(timestamp={"s": EPOCH}), "bad_timestamp"),
    Case("timestamp_bool", body(timestamp=True), "bad_timestamp"),
    Case("timestamp_negative", body(timestamp=-5), "bad_timestamp"),
    Case("timestamp_numeric_string", body(timestamp=str(int(EPOCH))), "bad_timestamp"),
    # RFC 3339's DIGIT is ASCII 0-9: other Unicode digits (which int() would read) are not one
    Case("arabic_indic_year", body(timestamp="\u0662\u0660\u0662\u0666-02-13T06:00:00Z"),
         "bad_timestamp"),
    Case("fullwidth_fraction", body(timestamp="2026-02-13T06:00:00.\uff11Z"), "bad_timestamp"),
    # models, size, layout
    Case("unknown_model", body(model_id="other"), "unknown_model", CONFIG, documented=True),
    Case("duplicate_keys_last_wins", GOOD[:-1] + b',"model_id":"other"}', "unknown_model", CONFIG,
         documented=True),
    Case("oversize", body(features={"x": 1.5, "color": "red", "blob": "a" * 70_000}), "oversize",
         CONFIG, documented=True),
    Case("newline_between_tokens", GOOD.replace(b',"timestamp"', b',\n"timestamp"'), None),
    Case("only_required_fields", body(model_version=..., decision=..., segments=...,
                                      latency_ms=...), None),
    Case("empty_features", body(features={}), None),
    Case("integer_prediction", body(prediction=1), None),
    Case("null_optional_fields", body(model_version=None, decision=None, latency_ms=None), None),
    Case("unknown_top_level_field", body(trace_id="abc"), None),
    # what the decoder ignores, PredictionEvent checks
    Case("unknown_feature_object", body(features={"x": 1.5, "color": "red", "extra": {"a": 1}}),
         None, "documented: features outside the schema are ignored", documented=True),
    Case("null_segment_value", body(segments={"region": None}), None),
    # scalars where a category goes: their canonical text
    Case("decision_number", body(decision=1), None),
    Case("decision_bool", body(decision=True), None),
    Case("segment_value_number", body(segments={"region": 3}), None),
    Case("segment_value_bool", body(segments={"region": False}), None),
    Case("categorical_feature_as_number", body(features={"x": 1.5, "color": 3}), None),
    Case("categorical_feature_as_float", body(features={"x": 1.5, "color": 2.0}), None),
    Case("categorical_feature_as_bool", body(features={"x": 1.5, "color": True}), None),
    Case("event_id_number", body(event_id=12345), None),
    Case("label_string", body(label="fraud"), None),
    Case("label_number", body(label=0.75), None),
]
BAD = [c for c in CORPUS if c.reason is not None]
VALID = [c for c in CORPUS if c.reason is None]
NEEDLE = BASE["segments"]["region"]


def decoder(**kw: Any) -> Decoder:
    return Decoder(SCHEMA, models=MODELS, **kw)


def decode(messages: list[bytes], first_position: int = 100, partition: int = 3,
           ) -> tuple[Batch, list[Any], Decoder]:
    d = decoder()
    pos = np.arange(first_position, first_position + len(messages))
    batch, dead = d.decode(messages, pos, np.full(len(messages), partition))
    return batch, dead, d


def goods(n: int, start: float = EPOCH) -> list[bytes]:
    """Distinct valid events (numbers, categories, segments vary)."""
    colors, regions = ("red", "green", "blue"), ("north", "south", "east")
    return [body(timestamp=start + i, prediction=i / n, latency_ms=float(i % 7),
                 features={"x": i * 0.25, "color": colors[i % 3]},
                 segments={"region": regions[i % 3]}, decision=("go", "wait")[i % 2])
            for i in range(n)]


def rows(batch: Batch, d: Decoder) -> list[tuple[Any, ...]]:
    """Decoded events as comparable tuples: values, and names in place of vocabulary codes."""
    def name(vocab: Any, code: int) -> str | None:
        return None if code < 0 else vocab.names[code]
    return [(float(batch.timestamp[i]), float(batch.prediction[i]), float(batch.latency[i]),
             float(batch.numeric["x"][i]), name(d.categories["color"], batch.categorical["color"][i]),
             name(d.segment_values["region"], batch.segments["region"][i]),
             name(d.models, batch.model[i]), name(d.versions, batch.version[i]),
             name(d.decisions, batch.decision[i]), int(batch.positions[i]), int(batch.partitions[i]))
            for i in range(len(batch))]


# -- one bad message, alone and among good ones -------------------------------------------
@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_a_bad_message_alone_is_one_dead_letter_with_its_reason(case: Case) -> None:
    """A batch of one bad message yields no event and one dead letter: its reason, bytes, position."""
    batch, dead, _ = decode([case.raw], first_position=41, partition=2)
    assert len(batch) == 0
    assert [(d.reason, d.raw, d.position, d.partition) for d in dead] == \
        [(case.reason, case.raw, 41, 2)]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_a_bad_message_among_good_ones_costs_only_itself(case: Case) -> None:
    """Between good events, a bad message is dead-lettered at its position and both neighbours kept."""
    before, after = goods(2)
    batch, dead, _ = decode([before, case.raw, after], first_position=100)
    assert [(d.reason, d.raw, d.position) for d in dead] == [(case.reason, case.raw, 101)]
    assert batch.positions.tolist() == [100, 102]
    assert batch.rows.tolist() == [0, 2]


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.name)
def test_a_valid_variant_is_kept_on_both_paths(case: Case) -> None:
    """An unusual but valid event is kept alone (fast path) and beside a bad line (slow path)."""
    alone, dead_alone, _ = decode([case.raw])
    mixed, dead_mixed, _ = decode([case.raw, b"{"])
    assert (len(alone), dead_alone) == (1, [])
    assert len(mixed) == 1 and [d.reason for d in dead_mixed] == ["malformed_json"]


def test_the_whole_corpus_in_one_batch_loses_nothing() -> None:
    """Every message of a mixed batch is either kept or dead-lettered once, in order of position."""
    good = goods(20)
    messages = [m for pair in zip(good, [c.raw for c in CORPUS], strict=False) for m in pair]
    messages += good[len(CORPUS):] + [c.raw for c in CORPUS[len(good):]]
    batch, dead, _ = decode(messages, first_position=0)
    expected_dead = {messages.index(c.raw): c.reason for c in BAD}
    assert {d.position: d.reason for d in dead} == expected_dead
    assert len(dead) == len(BAD)
    assert sorted(batch.positions.tolist() + [d.position for d in dead]) == list(range(len(messages)))
    for d in dead:
        assert d.raw == messages[d.position]


def test_reasons_are_the_documented_set() -> None:
    """Every reason the corpus produces is one of the documented dead-letter reasons."""
    assert {c.reason for c in BAD} <= set(REASONS)
    assert {c.reason for c in BAD} >= set(REASONS) - {"late", "model_overflow", *REPORTS}


# -- timestamps ---------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "seconds"), [
    ("2026-02-13T06:00:00Z", EPOCH),
    ("2026-02-13T06:00:00.250Z", EPOCH + 0.25),
    ("2026-02-13T07:00:00+01:00", EPOCH),
    ("2026-02-13T01:00:00-05:00", EPOCH),
    (EPOCH, EPOCH),
    (EPOCH + 0.5, EPOCH + 0.5),
    (int(EPOCH * 1000), EPOCH),
    (int(EPOCH * 1000) + 250, EPOCH + 0.25),
])
def test_timestamps_become_epoch_seconds_on_both_paths(value: Any, seconds: float) -> None:
    """RFC 3339 with Z or an offset, epoch seconds and epoch milliseconds all read as epoch seconds."""
    alone, _, _ = decode([body(timestamp=value)])
    mixed, _, _ = decode([body(timestamp=value), b"not json"])
    assert alone.timestamp.tolist() == [seconds]
    assert mixed.timestamp.tolist() == [seconds]


def test_a_batch_mixing_timestamp_forms_keeps_every_event() -> None:
    """String and numeric timestamps in one batch are all read, whichever form comes first."""
    forms = [EPOCH, "2026-02-13T06:00:01Z", int((EPOCH + 2) * 1000), "2026-02-13T07:00:03+01:00"]
    for ordered in (forms, forms[::-1]):
        batch, dead, _ = decode([body(timestamp=t) for t in ordered])
        assert dead == []
        assert sorted(batch.timestamp.tolist()) == [EPOCH, EPOCH + 1, EPOCH + 2, EPOCH + 3]


# -- fast path and slow path agree ----------------------------------------------------------
def test_fast_and_slow_paths_give_identical_columns() -> None:
    """The good events of a batch decode to the same columns alone or with bad lines between them."""
    good = goods(150)
    positions = list(range(1000, 1150))
    clean_batch, clean_dead, clean_d = decode(good, first_position=1000)
    assert clean_dead == []
    bad = [c.raw for c in BAD]
    mixed, mixed_pos = [], []
    for i, (m, p) in enumerate(zip(good, positions, strict=True)):
        mixed.append(m)
        mixed_pos.append(p)
        if i < len(bad):
            mixed.append(bad[i])
            mixed_pos.append(5000 + i)
    d = decoder()
    mixed_batch, mixed_dead = d.decode(mixed, np.array(mixed_pos), np.full(len(mixed), 3))
    assert len(mixed_dead) == len(bad)
    assert rows(mixed_batch, d) == rows(clean_batch, clean_d)
    assert [mixed[r] for r in mixed_batch.rows] == good


def test_a_clean_batch_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch, decoder_kind: str) -> None:
    """A clean batch is read in one go — by the native reader, else by Arrow: the per-line
    slow path is not entered, and no line is classified one by one."""
    def fail(*_: Any) -> Any:
        raise AssertionError("slow path used for a clean batch")
    d = decoder()
    monkeypatch.setattr(d, "_per_line", fail)
    monkeypatch.setattr(d, "classify", fail)
    if d.native is not None:
        d.native.classify = fail
    batch, dead = d.decode(goods(50))
    assert (len(batch), dead) == (50, [])
    native = d.native.batches if d.native is not None else 0
    assert (native, d.fast_batches, d.slow_batches) == ((1, 0, 0) if decoder_kind == "native"
                                                        else (0, 1, 0))


def test_the_decoder_enforces_check_event() -> None:
    """Each corpus message is valid for the decoder exactly when ``check_event`` accepts its object."""
    for c in CORPUS:
        try:
            obj = orjson.loads(c.raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or c.reason in ("oversize", "unknown_model", "non_finite"):
            continue
        verdict = check_event(obj, SCHEMA)
        assert (verdict[0] if verdict else None) == c.reason, c.name


MULTI_FAULT = [
    (b"{}", "missing_field"),
    (body(timestamp=..., prediction=...), "missing_field"),
    (body(timestamp="soon", features=...), "missing_field"),
    (body(timestamp="soon", model_id="other"), "bad_timestamp"),
    (body(timestamp="soon", segments={"region": "south", "tier": 3}), "bad_timestamp"),
]


@pytest.mark.parametrize(("raw", "reason"), MULTI_FAULT)
def test_a_message_with_several_faults_is_one_dead_letter_under_its_first(raw: bytes,
                                                                          reason: str) -> None:
    """Several faults in one message make one dead letter, with check_event's first reason, on both paths."""
    for messages in ([raw], [raw, b"{"]):
        _, dead, _ = decode(messages)
        assert [d.reason for d in dead if d.raw == raw] == [reason]


@pytest.mark.parametrize("schema", [Schema((), (), ()), Schema(("x",), (), ())],
                         ids=["no_features_no_segments", "no_segments"])
@pytest.mark.parametrize("raw", [
    body(features=...), body(features=[1]), body(segments="south"),
    body(segments={"tier": 3}), body(segments={"region": "south"}),
], ids=["no_features", "features_array", "segments_string", "unread_segment_number", "valid"])
def test_both_paths_judge_alike_whatever_the_schema_reads(schema: Schema, raw: bytes) -> None:
    """Fields the schema does not read are judged the same by the fast path and the slow path."""
    fast = Decoder(schema).decode([raw])
    slow = Decoder(schema).decode([raw, b"{"])
    assert len(fast[0]) == len(slow[0])
    assert [d.reason for d in fast[1]] == [d.reason for d in slow[1] if d.raw == raw]


# -- the pydantic model agrees ---------------------------------------------------------------
def _pydantic_valid(raw: bytes) -> bool:
    try:
        PredictionEvent.model_validate_json(raw)
    except pydantic.ValidationError:
        return False
    return True


def _agreement_cases() -> list[Any]:
    out = []
    for c in CORPUS:
        marks = ()
        if c.pydantic and not c.documented:
            marks = (pytest.mark.xfail(strict=True, reason=c.pydantic),)
        out.append(pytest.param(c, id=c.name, marks=marks))
    return out


@pytest.mark.parametrize("case", _agreement_cases())
def test_decoder_and_pydantic_model_agree(case: Case) -> None:
    """A message is valid for the hot-path decoder iff it is valid for ``PredictionEvent``."""
    _, dead, _ = decode([case.raw, b"{"])
    decoder_valid = len(dead) == 1
    if case.documented:  # the decoder holds deployment facts and a stricter timestamp rule
        assert decoder_valid != _pydantic_valid(case.raw), case.pydantic
    else:
        assert decoder_valid == _pydantic_valid(case.raw)


# -- hostile input the fast path must not hand to Arrow ---------------------------------------
def test_a_null_document_first_in_a_batch_does_not_crash_the_process() -> None:
    """A batch starting with the JSON document ``null`` is dead-lettered, not a crash of the reader."""
    code = ("from driftline.decode import Decoder, Schema\n"
            "d = Decoder(Schema(('x',), (), ()))\n"
            "b, dead = d.decode([b'null', b' null', b'{}', b'nullx'])\n"
            "print(len(b), [x.reason for x in dead])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"decoder process died: {done.returncode} {done.stderr[-500:]}"
    assert done.stdout.split("\n")[0] == \
        "0 ['not_an_object', 'not_an_object', 'missing_field', 'malformed_json']"


@pytest.mark.parametrize("field", ["model_id", "model_version", "decision", "color", "region",
                                   "event_id"])
def test_invalid_utf8_is_malformed_json_wherever_it_is(field: str) -> None:
    """A message with invalid UTF-8 in any string is dead-lettered as malformed_json, others kept."""
    target = {"model_id": b'"m"', "model_version": b'"v1"', "decision": b'"go"',
              "color": b'"red"', "region": b'"south"', "event_id": b'"e-1"'}[field]
    raw = body(event_id="e-1").replace(target, target[:-1] + b'\xff"', 1)
    assert raw != body(event_id="e-1")
    for messages, at in (([raw], 0), ([*goods(2), raw], 2), ([raw, *goods(2)], 0)):
        batch, dead, _ = decode(messages, first_position=0)
        assert [(d.reason, d.position, d.raw) for d in dead] == [("malformed_json", at, raw)]
        assert len(batch) == len(messages) - 1


def test_a_byte_order_mark_is_judged_the_same_wherever_it_sits() -> None:
    """A message starting with a UTF-8 BOM gets the same verdict first in a batch and second."""
    raw, other = b"\xef\xbb\xbf" + GOOD, body(prediction=0.25)
    first, _, _ = decode([raw, other])
    second, _, _ = decode([other, raw])
    assert len(first) == len(second)


# -- cardinality flood --------------------------------------------------------------------------
def test_a_segment_value_flood_is_capped_counted_as_other_and_reported() -> None:
    """10,000 distinct segment values under a cap of 200: ≤ 201 codes, the rest kept as __other__."""
    d = Decoder(SCHEMA, models=MODELS, segment_cardinality=200)
    messages = [body(timestamp=EPOCH + i, segments={"region": f"r{i:05d}"}) for i in range(10_000)]
    kept, overflow = 0, []
    other_rows = 0
    for start in range(0, len(messages), 1000):
        chunk = messages[start:start + 1000]
        batch, dead = d.decode(chunk, np.arange(start, start + len(chunk)))
        kept += len(batch)
        overflow += dead
        other = d.segment_values["region"].index.get(OTHER)
        other_rows += int((batch.segments["region"] == other).sum()) if other is not None else 0
    vocab = d.segment_values["region"]
    assert len(vocab) <= 201
    assert vocab.names[:200] == [f"r{i:05d}" for i in range(200)]
    assert kept == 10_000
    assert other_rows == 9_800
    assert {x.reason for x in overflow} == {"cardinality_overflow"}
    # each overflowing name is reported once, the first MAX_OVERFLOW_NAMES of them; all counted
    assert sorted(x.position for x in overflow) == list(range(200, 200 + MAX_OVERFLOW_NAMES))
    assert all(x.raw == messages[x.position] for x in overflow)
    assert d.overflowed_events == 9_800


def test_a_repeated_overflowing_value_is_reported_once() -> None:
    """Values past the cap that recur are one dead letter per distinct value, every event counted."""
    d = Decoder(SCHEMA, models=MODELS, segment_cardinality=2)
    messages = [body(timestamp=EPOCH + i, segments={"region": f"r{i % 12}"}) for i in range(600)]
    dead = []
    for start in range(0, 600, 100):
        dead += d.decode(messages[start:start + 100], np.arange(start, start + 100))[1]
    assert sorted(x.position for x in dead) == list(range(2, 12))
    assert d.overflowed_events == 600 - 2 * 50


def test_models_beyond_the_cap_are_dead_letters_never_merged() -> None:
    """Events of a model past limits.models are model_overflow dead letters, each one."""
    d = Decoder(SCHEMA, model_cardinality=2)
    messages = [body(model_id=f"m{i % 4}", timestamp=EPOCH + i) for i in range(40)]
    batch, dead = d.decode(messages)
    assert sorted(d.models.names[c] for c in set(batch.model.tolist())) == ["m0", "m1"]
    assert {x.reason for x in dead} == {"model_overflow"} and len(dead) == 20
    assert OTHER not in d.models.names[:2]


# -- schema inference ---------------------------------------------------------------------------
def test_infer_schema_reads_numbers_as_numeric_strings_as_categorical_and_all_segment_keys() -> None:
    """Zero-config: numbers are numeric; strings, booleans and mixtures categorical."""
    msgs = [body(features={"a": 1, "b": "x", "c": 1.5, "mixed": 1, "flag": True},
                 segments={"region": "n"}),
            body(features={"a": 2.5, "b": "y", "mixed": "one"}, segments={"tier": "gold"}),
            b"not json", body(model_id=...)]
    s = infer_schema(msgs)
    assert (s.numeric, s.categorical, s.segments) == (
        ("a", "c"), ("b", "mixed", "flag"), ("region", "tier"))
