"""The event-time rule, shared by the contract model and every decoder path.

A timestamp is one of:

- an RFC 3339 string ``YYYY-MM-DD(T|t| )hh:mm:ss[.fraction](Z|z|±hh:mm)`` — the offset is
  required (a time without one is ambiguous); the fraction is truncated to microseconds;
- an epoch number, its unit read from its magnitude: below 1e11 seconds, below 1e14
  milliseconds, below 1e17 microseconds, below 1e20 nanoseconds. With the floor at the year
  2000 the ranges cannot be confused (2000-01-01 is 9.5e8 s, 9.5e11 ms, 9.5e14 µs, 9.5e17 ns).

Either gives epoch seconds as a float, computed the same way on every path (an exact integer
of microseconds divided once by 1e6, or the epoch number divided once by its unit), so every
decoder produces the same bits. A time before ``floor`` (default 2000-01-01T00:00:00Z,
``input.timestamp_floor``) is not believable and is rejected like an unreadable one: a
``1970`` default or a ``0`` in a timestamp field is a bug upstream, not an event.

>>> parse_timestamp("2026-02-13T08:15:02.1209999Z"), parse_timestamp(1770970502120)
(1770970502.120999, 1770970502.12)
>>> parse_timestamp("2026-02-13T08:15:02"), parse_timestamp(0), parse_timestamp(True)
(None, None, None)
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_FLOOR = 946_684_800.0  # 2000-01-01T00:00:00Z
#: epoch magnitude bounds and their unit divisors: seconds, ms, µs, ns
UNITS = ((1e11, 1.0), (1e14, 1e3), (1e17, 1e6), (1e20, 1e9))
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z", re.ASCII)  # RFC 3339's DIGIT is 0-9, not any Nd
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: ``RFC3339`` for Arrow's RE2, with names for its groups (``$`` is the end of the text there)
_RFC3339_RE2 = (r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt ](?P<h>[0-9]{2}):"
                r"(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?"
                r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))$")
#: the shortest column parsed as a column (measured: the value loop wins below ~300)
COLUMN_MIN = 256
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def parse_rfc3339(text: str) -> float | None:
    """Epoch seconds of a strict RFC 3339 string; None if it is not one (or not a real date)."""
    m = RFC3339.match(text)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    if h > 23 or mi > 59 or s > 59:
        return None
    try:
        days = date(y, mo, d).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    offset = 0
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        offset = (oh * 60 + om) * 60 * (1 if m.group(9) == "+" else -1)
    micros = int((m.group(7) or "").ljust(6, "0")[:6])
    total_us = ((days * 86400 + h * 3600 + mi * 60 + s) - offset) * 1_000_000 + micros
    return total_us / 1e6


def parse_rfc3339_column(col: pa.Array, min_column: int = COLUMN_MIN) -> np.ndarray:
    """``parse_rfc3339`` of every string of ``col`` at once (NaN: None), to the same bits.

    The match and the fields are Arrow's (RE2, in C++), the calendar numpy's: a proleptic
    Gregorian day count, the month's length checked as ``date`` checks it. Its cost is about
    1.4 ms a call whatever the length (Arrow's calls, the regex compiled each time), so a
    column shorter than ``min_column`` is parsed value by value.
    """
    n = len(col)
    out = np.full(n, np.nan)
    if n < max(min_column, 1):
        for i, v in enumerate(col.to_pylist()):
            t = None if v is None else parse_rfc3339(v)
            if t is not None:
                out[i] = t
        return out
    parts = pc.extract_regex(col, _RFC3339_RE2)
    ok = ~np.asarray(parts.is_null().to_numpy(zero_copy_only=False), bool)
    if not ok.any():
        return out
    parts = parts.filter(pa.array(ok))

    def num(name: str, width: int = 0) -> np.ndarray:
        f = parts.field(name)
        if width:  # the fraction: cut to microseconds, then padded right
            f = pc.utf8_rpad(pc.utf8_slice_codeunits(f, 0, width), width, "0")
        f = pc.if_else(pc.equal(f, ""), "0", f)
        return np.asarray(pc.cast(f, pa.int64()).to_numpy(zero_copy_only=False), np.int64)

    y, mo, d, h, mi, s = (num(k) for k in ("y", "mo", "d", "h", "mi", "s"))
    oh, om, micros = num("oh"), num("om"), num("f", 6)
    sign = np.where(np.asarray(pc.equal(parts.field("sign"), "-").to_numpy(
        zero_copy_only=False), bool), -1, 1)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    month_ok = (mo >= 1) & (mo <= 12)
    days_in = _MONTH_DAYS[np.where(month_ok, mo, 0)] + (month_ok & (mo == 2) & leap)
    valid = (y >= 1) & month_ok & (d >= 1) & (d <= days_in) & (h <= 23) & (mi <= 59) & \
        (s <= 59) & (oh <= 23) & (om <= 59)
    yy = y - (mo <= 2)  # days from civil (H. Hinnant), year starting in March
    era = np.floor_divide(yy, 400)
    yoe = yy - era * 400
    doy = (153 * (mo + np.where(mo > 2, -3, 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    offset = (oh * 60 + om) * 60 * sign
    total_us = ((days * 86400 + h * 3600 + mi * 60 + s) - offset) * 1_000_000 + micros
    out[np.flatnonzero(ok)] = np.where(valid, total_us.astype(np.float64) / 1e6, np.nan)
    return out


def parse_epoch(x: float) -> float | None:
    """Epoch seconds of an epoch number in s/ms/µs/ns by magnitude; None if out of range."""
    if not math.isfinite(x) or x < 0:
        return None
    for bound, unit in UNITS:
        if x < bound:
            return x / unit if unit != 1.0 else x
    return None


def parse_timestamp(v: Any, floor: float = DEFAULT_FLOOR) -> float | None:
    """Epoch seconds of a timestamp value, or None if it is not a usable one."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        t = parse_epoch(float(v))
    elif isinstance(v, str):
        t = parse_rfc3339(v)
    else:
        return None
    return t if t is not None and t >= floor else None


def iso(ts: float) -> str:
    """Epoch seconds as RFC 3339 in UTC, to the millisecond: ``2026-02-13T06:00:00.000Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
