"""Running totals of an engine (events, dead letters, windows, incident events) and summaries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from driftline.decode import DeadLetter
from driftline.decode.contract import REPORTS
from driftline.state import EXAMPLE_CHARS, TotalsState, validated

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
    #: reason → one example ("detail: line head"), the first seen
    examples: dict[str, str] = field(default_factory=dict)

    def note_examples(self, letters: Iterable[DeadLetter]) -> None:
        """Keep the first dead letter of each reason (bounded: reasons are a fixed set)."""
        for d in letters:
            if d.reason not in self.examples and len(self.examples) < 64:
                head = d.raw[:200].decode("utf-8", "replace")
                self.examples[d.reason] = f"{d.detail}: {head}"[:EXAMPLE_CHARS]

    @classmethod
    def of_letters(cls, letters: list[DeadLetter]) -> Totals:
        t = cls()
        t.invalid.update(d.reason for d in letters)
        t.note_examples(letters)
        return t

    def why_invalid(self) -> str:
        """The commonest invalid reasons, each with its example, on one line."""
        return "; ".join(f"{r} ({n:,}): {ex}" for r, n, ex in self.top_invalid())

    def top_invalid(self, n: int = 3) -> list[tuple[str, int, str]]:
        """The ``n`` commonest invalid reasons: (reason, count, example)."""
        rows = [(r, c) for r, c in self.invalid.most_common() if r not in NOT_INVALID]
        return [(r, c, self.examples.get(r, "")) for r, c in rows[:n]]

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.read + other.read, self.valid + other.valid, self.late + other.late,
                      self.ahead + other.ahead, self.invalid + other.invalid, self.windows + other.windows,
                      self.incidents + other.incidents, self.overflow + other.overflow,
                      {**other.examples, **self.examples})

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
                "overflow": dict(self.overflow), "examples": dict(self.examples)}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Totals:
        s = validated(TotalsState, snap, "totals")
        incidents: Counter[tuple[str, str, str]] = Counter()
        for key, n in s.incidents.items():
            kind, detector, severity = key.split(":")
            incidents[(kind, detector, severity)] = n
        return cls(s.read, s.valid, s.late, s.ahead, Counter(s.invalid), s.windows, incidents,
                   Counter(s.overflow), dict(s.examples))
