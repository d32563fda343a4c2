"""Label lines: each valid one a store row, each other counted by its reason, never raised."""

from __future__ import annotations

import orjson
import pytest

from driftline.config import LabelFieldNames
from driftline.decode.keys import id_key
from driftline.labels.lines import LabelReader

T = 1_770_962_400


def reader(**fields: str) -> LabelReader:
    return LabelReader(LabelFieldNames(**fields), 946_684_800.0, 1024)


def rows_of(r: LabelReader, lines: list[bytes]) -> list[tuple[object, ...]]:
    """Rows of lines 1, 2, … of a file (partition -1)."""
    return list(r.rows(lines, range(1, len(lines) + 1)))


def test_a_valid_line_is_a_row_of_key_text_value_and_time() -> None:
    """A text label has no value; a number has its value too; ids are canonical text; each
    row says where it was read."""
    r = reader()
    rows = r.rows([b'{"event_id": "e1", "label": "spam", "timestamp": 1770962400}',
                   b'{"event_id": 7, "label": 2.5, "timestamp": "2026-02-13T06:00:00Z"}',
                   b'{"event_id": "e3", "label": true, "timestamp": 1770962400000}'],
                  [40, 41, 43], partition=2)
    assert rows == [(id_key("e1"), "spam", None, T, 2, 40), (id_key("7"), "2.5", 2.5, T, 2, 41),
                    (id_key("e3"), "true", None, T, 2, 43)]


def test_a_row_keeps_the_position_of_its_line_past_blank_and_invalid_ones() -> None:
    """What an incident cites is where each label was read: a skipped line shifts nothing."""
    r = reader()
    rows = rows_of(r, [b"", b"not json", b'{"event_id": "e", "label": 1, "timestamp": 1770962400}'])
    assert [row[4:] for row in rows] == [(-1, 3)]


@pytest.mark.parametrize(("line", "reason"), [
    (b'{"event_id": "e", "label": {"a": 1}, "timestamp": 1770962400}', "wrong_type"),
    (b'{"event_id": ["e"], "label": 1, "timestamp": 1770962400}', "wrong_type"),
    (b'{"event_id": "e", "label": NaN, "timestamp": 1770962400}', "malformed_json"),
    (b'{"event_id": "e", "label": 1e999, "timestamp": 1770962400}', "malformed_json"),
    (b'{"event_id": "e", "label": null, "timestamp": 1770962400}', "missing_field"),
    (b'{"label": 1, "timestamp": 1770962400}', "missing_field"),
    (b'{"event_id": "e", "label": 1, "timestamp": "yesterday"}', "bad_timestamp"),
    (b'{"event_id": "e", "label": 1, "timestamp": 5}', "bad_timestamp"),
    (b'[1, 2]', "not_an_object"),
    (b'{"event_id": "e", "label": 1,', "malformed_json"),
    (b'\xff\xfe', "malformed_json"),
    (b'{"event_id": "e", "label": "' + b"x" * 2000 + b'", "timestamp": 1770962400}', "oversize"),
])
def test_a_hostile_line_is_counted_by_its_reason(line: bytes, reason: str) -> None:
    """Wrong types, NaN, giant lines, garbage: counted, no row, no exception."""
    r = reader()
    assert rows_of(r, [line]) == []
    assert dict(r.invalid) == {reason: 1}


def test_odd_unicode_ids_are_keys_like_any_text() -> None:
    """Ids of emoji, combining marks, escaped surrogate pairs: their own keys, stable."""
    r = reader()
    ids = ["😀", "e\u0301", "é", "\u0000x", "\u202eevil"]
    rows = rows_of(r, [orjson.dumps({"event_id": i, "label": "a", "timestamp": T}) for i in ids]
                   + [b'{"event_id": "\\ud83d\\ude00", "label": "a", "timestamp": 1770962400}'])
    assert [row[0] for row in rows] == [id_key(i) for i in ids] + [id_key("😀")]
    assert len({row[0] for row in rows}) == len(ids)  # é precomposed ≠ e + combining accent


def test_field_names_are_configurable_paths() -> None:
    """labels.fields names where the id, label and time live (dotted paths too)."""
    r = reader(event_id="meta.id", label="y", timestamp="meta.at")
    assert rows_of(r, [b'{"meta": {"id": "e", "at": 1770962400}, "y": 0}']) == [
        (id_key("e"), "0", 0.0, T, -1, 1)]
    assert rows_of(r, [b'{"event_id": "e", "label": 0, "timestamp": 1770962400}']) == []
    assert r.invalid == {"missing_field": 1}


def test_blank_lines_are_skipped_not_counted() -> None:
    """An empty line between labels is neither a row nor a fault."""
    r = reader()
    assert rows_of(r, [b"", b"  "]) == [] and not r.invalid
