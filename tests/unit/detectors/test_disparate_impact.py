"""disparate_impact answers one of two named questions (``params.question``).

- ``four_fifths``: is the 4/5 rule violated now? A gap already in the reference is a finding
  from the first window on.
- ``vs_reference``: did the ratio get worse than in the reference? The same standing gap is
  quiet; a worsening opens, even one that stays above 0.8.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

from driftline.cli import main
from driftline.detectors import DisparateImpact, EvalContext
from driftline.detectors.fairness import log_ratio_change_p
from driftline.detectors.sketches import CountTable


def table(counts: dict[int, tuple[int, int]]) -> CountTable:
    """A count table from {group: (trials, selected)}."""
    t = CountTable()
    for g, (n, s) in counts.items():
        t.update(np.array([1] * s + [0] * (n - s), dtype=np.int64), np.full(n, g, dtype=np.int64))
    return t


CTX = EvalContext(segments=[(0, "a"), (1, "b")])


def test_four_fifths_is_the_default_and_ignores_the_reference() -> None:
    now = table({0: (1000, 400), 1: (1000, 150)})
    same, other = table({0: (1000, 400), 1: (1000, 150)}), table({0: (1000, 100), 1: (1000, 100)})
    det = DisparateImpact()
    assert det.question == "four_fifths"
    for ref in (same, other):
        b = {e.segment: e for e in det.evaluate(now, ref, CTX)}["b"]
        assert b.statistic == "selection_rate_ratio"
        assert b.value == pytest.approx(0.15 / 0.4)
        assert b.p_value is not None and b.p_value < 1e-10


def test_vs_reference_is_the_ratio_over_the_reference_ratio() -> None:
    now = table({0: (1000, 400), 1: (1000, 100)})
    ref = table({0: (2000, 600), 1: (2000, 300)})
    (a, b) = DisparateImpact(question="vs_reference").evaluate(now, ref, CTX)
    assert (a.segment, b.segment) == ("a", "b")
    assert b.statistic == "selection_rate_ratio_vs_reference"
    assert b.details["ratio"] == pytest.approx(0.25)
    assert b.details["reference_ratio"] == pytest.approx(0.5)
    assert b.value == pytest.approx(0.5) and a.value == pytest.approx(1.0)
    assert (b.n_current, b.n_reference) == (1000, 2000)


def test_vs_reference_is_quiet_on_a_gap_the_reference_already_had() -> None:
    now = table({0: (1000, 400), 1: (1000, 150)})
    ref = table({0: (3000, 1200), 1: (3000, 450)})
    b = {e.segment: e for e in DisparateImpact(question="vs_reference").evaluate(now, ref, CTX)}["b"]
    assert b.value == pytest.approx(1.0) and b.p_value is not None and b.p_value > 0.9


def test_vs_reference_skips_groups_without_enough_reference_events() -> None:
    now = table({0: (1000, 400), 1: (1000, 150)})
    ref = table({0: (1000, 400), 1: (10, 5)})
    evals = DisparateImpact(question="vs_reference", min_group=30).evaluate(now, ref, CTX)
    assert [e.segment for e in evals] == ["a"]
    assert DisparateImpact(question="vs_reference").evaluate(now, table({1: (1000, 5)}), CTX) == []


def test_the_log_ratio_test_matches_its_formula_and_is_calibrated() -> None:
    """p from z = Δ log ratio / sqrt(Σ (1 − p)/(n p)) (half-event corrected); uniform under H0."""
    s_g, n_g, s_b, n_b, r_g, m_g, r_b, m_b = 100, 1000, 400, 1000, 300, 2000, 600, 2000
    rate = [(s_g + .5) / (n_g + 1), (s_b + .5) / (n_b + 1), (r_g + .5) / (m_g + 1),
            (r_b + .5) / (m_b + 1)]
    var = sum((1 - p) / ((n + 1) * p) for p, n in zip(rate, [n_g, n_b, m_g, m_b], strict=True))
    z = (math.log(rate[0] / rate[1]) - math.log(rate[2] / rate[3])) / math.sqrt(var)
    p = log_ratio_change_p((s_g, n_g, s_b, n_b), (r_g, m_g, r_b, m_b))
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12)

    rng = np.random.default_rng(11)
    ps = [log_ratio_change_p((int(rng.binomial(800, .15)), 800, int(rng.binomial(900, .4)), 900),
                             (int(rng.binomial(3000, .15)), 3000, int(rng.binomial(3000, .4)),
                              3000)) for _ in range(4000)]
    assert stats.kstest(ps, "uniform").pvalue > 0.001
    assert 0.03 < np.mean(np.array(ps) < 0.05) < 0.07


def test_an_unknown_question_is_a_config_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match=r"four_fifths .* or vs_reference"):
        DisparateImpact(question="worse")  # type: ignore[arg-type]  # a value the Literal refuses
    monitor = {"name": "di", "signal": "decision=yes", "detector": "disparate_impact",
               "segment_by": "region", "params": {"question": "worse"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"monitors": [monitor]}))
    cur = stream(tmp_path / "cur.jsonl", [0.15])
    assert main(["replay", "--input", str(cur), "--config", str(tmp_path / "c.yaml")]) == 1
    err = capsys.readouterr().err
    assert "monitor di: params: question 'worse'" in err


# -- through replay -------------------------------------------------------------------------------
def stream(path: Path, windows: list[float], start: int = 0, per_window: int = 2000) -> Path:
    """Count windows of events in regions a (selected at 0.4) and b (at the window's rate)."""
    rng = random.Random(start)
    with path.open("w") as fh:
        for w, rate_b in enumerate(windows):
            for i in range(per_window):
                region = "a" if i % 2 else "b"
                chosen = rng.random() < (0.4 if region == "a" else rate_b)
                k = start + w * per_window + i
                fh.write(json.dumps({
                    "event_id": str(k), "model_id": "m", "timestamp": 1_767_225_600 + k,
                    "features": {"x": rng.random()}, "prediction": rng.random(),
                    "decision": "yes" if chosen else "no", "segments": {"region": region}}) + "\n")
    return path


def replay(tmp_path: Path, question: str) -> list[dict[str, Any]]:
    monitor = {"name": "di", "signal": "decision=yes", "detector": "disparate_impact",
               "segment_by": "region", "impact": "regulatory", "protected_attribute": True,
               "params": {"question": question}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"monitors": [monitor]}))
    ref = stream(tmp_path / "ref.jsonl", [0.15, 0.15], start=10**6)
    # the reference's gap (ratio 0.375) for three windows, then b's rate halves (ratio 0.19)
    cur = stream(tmp_path / "cur.jsonl", [0.15, 0.15, 0.15, 0.075, 0.075, 0.075])
    out = tmp_path / f"{question}.jsonl"
    assert main(["replay", "--input", str(cur), "--reference", str(ref), "--window", "2000",
                 "--config", str(tmp_path / "c.yaml"), "--incidents-out", str(out),
                 "--quiet"]) == 0
    return [json.loads(x) for x in out.read_text().splitlines()]


def window_of(event: dict[str, Any]) -> int:
    """The index of an incident's (2000-event count) window."""
    return int(event["data"]["window"]["start"]) // 2000


def test_four_fifths_opens_at_the_first_window_on_the_standing_gap(tmp_path: Path) -> None:
    events = replay(tmp_path, "four_fifths")
    opened = [e for e in events if e["type"].endswith(".opened")]
    assert opened and window_of(opened[0]) == 0
    assert opened[0]["data"]["statistic"] == "selection_rate_ratio"
    assert opened[0]["data"]["value"] == pytest.approx(0.375, abs=0.05)


def test_vs_reference_opens_only_when_the_ratio_gets_worse(tmp_path: Path) -> None:
    events = replay(tmp_path, "vs_reference")
    opened = [e for e in events if e["type"].endswith(".opened")]
    assert [e["data"]["segment"] for e in opened] == [{"region": "b"}]
    assert window_of(opened[0]) == 3
    assert opened[0]["data"]["statistic"] == "selection_rate_ratio_vs_reference"
    assert opened[0]["data"]["value"] == pytest.approx(0.5, abs=0.12)
