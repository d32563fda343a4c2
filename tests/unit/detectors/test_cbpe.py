"""The estimated error rate (CBPE-style): the estimate is a brute-force recomputation's from
the raw events (cells, fallbacks, segments, missing scores, a decision the reference never
saw); it tracks the realised error rate under a covariate shift, is blind to a concept
drift by design, and rejects at its nominal level on windows drawn like the reference."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from driftline.detectors import CBPE, EvalContext
from driftline.detectors.sketches import DecisionHistogram, restore_sketch
from driftline.errors import StateError


def draw(rng: np.random.Generator, n: int, spread: float = 1.0, p_missing: float = 0.0,
         labelled: float = 1.0, flip: float = 0.0) -> np.ndarray:
    """(score, decision, wrong) rows: x ~ N(0, spread), score σ(x), decision 1 above 0.5;
    a decision is wrong with a chance that is highest near the threshold (P(wrong | score)
    fixed) — plus ``flip`` (a concept drift: the same scores, other outcomes)."""
    x = rng.normal(0.0, spread, n)
    score = 1 / (1 + np.exp(-x))
    wrong = (rng.random(n) < np.clip(0.45 * np.exp(-2 * np.abs(x)) + flip, 0, 1)).astype(float)
    wrong[rng.random(n) >= labelled] = np.nan
    score[rng.random(n) < p_missing] = np.nan
    return np.column_stack([score, (score > 0.5).astype(float), wrong])


def brute_force(ref: np.ndarray, ref_seg: np.ndarray | None, cur: np.ndarray,
                cur_seg: np.ndarray | None, edges: np.ndarray, min_cell: int,
                segment: int | None) -> tuple[float, float]:
    """(current estimate, reference estimate), cell by cell with Python dicts."""
    def cell(row: np.ndarray) -> tuple[int, int]:
        s = row[0]
        b = len(edges) + 1 if np.isnan(s) else int(sum(1 for e in edges if e <= s))
        return int(row[1]), b

    def tally(rows: np.ndarray) -> tuple[dict, dict, list[int]]:
        by_cell: dict = defaultdict(lambda: [0, 0])
        by_dec: dict = defaultdict(lambda: [0, 0])
        total = [0, 0]
        for row in rows:
            if row[1] < 0 or np.isnan(row[2]):
                continue
            c = cell(row)
            for acc in (by_cell[c], by_dec[c[0]], total):
                acc[0] += 1
                acc[1] += int(row[2] == 1.0)
        return by_cell, by_dec, total

    cells, decs, total = tally(ref)

    def overall_rate(c: tuple[int, int]) -> float:
        if cells[c][0] >= min_cell:
            return cells[c][1] / cells[c][0]
        if decs[c[0]][0] >= min_cell:
            return decs[c[0]][1] / decs[c[0]][0]
        return total[1] / total[0]

    rate = overall_rate
    if segment is not None:
        assert ref_seg is not None and cur_seg is not None
        own, _, _ = tally(ref[ref_seg == segment])
        ref, cur = ref[ref_seg == segment], cur[cur_seg == segment]

        def rate(c: tuple[int, int]) -> float:
            return own[c][1] / own[c][0] if own[c][0] >= min_cell else overall_rate(c)

    def mean(rows: np.ndarray) -> float:
        vals = [rate(cell(r)) for r in rows if r[1] >= 0]
        return sum(vals) / len(vals)

    return mean(cur), mean(ref)


@pytest.mark.parametrize("seed", range(4))
def test_the_estimate_is_a_brute_force_recomputations(seed: int) -> None:
    """Sparse cells (min_cell 40 of 800 labelled), missing scores, events without a decision,
    a decision code only the current window has, four segments (one nearly empty in the
    reference): every row's estimate is the cell-by-cell one."""
    rng = np.random.default_rng(seed)
    ref = draw(rng, 1_000, p_missing=0.05, labelled=0.8)
    cur = draw(rng, 600, spread=0.6, p_missing=0.1, labelled=0.0)
    cur[rng.random(600) < 0.05, 1] = 2.0  # a decision the reference never took
    cur[rng.random(600) < 0.05, 1] = -1.0  # no decision: not counted
    ref_seg = rng.choice(4, 1_000, p=[0.5, 0.3, 0.18, 0.02])
    cur_seg = rng.choice(4, 600)
    det = CBPE(grid=8, min_cell=40)
    ref_sketch = det.fit(ref, ref_seg)
    cur_sketch = det.new_sketch(ref_sketch)
    cur_sketch.update(cur, cur_seg)
    flat = det.evaluate(cur_sketch, det.fit(ref, None), EvalContext())[0]
    want_cur, want_ref = brute_force(ref, None, cur, None, ref_sketch.edges, 40, None)
    assert flat.details["estimated_error_rate"] == pytest.approx(want_cur, rel=1e-12)
    assert flat.details["reference_estimated_error_rate"] == pytest.approx(want_ref, rel=1e-12)
    ctx = EvalContext(segments=[(s, f"s{s}") for s in range(4)])
    for e in det.evaluate(cur_sketch, ref_sketch, ctx):
        s = int(e.segment[1:])
        got_cur, got_ref = brute_force(ref, ref_seg, cur, cur_seg, ref_sketch.edges, 40, s)
        assert e.details["estimated_error_rate"] == pytest.approx(got_cur, rel=1e-12)
        assert e.details["reference_estimated_error_rate"] == pytest.approx(got_ref, rel=1e-12)
        assert e.details["estimated"] is True


def test_it_tracks_the_realised_error_rate_under_a_covariate_shift() -> None:
    """Scores that crowd the threshold (spread 1 → 0.4): more mistakes, with P(wrong | score)
    unchanged. The estimate, from no label at all, is within three standard errors of the
    realised error rate of the same events' (hidden) labels, and a breach."""
    rng = np.random.default_rng(11)
    det = CBPE()
    ref = det.fit(draw(rng, 30_000), None)
    cur = draw(rng, 5_000, spread=0.4)
    realised = float(np.nanmean(cur[:, 2]))
    hidden = cur.copy()
    hidden[:, 2] = np.nan
    sketch = det.new_sketch(ref)
    sketch.update(hidden)
    e = det.evaluate(sketch, ref, EvalContext())[0]
    assert e.details["labelled"] == 0 and e.details["realised_error_rate"] is None
    assert abs(e.details["estimated_error_rate"] - realised) < 3 * e.details["se"] + 0.01
    assert e.value > 0.05 and e.p_value < 1e-12
    assert e.top_contributors and e.top_contributors[0]["contribution"] > 0


def test_it_is_blind_to_a_concept_drift_by_design() -> None:
    """The same scores and decisions, outcomes flipped 20 % more often: the realised error
    rate jumps, the estimate does not move (what the realised error-rate monitors are for)."""
    rng = np.random.default_rng(12)
    det = CBPE()
    ref = det.fit(draw(rng, 30_000), None)
    cur = draw(rng, 5_000, flip=0.2)
    sketch = det.new_sketch(ref)
    sketch.update(cur)
    e = det.evaluate(sketch, ref, EvalContext())[0]
    assert e.details["realised_error_rate"] - e.details["reference_error_rate"] > 0.15
    assert abs(e.value) < 0.01 and e.p_value > 0.001


def test_windows_like_the_reference_reject_at_about_the_nominal_level() -> None:
    """400 windows of 1,000 events drawn as the reference: one-sided p < 0.05 in ~5 %."""
    rng = np.random.default_rng(13)
    det = CBPE()
    ref = det.fit(draw(rng, 20_000), None)
    ps = []
    for _ in range(400):
        sketch = det.new_sketch(ref)
        sketch.update(draw(rng, 1_000, labelled=0.0))
        ps.append(det.evaluate(sketch, ref, EvalContext())[0].p_value)
    rate = float(np.mean(np.array(ps) < 0.05))
    assert 0.02 <= rate <= 0.09, rate


def test_a_reference_without_enough_labels_is_no_evaluation() -> None:
    rng = np.random.default_rng(14)
    det = CBPE(min_cell=20)
    ref = det.fit(draw(rng, 2_000, labelled=0.005), None)  # ~10 labelled events
    sketch = det.new_sketch(ref)
    sketch.update(draw(rng, 500))
    assert det.evaluate(sketch, ref, EvalContext()) == []


def test_the_sketch_restores_and_refuses_impossible_counts() -> None:
    rng = np.random.default_rng(15)
    det = CBPE()
    ref = det.fit(draw(rng, 3_000), rng.choice(3, 3_000))
    back = restore_sketch(ref.snapshot())
    assert isinstance(back, DecisionHistogram)
    assert np.array_equal(back.counts, ref.counts) and np.array_equal(back.edges, ref.edges)
    snap = ref.snapshot()
    bad = [row[:] for row in snap["counts"]]
    bad[0][1] = bad[0][0] + 1  # more labelled events than events in a cell
    with pytest.raises(StateError, match="labelled"):
        restore_sketch({**snap, "counts": bad})
    with pytest.raises(StateError, match="multiple"):
        restore_sketch({**snap, "counts": [row[:-1] for row in snap["counts"]]})
