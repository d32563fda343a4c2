"""What the report shows of the opening window: segment rows and distribution bars."""

from __future__ import annotations

import math

import pytest
from demo_files import Run, context

from driftline.investigate import explain
from driftline.investigate.views import wilson


@pytest.fixture(scope="module")
def rate(warmup_run: Run) -> explain.Explanation:
    h = warmup_run.opened("region-priority-rate")
    return explain.explain(h, context(warmup_run, h))


@pytest.fixture(scope="module")
def psi(warmup_run: Run) -> explain.Explanation:
    h = warmup_run.opened("parcel-weight-psi")
    return explain.explain(h, context(warmup_run, h))


def test_segment_rows_cover_every_segment_and_their_shares_add_up(
        rate: explain.Explanation, warmup_run: Run) -> None:
    """One row per region, traffic shares sum to 1, the incident's row is marked."""
    assert {r.segment for r in rate.segments} == {"north", "south", "east", "west", "central"}
    assert math.isclose(sum(r.traffic_share for r in rate.segments), 1.0)
    (mine,) = [r for r in rate.segments if r.incident]
    assert mine.segment == "south"
    details = warmup_run.opened("region-priority-rate").first["data"]["evidence"]["details"]
    assert mine.rate == details["current_rate"] and mine.reference_rate == details["reference_rate"]
    assert mine.value == rate.value_cited


def test_each_rate_lies_in_its_interval(rate: explain.Explanation) -> None:
    """The Wilson interval brackets the observed rate and narrows as the count grows."""
    for r in rate.segments:
        assert r.rate_low is not None and r.rate_high is not None and r.rate is not None
        assert r.rate_low < r.rate < r.rate_high
    small, large = wilson(30, 100), wilson(300, 1000)
    assert small is not None and large is not None
    assert large[1] - large[0] < small[1] - small[0]
    assert wilson(0, 50) is not None and wilson(0, 50)[0] == 0.0  # type: ignore[index]
    assert wilson(1, 0) is None


def test_distribution_shares_add_up_and_psi_bins_are_marked(psi: explain.Explanation,
                                                            warmup_run: Run) -> None:
    """Ten decile bins per side, each side sums to 1, PSI's top bins are the contributing ones."""
    bars = psi.distribution
    assert len(bars) == 10
    assert math.isclose(sum(b.reference_share for b in bars), 1.0)
    assert math.isclose(sum(b.current_share for b in bars), 1.0)
    top = warmup_run.opened("parcel-weight-psi").first["data"]["evidence"]["top_contributors"]
    marked = [b for b in bars if b.contributing]
    assert len(marked) == len(top)
    for t, b in zip(sorted(top, key=lambda t: float(t["bin"][0]) if t["bin"][0] != "-inf"
                           else -math.inf), marked, strict=True):
        assert math.isclose(b.current_share, t["current_share"], abs_tol=1e-6)


def test_a_rate_monitors_distribution_is_the_decision_in_its_segment(
        rate: explain.Explanation) -> None:
    """Two bars, the monitored decision value marked; its current share is the segment's rate."""
    labels = [b.label for b in rate.distribution]
    assert labels == ["not prioritize", "prioritize"]
    (marked,) = [b for b in rate.distribution if b.contributing]
    (mine,) = [r for r in rate.segments if r.incident]
    assert marked.label == "prioritize" and math.isclose(marked.current_share, mine.rate or 0)


def test_versions_and_summary_say_what_the_window_held(rate: explain.Explanation) -> None:
    """The window's model versions against the reference's; the summary names what moved."""
    assert rate.versions["window"] == ["2026.02.1"] == rate.versions["reference"]
    for text in ("region=south", "rate_difference", "reproduced", "Severity critical",
                 "regulatory impact"):
        assert text in rate.summary
