"""The event-time rule, shared by the contract model and every decoder path.

A timestamp is an RFC 3339 string with a UTC offset, or an epoch number; epoch
numbers above ``MS_THRESHOLD`` are milliseconds.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

MS_THRESHOLD = 1e11  # epoch numbers above this are milliseconds (year 5138 in seconds)


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
