"""Writes the decoder's edge-case corpus (``json.jsonl``, ``contract.jsonl``): one message a line.

Run from the repository root: ``python tests/unit/decode/corpus/generate.py``. The files are
checked in (``test_corpus.py`` reads them); this script only says where each line came from.
``json.jsonl``: JSON as orjson reads it — numbers, strings, escapes, UTF-8, keys, duplicates,
whitespace, structure, depth. ``contract.jsonl``: the contract's fields — timestamps, types,
canonical text. A line may be invalid UTF-8; none holds a raw newline (those are in the test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

BASE: dict[str, Any] = {"model_id": "m", "timestamp": "2026-02-13T06:00:00Z",
                        "features": {"x": 1.5, "y": 2, "color": "red", "flag": True},
                        "prediction": 0.5}


def ev(**kw: Any) -> bytes:
    """BASE with top-level fields replaced (``...`` removes one)."""
    o = {**BASE, **kw}
    return orjson.dumps({k: v for k, v in o.items() if v is not ...})


def raw(field: str, text: bytes) -> bytes:
    """BASE with one top-level value written verbatim."""
    o = {k: v for k, v in BASE.items() if k != field}
    return orjson.dumps(o)[:-1] + b',"' + field.encode() + b'":' + text + b"}"


def feat(name: str, text: bytes) -> bytes:
    """An event whose only feature is written verbatim."""
    return (b'{"model_id":"m","timestamp":1770962400,"prediction":1,"features":{"'
            + name.encode() + b'":' + text + b"}}")


NUMBERS = [
    b"0", b"-0", b"0.0", b"-0.0", b"1E5", b"1e+2", b"1e-2", b"0e0", b"1e-400",
    b"0e99999999999999999999", b"18446744073709551615", b"18446744073709551616",
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"-18446744073709551616", b"1.7976931348623157e308",
    b"1.7976931348623158e308", b"1.7976931348623159e308", b"1e308", b"1e309",
    b"2.4703282292062327e-324", b"2.4703282292062328e-324", b"4.9406564584124654e-324",
    b"2.2250738585072011e-308", b"123456789012345678901234567890", b"1" + b"0" * 308,
    b"1" + b"0" * 309, b"0." + b"0" * 30 + b"1", b"1." + b"0" * 400, b"9007199254740993",
    b"9007199254740993.0", b"0.1", b"0.30000000000000004", b"1e16", b"9999999999999998", b"1e-5",
    b"0.0001", b"0.00001", b"1e22", b"1e23", b"4.35", b"100", b"100.0",
    b"1.00000000000000011102230246251565404236316680908203125",
    b"01", b"-01", b"1.", b".5", b"-", b"+1", b"1e", b"1e+", b"--1", b"1.5.5", b"0x10", b"1_000",
    b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"infinity", b"nan",
]
STRINGS = [
    b'""', b'"\\u006d"', b'"m\\n"', b'"\\ud83d\\ude00"', b'"\\uD83D\\uDE00"', b'"\\ud800"',
    b'"\\udc00"', b'"\\ud800\\u0041"', b'"\\ud800\\ud800"', b'"\\ud83d"', b'"\\u00"', b'"\\x41"',
    b'"\\/"', b'"\\b\\f\\r\\t"', b'"\\u0000"', b'"a\x00b"', b'"a\x1fb"', b'"a\x7fb"', b'"a\tb"',
    b'"\xc3\xbc"', b'"\xff"', b'"\xc3"', b'"\xed\xa0\x80"', b'"\xc0\xae"', b'"\xf4\x90\x80\x80"',
    b'"\xf0\x9f\x98\x80"', b'"\xe2\x82"', b'"unterminated', b'"\\"quoted\\""', b'"back\\\\slash"',
    b"'single'",
]
SPACES = [b" ", b"\t", b"\r", b"\x0c", b"\x0b", b"\xc2\xa0", b"\x00"]


def json_lines() -> list[bytes]:
    out: list[bytes] = []
    for n in NUMBERS:
        out += [feat("x", n), feat("color", n), feat("unread", n), raw("prediction", n),
                raw("timestamp", n), raw("decision", n), raw("junk", n)]
    for s in STRINGS:
        out += [raw("model_id", s), feat("color", s), raw("decision", s), raw("junk", s)]
    head = b'{"model_id":"m","timestamp":1770962400,"features":'
    out += [  # keys: escaped, empty, not strings
        b'{"\\u006dodel_id":"m","timestamp":1770962400,"features":{},"prediction":1}',
        b'{"model_id":"m","\\u0074imestamp":1770962400,"features":{"\\u0078":3},"prediction":1}',
        head + b'{},"prediction":1,"\\ud800":1}', head + b'{},"prediction":1,"":1}',
        head + b'{"":1},"prediction":1}', head + b'{},"prediction":1,1:2}', b'{model_id:"m"}']
    good = ev()[:-1]
    out += [  # duplicates: the last wins, a whole object too
        good + b',"model_id":"m2"}', good + b',"model_id":5}', good + b',"features":{"x":"s"}}',
        good + b',"features":{}}', good + b',"features":null}', good + b',"prediction":true}',
        b'{"model_id":"m","timestamp":1,"timestamp":1770962400,"features":{"x":1,"x":"s","x":2},'
        b'"prediction":1}',
        head + b'{"x":1},"prediction":1,"segments":{"region":"a"},"segments":null}',
        head + b'{"x":1},"prediction":1,"segments":{"region":[1]},"segments":{"tier":1}}']
    for w in SPACES:  # whitespace JSON allows (space, tab, CR) and does not
        out += [w + ev(), ev() + w, ev().replace(b",", b"," + w), ev().replace(b":", w + b":")]
    out += [b"", b" ", b"{", b"}", b"{}", b"[]", b"null", b"true", b"false", b"42", b'"s"', b"{}{}",
            ev() + ev(), ev() + b" " + ev(), b"\xef\xbb\xbf" + ev(), good + b",}",
            good + b',"a":[1,]}', good + b',"a":tru}', good + b',"a":True}', good + b',"a":nulll}',
            good + b',"a":[}', good + b',"a":{"b"}}', good + b',"a" 1}', good + b',"a"::1}',
            good + b',,"a":1}', ev().replace(b"{", b"{ ", 1)]
    for d in (1022, 1023, 1024, 1025):  # the top-level object is the first of 1024 levels
        out.append(good + b',"junk":' + b"[" * d + b"]" * d + b"}")
        out.append(good + b',"junk":' + b'{"k":' * d + b"1" + b"}" * d + b"}")
    return out


TIMESTAMPS: list[Any] = [
    "2026-02-13T06:00:00Z", "2026-02-13t06:00:00.5z", "2026-02-13 06:00:00+01:00",
    "2026-02-13T06:00:00.123456789-05:30", "2026-02-13T06:00:00.1234567891Z", "2026-02-13T06:00:00",
    "2026-02-30T00:00:00Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "1999-12-31T23:59:59Z",
    "2000-01-01T00:00:00Z", "2026-02-13T06:00:60Z", "2026-02-13T24:00:00Z",
    "2026-02-13T06:00:00+24:00", "2026-02-13T06:00:00+23:59", "2026-02-13T06:00:00+01:60",
    "2026-02-13T06:00:00.Z", "2026-02-13T06:00:00,5Z", "\u0662\u0660\u0662\u0666-02-13T06:00:00Z",
    "2026-02-13T06:00:00.\uff11Z", "9999-12-31T23:59:59.999999Z", "0000-01-01T00:00:00Z",
    "2026-02-13T06:00:00Z ", " 2026-02-13T06:00:00Z", "2026-02-13T06:00:00Zz",
    "2026-02-13T06:00:00+0100", "2026-2-13T06:00:00Z", "", "0", "1770962400",
    1770962400, 1770962400.5, 1770962400123, 1770962400123456, 1770962400123456789, 99999999999,
    1e11, 1e14 - 1, 1e14, 1e17, 1e20 - 1e4, 1e20, 946684800, 946684799.999, 0, -1, True, False,
    None, [], {}]
FIELDS: dict[str, list[Any]] = {
    "model_id": ["", "Ü", 5, 5.5, True, None, [], {}, ...],
    "prediction": [0, -0.0, 1e308, True, "0.5", None, [], ...],
    "features": [{}, None, [], "x", 1, ...],
    "model_version": ["v1", "", 2, None, True, []],
    "decision": ["go", "", 1, 1.0, -0.0, 1e16, 1e-5, 2.5, True, False, None, [], {}],
    "latency_ms": [1, 1.5, -0.0, None, "1", True, []],
    "segments": [{"region": "s", "tier": 3}, {"region": 1.0, "tier": False}, {"region": None},
                 {"tier": {}}, {"other": []}, None, [], "s", 1],
    "event_id": ["e1", 1, 1.5, True, None, [], {}],
    "label": ["fraud", 0, 0.75, True, None, [1], {}],
    "extra": [[1, {"a": [None]}], {"deep": {"er": 1}}, "\u00fc"],
}


def contract_lines() -> list[bytes]:
    out = [ev(timestamp=ts) for ts in TIMESTAMPS]
    out += [ev(**{name: v}) for name, values in FIELDS.items() for v in values]
    for v in ["red", "", 3, 3.0, -0.0, 1e16, 1e-5, 100.0, 0.1 + 0.2, 18446744073709551615, True,
              None, [], {}]:
        out.append(ev(features={"x": 1, "color": v, "flag": v}))
    out += [ev(features={"x": v, "y": v}) for v in [1, 1.5, -0.0, 1e308, None, "1", True, [], {}]]
    out += [ev(features={"x": 1, "unread": {"deep": [1]}, "other": "NaN"}), ev(features={"x.y": 1})]
    return out


def main() -> None:
    here = Path(__file__).parent
    for name, lines in (("json", json_lines()), ("contract", contract_lines())):
        assert all(b"\n" not in line for line in lines), name
        (here / f"{name}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        print(name, len(lines))


if __name__ == "__main__":
    main()
