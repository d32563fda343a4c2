"""Triage: severity from magnitude, impact class, protected attribute and duration.

The statistic alone does not set severity. The score adds up, and the severity
is read from it (docs/incidents.md states the same rule)::

    magnitude   1 at warning level, 2 at critical level
    extent      +1 when the value is at least twice the critical threshold (for
                "below" detectors: at most half of it; see ``extent``)
    impact      +2 regulatory, +1 customer or business, +0 internal
    protected   +1 when the monitor's segment key is a protected attribute
    duration    +1 once the breach has lasted ``long_after`` (4) windows

    score ≤ 1 → low, 2 → medium, 3 → high, ≥ 4 → critical

Statistical confidence gates a breach (Benjamini–Hochberg q ≤ alpha and a
minimum sample size) rather than adding to the score, so a huge window cannot
turn a trivial effect into a page. Consequences, by construction: a warning-level
drift of a protected group under a regulatory monitor (1+2+1 = 4, critical)
outranks a critical drift of an internal feature (2, medium; 3 if extreme).

>>> triage(level=1, value=0.06, critical=0.10, direction="both", impact="regulatory",
...        protected=True, windows=1).severity
'critical'
>>> triage(level=2, value=0.4, critical=0.25, direction="above", impact="internal",
...        protected=False, windows=1).severity
'medium'
>>> triage(level=2, value=0.6, critical=0.25, direction="above", impact="internal",
...        protected=False, windows=1).severity
'high'
"""

from __future__ import annotations

from dataclasses import dataclass

IMPACT_POINTS = {"regulatory": 2, "customer": 1, "business": 1, "internal": 0}
SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
LONG_AFTER = 4


@dataclass(frozen=True)
class TriageResult:
    score: int
    severity: str
    reason: str


def extent(value: float, critical: float, direction: str) -> bool:
    """True when the value is far beyond critical: ≥ 2× it (above), ≤ half of it (below)."""
    if direction == "below":
        return value <= critical / 2
    return abs(value) >= 2 * abs(critical)


def severity_of(score: int) -> str:
    return SEVERITIES[min(max(score - 1, 0), 3)]


def triage(*, level: int, value: float, critical: float, direction: str, impact: str,
           protected: bool, windows: int) -> TriageResult:
    """Score and severity of a breach at ``level`` (1 warning, 2 critical)."""
    parts = [("critical level" if level >= 2 else "warning level", 2 if level >= 2 else 1)]
    if level >= 2 and extent(value, critical, direction):
        parts.append(("far past critical", 1))
    if IMPACT_POINTS.get(impact, 0):
        parts.append((f"{impact} impact", IMPACT_POINTS[impact]))
    if protected:
        parts.append(("protected attribute", 1))
    if windows >= LONG_AFTER:
        parts.append((f"lasting {windows} windows", 1))
    score = sum(p for _, p in parts)
    return TriageResult(score, severity_of(score), " + ".join(f"{n} ({p})" for n, p in parts))
