"""``explain --labels``' view of the score histograms (``auc``, ``calibration`` incidents),
checked against a brute-force count of the raw events and labels of the opening window."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from labelled import T0, Labelled, calibrated, ranked
from scipy.stats import rankdata

from driftline.cli import main
from driftline.timestamps import parse_timestamp

HIGH = "prioritize"  # the score is σ(x), the probability of this decision


def replay(d: Path, ref: Labelled, cur: Labelled, positive: str) -> dict[str, Path]:
    f = {k: d / f"{k}.jsonl" for k in ("ref", "cur", "labels", "incidents")}
    f["config"] = d / "c.yaml"
    f["ref"].write_bytes(b"\n".join(ref.events) + b"\n")
    f["cur"].write_bytes(b"\n".join(cur.events) + b"\n")
    f["labels"].write_bytes(b"\n".join(ref.labels + cur.labels) + b"\n")
    f["config"].write_text("window: {size: 1m}\ndetection: {min_samples: 100}\n"
                           f"labels: {{positive: {positive}}}\n")
    assert main(["replay", "--input", str(f["cur"]), "--reference", str(f["ref"]), "--labels",
                 str(f["labels"]), "--config", str(f["config"]), "--incidents-out",
                 str(f["incidents"]), "--quiet"]) == 0
    return f


def explained(f: dict[str, Path], monitor: str, out: Path) -> tuple[dict[str, Any], str]:
    """The opening event of ``monitor``'s incident and its explain.json (reproduced)."""
    for line in f["incidents"].read_text().splitlines():
        ev = json.loads(line)
        if ev["type"].endswith(".opened") and ev["data"]["monitor"] == monitor:
            break
    else:
        raise AssertionError(f"no {monitor} incident opened")
    assert main(["explain", ev["data"]["incident_id"], "--incidents", str(f["incidents"]),
                 "--input", str(f["cur"]), "--config", str(f["config"]), "--reference",
                 str(f["ref"]), "--labels", str(f["labels"]), "--out", str(out)]) == 0
    result = json.loads((out / "explain.json").read_text())
    assert result["outcome"] == "reproduced"
    return ev["data"], (out / "index.html").read_text()


def brute(ref: Labelled, cur: Labelled, window: dict[str, str], region: str | None,
          ) -> dict[str, np.ndarray]:
    """Per reference-decile bin of the raw score: the window's and the reference's events of
    each class (in ``region``, if given), and score sums — straight from the generated events."""
    rs, cs = np.array(ref.prediction), np.array(cur.prediction)
    edges = np.quantile(rs, np.arange(1, 10) / 10, method="inverted_cdf")
    t = np.array(cur.times)
    start, end = parse_timestamp(window["start"]), parse_timestamp(window["end"])
    assert start is not None and end is not None
    mine, theirs = (t >= start) & (t < end), np.ones(rs.size, bool)
    if region is not None:  # a segment's rows, in the edges of all the reference's scores
        mine &= np.array(cur.region) == region
        theirs &= np.array(ref.region) == region
    out = {}
    for name, scores, truth, keep in (("", cs, cur.truth, mine),
                                      ("reference_", rs, ref.truth, theirs)):
        b = np.searchsorted(edges, scores[keep], side="right")
        high = np.array(truth)[keep] == HIGH
        out[name + "positives"] = np.bincount(b[high], minlength=10)
        out[name + "negatives"] = np.bincount(b[~high], minlength=10)
        out[name + "sums"] = np.bincount(b, weights=scores[keep], minlength=10)
        out[name + "scores"], out[name + "high"] = scores[keep], high
    out["edges"] = edges
    return out


def exact_auc(scores: np.ndarray, high: np.ndarray) -> float:
    """Mann–Whitney: the share of (positive, negative) pairs the score orders right."""
    r = rankdata(scores)
    n1, n0 = high.sum(), (~high).sum()
    return float((r[high].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def case(d: Path, make: Callable[..., Any], seeds: tuple[int, int], monitor: str,
         positive: str) -> tuple[Any, ...]:
    """A day's reference and eight windows drifting from window 4, replayed, and the
    explanation of the monitor's first incident: (ref, cur, incident data, explain.json,
    the report's HTML)."""
    ref = make(1, 16_000, seed=seeds[0], size=3600, prefix="r", start=T0 - 86_400)
    cur = make(8, 3000, seed=seeds[1], drift_from=4)
    data, html = explained(replay(d, ref, cur, positive=positive), monitor, d / "out")
    return ref, cur, data, json.loads((d / "out" / "explain.json").read_text()), html


@pytest.fixture(scope="module")
def auc_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    """A ranking that degrades in the south; the positive class is ``standard``, so the
    reference ranks the other class higher and the view swaps the classes (score_of: other)."""
    return case(tmp_path_factory.mktemp("auc"), ranked, (21, 22), "auc-by-region", "standard")


def test_an_auc_view_counts_each_class_per_score_bin_as_the_raw_events_do(
        auc_case: tuple[Any, ...]) -> None:
    ref, cur, data, result, html = auc_case
    v = result["scores"]
    assert v["detector"] == "auc" and v["score_of"] == "other" and v["high_class"] == HIGH
    want = brute(ref, cur, data["window"], data["segment"]["region"])
    assert len(v["bins"]) == 10
    assert [b["high"] for b in v["bins"][:-1]] == pytest.approx(list(want["edges"]))
    for key in ("positives", "negatives", "reference_positives", "reference_negatives"):
        assert [b[key] for b in v["bins"]] == want[key].tolist(), key
    for cls in ("positive", "negative"):
        got = np.array([b[f"{cls}_share"] for b in v["bins"]])
        assert got == pytest.approx(want[f"{cls}s"] / want[f"{cls}s"].sum())
    # the binned AUCs are the incident's, and within the tie term of the raw scores' exact AUC
    details = data["evidence"]["details"]
    assert v["auc"] == pytest.approx(details["current_auc"])
    assert v["reference_auc"] == pytest.approx(details["reference_auc"])
    assert abs(v["auc"] - exact_auc(want["scores"], want["high"])) <= details["tie_bound"] + 1e-9
    assert v["reference_auc"] == pytest.approx(
        exact_auc(want["reference_scores"], want["reference_high"]), abs=0.005)
    assert v["auc"] < v["reference_auc"] - 0.03
    # the ranking broke at the confident ends: the bins marked are where the shares moved most
    moved = (np.abs(want["positives"] / want["positives"].sum()
                    - want["reference_positives"] / want["reference_positives"].sum())
             + np.abs(want["negatives"] / want["negatives"].sum()
                      - want["reference_negatives"] / want["reference_negatives"].sum()))
    assert {i for i, b in enumerate(v["bins"]) if b["contributing"]} == \
        set(np.argsort(-moved)[:3].tolist())
    assert 'id="fig-scores"' in html and "positives: reference share" in html


@pytest.fixture(scope="module")
def calibration_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    """A calibrated score whose positives become 25 points rarer from window 4 on."""
    return case(tmp_path_factory.mktemp("calibration"), calibrated, (31, 32), "calibration",
                HIGH)


def test_a_calibration_view_is_the_reliability_table_of_the_raw_events(
        calibration_case: tuple[Any, ...]) -> None:
    ref, cur, data, result, html = calibration_case
    v = result["scores"]
    assert v["detector"] == "calibration" and v["score_of"] == "positive"
    want = brute(ref, cur, data["window"], None)
    n, rn = want["positives"] + want["negatives"], want["reference_positives"] + \
        want["reference_negatives"]
    assert [b["positives"] + b["negatives"] for b in v["bins"]] == n.tolist()
    assert [b["mean_score"] for b in v["bins"]] == pytest.approx(want["sums"] / n)
    assert [b["positive_rate"] for b in v["bins"]] == pytest.approx(want["positives"] / n)
    assert [b["reference_positive_rate"] for b in v["bins"]] == pytest.approx(
        want["reference_positives"] / rn)
    gap = n / n.sum() * np.abs(want["sums"] / n - want["positives"] / n)
    assert [b["ece_contribution"] for b in v["bins"]] == pytest.approx(gap)
    details = data["evidence"]["details"]
    assert v["ece"] == pytest.approx(gap.sum()) and v["ece"] == pytest.approx(
        details["current_ece"])
    assert v["reference_ece"] == pytest.approx(details["reference_ece"]) and \
        v["reference_ece"] < 0.03
    # the flagged bins: the three adding most to the window's ECE (the detector's own list)
    assert {i for i, b in enumerate(v["bins"]) if b["contributing"]} == \
        set(np.argsort(-gap)[:3].tolist())
    assert 'id="fig-scores"' in html and "reference positive rate" in html
    assert "ECE" in result["summary"]
