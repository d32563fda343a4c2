"""RFC 3339 by column: Arrow's RE2 and numpy's calendar against ``parse_rfc3339``, per value."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.timestamps import parse_rfc3339, parse_rfc3339_column

rfc3339_like = st.one_of(
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
                  r"(\.[0-9]{1,10})?([Zz]|[+-][0-9]{2}:[0-9]{2})?\Z"),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda t: t.isoformat() + "Z"),
    st.text(max_size=40))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(rfc3339_like, st.none()), max_size=20))
def test_the_column_parse_equals_the_per_value_parse(texts: list[str | None]) -> None:
    """Arrow's RE2 and numpy's calendar give ``parse_rfc3339``'s bits, or its None."""
    col = pa.array(texts, pa.string())
    got = parse_rfc3339_column(col, min_column=0)
    np.testing.assert_array_equal(parse_rfc3339_column(col), got)  # by value: the same
    want = [math.nan if t is None or (v := parse_rfc3339(t)) is None else v for t in texts]
    np.testing.assert_array_equal(got, np.array(want, np.float64))


def test_the_column_parse_on_the_calendar_edges() -> None:
    texts = ["2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
             "2000-02-29T23:59:59.9999999-23:59", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
             "9999-12-31T23:59:59+00:00", "2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z",
             "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z",
             "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+00:60", "2026-01-01T00:00:00Z\n",
             "２026-01-01T00:00:00Z", "2026-01-01t00:00:00.5z"]
    got = parse_rfc3339_column(pa.array(texts), min_column=0)
    want = [math.nan if (v := parse_rfc3339(t)) is None else v for t in texts]
    np.testing.assert_array_equal(got, np.array(want))
    assert np.isnan(got).sum() == 12  # the 12 that are not real times, or not RFC 3339
