"""Triage: severity from magnitude, extent, impact, protected attribute and duration (a rule table).

The rule (triage.py, docs/incidents.md): magnitude 1 (warning) or 2 (critical); +1 when
a critical value is ≥ 2× the critical threshold (≤ half of it for "below"); +2
regulatory, +1 customer or business; +1 protected attribute; +1 from the 4th breaching
window. Score ≤ 1 low, 2 medium, 3 high, ≥ 4 critical.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from driftline.triage import SEVERITY_RANK, extent, severity_of, triage

BASE: dict[str, Any] = {"level": 1, "value": 0.15, "critical": 0.25, "direction": "above",
                        "impact": "internal", "protected": False, "windows": 1}


def score(**kw: Any) -> int:
    return triage(**{**BASE, **kw}).score


@pytest.mark.parametrize(("changes", "points"), [
    ({}, 1),                                                   # magnitude: warning
    ({"level": 2, "value": 0.3}, 2),                           # magnitude: critical
    ({"level": 2, "value": 0.5}, 3),                           # extent: exactly 2× critical
    ({"level": 2, "value": 0.49}, 2),                          # extent: just short of 2×
    ({"level": 2, "value": -0.5, "direction": "both"}, 3),     # extent: two-sided, by |value|
    ({"level": 1, "value": 0.9}, 1),                           # extent counts only at critical
    ({"level": 2, "value": 0.35, "critical": 0.7, "direction": "below"}, 3),  # below: ≤ half
    ({"level": 2, "value": 0.36, "critical": 0.7, "direction": "below"}, 2),
    ({"impact": "regulatory"}, 3),                             # impact +2
    ({"impact": "customer"}, 2),                               # impact +1
    ({"impact": "business"}, 2),                               # impact +1
    ({"impact": "internal"}, 1),                               # impact +0
    ({"protected": True}, 2),                                  # protected +1
    ({"windows": 3}, 1),                                       # duration: not yet
    ({"windows": 4}, 2),                                       # duration: from the 4th window
    ({"windows": 40}, 2),                                      # duration counts once
    ({"level": 2, "value": 0.9, "impact": "regulatory", "protected": True, "windows": 9}, 7),
])
def test_each_rule_component_adds_its_points(changes: dict[str, Any], points: int) -> None:
    """Every component of the rule adds exactly its documented points to the score."""
    assert score(**changes) == points


@pytest.mark.parametrize(("points", "severity"), [
    (0, "low"), (1, "low"), (2, "medium"), (3, "high"), (4, "critical"), (7, "critical")])
def test_the_score_reads_as_severity(points: int, severity: str) -> None:
    """Score ≤ 1 is low, 2 medium, 3 high, 4 and more critical."""
    assert severity_of(points) == severity


def test_small_protected_regulatory_drift_outranks_large_internal_drift() -> None:
    """A warning-level drift of a protected group under a regulatory monitor is critical; an
    extreme critical drift of an internal feature is only high."""
    fairness = triage(level=1, value=0.06, critical=0.10, direction="both", impact="regulatory",
                      protected=True, windows=1)
    feature = triage(level=2, value=0.9, critical=0.25, direction="above", impact="internal",
                     protected=False, windows=1)
    assert (fairness.severity, feature.severity) == ("critical", "high")
    assert SEVERITY_RANK[fairness.severity] > SEVERITY_RANK[feature.severity]


def test_statistical_confidence_does_not_raise_severity() -> None:
    """The triage has no input for sample size or q-value: a huge window cannot inflate a trivial drift."""
    assert set(inspect.signature(triage).parameters) == {
        "level", "value", "critical", "direction", "impact", "protected", "windows"}


def test_the_reason_names_every_component_that_scored() -> None:
    """The reason lists each scoring component with its points, joined by '+'."""
    r = triage(level=2, value=0.6, critical=0.25, direction="above", impact="customer",
               protected=True, windows=5)
    assert r.reason == ("critical level (2) + far past critical (1) + customer impact (1) + "
                        "protected attribute (1) + lasting 5 windows (1)")
    assert (r.score, r.severity) == (6, "critical")


def test_extent_follows_the_direction() -> None:
    """Far past critical: ≥ 2× for 'above' and 'both' (by magnitude), ≤ half for 'below'."""
    assert extent(0.5, 0.25, "above") and not extent(0.49, 0.25, "above")
    assert extent(-0.2, 0.1, "both") and not extent(-0.19, 0.1, "both")
    assert extent(0.35, 0.7, "below") and not extent(0.4, 0.7, "below")
