"""Vocabularies: stable dense codes for strings, capped, with an __other__ bucket for the overflow."""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.decode.vocab import OTHER, Vocabulary


def encode(v: Vocabulary, values: list[str | None]) -> tuple[list[int], list[bool]]:
    codes, over = v.encode(pa.array(values, pa.string()))
    return codes.tolist(), over.tolist()


def test_codes_are_dense_in_order_of_first_appearance_and_stable() -> None:
    """New strings get 0, 1, 2… as they first appear; a known string keeps its code in later batches."""
    v = Vocabulary(10)
    assert encode(v, ["b", "a", "b", "c"]) == ([0, 1, 0, 2], [False] * 4)
    assert encode(v, ["c", "d", "a"]) == ([2, 3, 1], [False] * 3)
    assert v.names == ["b", "a", "c", "d"]


def test_nulls_are_minus_one_and_not_overflow() -> None:
    """A missing value has code −1 and never counts as an overflow."""
    v = Vocabulary(1)
    assert encode(v, [None, "x", None, "y"]) == ([-1, 0, -1, 1], [False, False, False, True])


def test_past_the_cap_new_values_share_other_and_are_flagged() -> None:
    """After ``cap`` distinct values, new ones map to __other__ (flagged); known ones keep their codes."""
    v = Vocabulary(3)
    encode(v, ["a", "b", "c"])
    codes, over = encode(v, ["d", "a", "e", "c", "d"])
    other = v.index[OTHER]
    assert codes == [other, 0, other, 2, other]
    assert over == [True, False, True, False, True]
    assert len(v) == 4 and v.names[:3] == ["a", "b", "c"]


def test_a_literal_other_value_is_not_an_overflow() -> None:
    """An input value spelt __other__ shares the bucket but is not reported as an overflow."""
    v = Vocabulary(5)
    codes, over = encode(v, [OTHER, "a"])
    assert codes[0] == v.index[OTHER] and over == [False, False]


@given(st.lists(st.text(max_size=4), max_size=300), st.integers(1, 20))
@settings(max_examples=200, deadline=None)
def test_the_vocabulary_never_grows_past_cap_plus_one(values: list[str], cap: int) -> None:
    """However many distinct values arrive, there are at most cap names plus __other__."""
    v = Vocabulary(cap)
    for start in range(0, len(values), 37):
        codes, over = encode(v, list(values[start:start + 37]))
        for value, code, o in zip(values[start:start + 37], codes, over, strict=True):
            assert v.names[code] == (OTHER if o else value) or value == OTHER
    assert len(v) <= cap + 1


def test_snapshot_restore_keeps_every_code() -> None:
    """A JSON round trip of the vocabulary gives the same codes, overflow bucket included."""
    v = Vocabulary(2)
    encode(v, ["a", "b", "c"])
    w = Vocabulary.restore(json.loads(json.dumps(v.snapshot())))
    assert encode(w, ["b", "z", "a"]) == encode(v, ["b", "z", "a"])
    assert w.names == v.names and w.cap == 2


def test_non_string_columns_are_read_as_strings() -> None:
    """An Arrow column of another type is cast to strings before encoding."""
    v = Vocabulary(5)
    codes, _ = v.encode(pa.array([3, 4, 3]))
    assert codes.tolist() == [0, 1, 0] and v.names == ["3", "4"]
