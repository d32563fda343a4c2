"""One text for each JSON scalar, the same in every decoder: what a category, a decision, a
segment value or an event id *is* when the events carry numbers or booleans.

- a string is itself;
- ``true``/``false`` are ``"true"``/``"false"``;
- an integer is its decimal digits (``-0`` is ``"0"``);
- any other number is Python's ``repr`` of the double it parses to: the shortest text that
  reads back to the same double, scientific below 1e-4 and from 1e16 (``1.0``, ``0.25``,
  ``1e-05``, ``1e+16``, ``-0.0``).

So ``1`` and ``1.0`` are two categories (``"1"``, ``"1.0"``), as the JSON says; ``"1"`` and
``1`` are one.

>>> [canonical(v) for v in ("a", True, 7, -0, 2.5, 1e16, 1e-5, 100.0)]
['a', 'true', '7', '0', '2.5', '1e+16', '1e-05', '100.0']
"""

from __future__ import annotations

from typing import Any


def canonical(v: Any) -> str | None:
    """The canonical text of a JSON scalar; None for null. ``TypeError`` for an object/array."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    raise TypeError(f"a JSON {type(v).__name__} has no canonical text")
