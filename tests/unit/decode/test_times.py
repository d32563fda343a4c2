"""Event times alone: Arrow's column read and the per-message parse agree on every batch."""

from __future__ import annotations

import math

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.decode.times import EventTimes
from driftline.timestamps import DEFAULT_FLOOR

T0 = 1_770_962_400.0
PATHS = (("timestamp",), ("meta", "ts"), ("meta", "event.time"))

values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(min_value=T0, max_value=T0 + 1e6).map(lambda t: t * 1000.0),  # ms
    st.sampled_from(["2026-02-13T06:00:00Z", "2026-02-13T06:00:00.250+02:00",
                     "2026-02-30T00:00:00Z", "2026-02-13 06:00:00", "yesterday", "",
                     "1970-01-01T00:00:00Z", "2026-02-13T06:00:00"]),
    st.booleans(), st.none(), st.just({"nested": 1}), st.just([1, 2]))


def message(path: tuple[str, ...], value: object, missing: bool, rest: str) -> bytes:
    obj: dict[str, object] = {"model_id": "m", "prediction": 0.5, "note": rest}
    if not missing:
        inner: object = value
        for key in reversed(path[1:]):
            inner = {key: inner}
        obj[path[0]] = inner
    return orjson.dumps(obj)


#: whole messages a producer or an attacker may send instead of an event
HOSTILE = [b"{not json", b"null", b"[1, 2]", b'"text"', b"", b'{"timestamp": NaN}',
           b'\xef\xbb\xbf{"timestamp": 1770962400}', b'{"timestamp":\n1770962400}',
           b'{"timestamp": 1e999}', b'{"timestamp": "\xff"}', b'{"meta": 5}', b'{"meta": null}']

events = st.tuples(values, st.booleans(), st.text(max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATHS), st.lists(st.one_of(events, st.sampled_from(HOSTILE)),
                                        min_size=1, max_size=12))
def test_column_read_equals_per_message_parse(path: tuple[str, ...], items: list[object]) -> None:
    messages = [i if isinstance(i, bytes) else message(path, *i)  # type: ignore[misc]
                for i in items]
    times = EventTimes(path, DEFAULT_FLOOR, 1 << 20, min_batch=0)
    got = times(messages)
    want = times.per_message(messages)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PATHS), st.lists(events, min_size=1, max_size=12))
def test_clean_batches_take_the_column_read(path: tuple[str, ...],
                                            items: list[tuple[object, bool, str]]) -> None:
    """Events of one timestamp form (all numbers, or all strings) are read as a column."""
    messages = [message(path, v if isinstance(v, int | float) and not isinstance(v, bool)
                        else float(T0), missing, rest) for v, missing, rest in items]
    times = EventTimes(path, DEFAULT_FLOOR, 1 << 20, min_batch=0)
    got = times(messages)
    assert (times.fast_batches, times.slow_batches) == (1, 0)
    np.testing.assert_array_equal(got, times.per_message(messages))


def test_values_by_the_contract_rule() -> None:
    path = ("meta", "ts")
    messages = [message(path, v, False, "") for v in
                (T0, T0 * 1000, "2026-02-13T06:00:00.250+02:00", None, True, "2026-02-30T00:00:00Z",
                 1.0)] + [message(path, T0, True, ""), b"{broken"]
    times = EventTimes(path, DEFAULT_FLOOR, 1 << 20, min_batch=0)
    got = times(messages)
    want = [T0, T0, 1770955200.25, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan]
    np.testing.assert_array_equal(got, np.array(want))
    strings = [message(path, "2026-02-13T06:00:00Z", False, "") for _ in range(3)]
    np.testing.assert_array_equal(times(strings), np.full(3, T0))
    assert times.fast_batches == 1  # the strings batch; the mixed one went message by message



def test_a_small_batch_goes_message_by_message() -> None:
    """Below ``min_batch`` the column read's fixed cost is more than the parse."""
    times = EventTimes(("timestamp",), DEFAULT_FLOOR, 1 << 20, min_batch=4)
    small = [message(("timestamp",), T0 + i, False, "") for i in range(3)]
    np.testing.assert_array_equal(times(small), T0 + np.arange(3.0))
    np.testing.assert_array_equal(times(small + small[:1]), T0 + np.array([0.0, 1, 2, 0]))
    assert (times.slow_batches, times.fast_batches) == (1, 1)
