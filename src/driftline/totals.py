"""Running totals of an engine (events, dead letters, windows, incident events) and summaries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from driftline.decode.contract import REPORTS
from driftline.state import TotalsState, validated

#: dead-letter reasons for events that were processed or are counted apart, not invalid
NOT_INVALID = ("late", *REPORTS)


@dataclass
class Totals:
    read: int = 0
    valid: int = 0
    late: int = 0
    ahead: int = 0  # bad timestamps for being beyond max_ahead of the frontier
    invalid: Counter[str] = field(default_factory=Counter)  # dead letters by reason
    windows: int = 0
    #: (event type, detector, severity) → incident events
    incidents: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: past a cap: events counted as __other__ (cardinality_overflow), names left out
    #: (feature_overflow, segment_key_overflow, monitor_overflow)
    overflow: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.read + other.read, self.valid + other.valid, self.late + other.late,
                      self.ahead + other.ahead, self.invalid + other.invalid, self.windows + other.windows,
                      self.incidents + other.incidents, self.overflow + other.overflow)

    def events_summary(self) -> dict[str, Any]:
        return {"read": self.read, "valid": self.valid,
                "invalid": sum(n for r, n in self.invalid.items() if r not in NOT_INVALID),
                "late": self.late, "beyond_max_ahead": self.ahead,
                "invalid_by_reason": dict(sorted(self.invalid.items())),
                "overflow": dict(sorted(self.overflow.items()))}

    def incidents_summary(self) -> dict[str, dict[str, int]]:
        """{event type: {"detector/severity": count}}."""
        out: dict[str, dict[str, int]] = {}
        for (kind, detector, severity), n in sorted(self.incidents.items()):
            slot = out.setdefault(kind, {})
            slot[f"{detector}/{severity}"] = slot.get(f"{detector}/{severity}", 0) + n
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"read": self.read, "valid": self.valid, "late": self.late, "ahead": self.ahead,
                "invalid": dict(self.invalid), "windows": self.windows,
                "incidents": {":".join(k): n for k, n in self.incidents.items()},
                "overflow": dict(self.overflow)}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Totals:
        s = validated(TotalsState, snap, "totals")
        incidents: Counter[tuple[str, str, str]] = Counter()
        for key, n in s.incidents.items():
            kind, detector, severity = key.split(":")
            incidents[(kind, detector, severity)] = n
        return cls(s.read, s.valid, s.late, s.ahead, Counter(s.invalid), s.windows, incidents,
                   Counter(s.overflow))
