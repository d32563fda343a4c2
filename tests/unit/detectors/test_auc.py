"""ROC AUC from the score histogram: within its documented tie bound of scikit-learn's
``roc_auc_score`` on the raw scores, exact when every distinct score has a bin; DeLong's
variance from the sketch equals DeLong's on the raw scores; the rows that cannot be judged
say so (a one-class reference: no evaluation; too few of a class in the window: too small)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from driftline.detectors import AUC, EvalContext
from driftline.detectors.auc import auc_stats
from driftline.detectors.sketches import ScoreHistogram, restore_sketch
from driftline.errors import StateError


def pairs(score: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.column_stack([np.asarray(score, np.float64), np.asarray(y, np.float64)])


def sketch_auc(det: AUC, ref: ScoreHistogram, score: np.ndarray, y: np.ndarray,
               ) -> tuple[float, float, float]:
    """(AUC, DeLong variance, tie bound) of the data binned on the reference's edges."""
    cur = det.new_sketch(ref)
    cur.update(pairs(score, y))
    neg, pos, _ = cur.rows(None)
    s = auc_stats(neg, pos)
    return float(s.auc[0]), float(s.var[0]), float(s.tie_bound[0])


def delong_raw(score: np.ndarray, y: np.ndarray) -> float:
    """DeLong's variance on raw scores, by its definition (ties one half)."""
    p, n = score[y == 1], score[y == 0]
    psi = (p[:, None] > n[None, :]) + 0.5 * (p[:, None] == n[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(v10.var(ddof=1) / p.size + v01.var(ddof=1) / n.size)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_ref=st.integers(0, 3000), n=st.integers(2, 1500),
       grid=st.sampled_from([2, 5, 20, 200]), levels=st.sampled_from([0, 3, 17, 1000]),
       shift=st.floats(-1, 1), rate=st.floats(0.02, 0.98))
def test_auc_lies_within_the_tie_bound_of_sklearns(seed: int, n_ref: int, n: int, grid: int,
                                                    levels: int, shift: float,
                                                    rate: float) -> None:
    """Any data, any reference (even empty: one bin), any grid: |AUC − sklearn| ≤ tie bound."""
    rng = np.random.default_rng(seed)

    def scores(k: int, s: float) -> np.ndarray:
        x = rng.normal(s, 1.0, k)
        return np.round(x * levels) / levels if levels else x  # ties when levels is small

    det = AUC(grid=grid)
    ref = det.fit(pairs(scores(n_ref, 0.0), rng.random(n_ref) < 0.5), None)
    y = rng.random(n) < rate
    y[0], y[1] = True, False  # both classes
    score = scores(n, shift) + 0.7 * y
    auc, _, bound = sketch_auc(det, ref, score, y)
    exact = roc_auc_score(y, score)
    assert abs(auc - exact) <= bound + 1e-12
    assert 0.0 <= bound <= 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_and_delong_are_exact_when_scores_align_with_bins(seed: int) -> None:
    """Scores of five distinct values, each a reference quantile: every value has its own
    bin, so the binned AUC is sklearn's (ties included) and DeLong's variance the raw one."""
    rng = np.random.default_rng(seed)
    values = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    ref_score = rng.choice(values, 5000)
    det = AUC()
    ref = det.fit(pairs(ref_score, rng.random(5000) < ref_score), None)
    assert set(values) <= set(ref.edges)
    score = rng.choice(values, 800, p=[0.1, 0.2, 0.3, 0.2, 0.2])
    y = rng.random(800) < score
    auc, var, bound = sketch_auc(det, ref, score, y)
    assert auc == pytest.approx(roc_auc_score(y, score), rel=0, abs=1e-12)
    assert var == pytest.approx(delong_raw(score, y), rel=1e-9)
    assert bound > 0  # the real ties: sklearn counts them one half too


def test_a_drop_is_a_breach_an_improvement_is_not() -> None:
    """Value AUC_cur − AUC_ref, one-sided p of a drop: a better ranking has p near 1."""
    rng = np.random.default_rng(4)

    def data(n: int, sep: float) -> np.ndarray:
        y = rng.random(n) < 0.3
        return pairs(rng.normal(sep * y, 1.0), y)

    det = AUC()
    ref = det.fit(data(20_000, 1.0), None)
    worse, better = det.new_sketch(ref), det.new_sketch(ref)
    worse.update(data(3000, 0.6))
    better.update(data(3000, 1.6))
    e_worse = det.evaluate(worse, ref, EvalContext())[0]
    e_better = det.evaluate(better, ref, EvalContext())[0]
    assert e_worse.value < -0.05 and e_worse.p_value is not None and e_worse.p_value < 1e-6
    assert e_better.value > 0.05 and e_better.p_value is not None and e_better.p_value > 0.99
    assert e_worse.details["test"] == "delong" and e_worse.details["score_of"] == "positive"


def test_a_score_of_the_other_class_is_read_the_other_way() -> None:
    """A reference whose score ranks the negatives higher (AUC < 0.5): the classes swap, so a
    ranking that degrades is still a drop."""
    rng = np.random.default_rng(5)

    def data(n: int, sep: float) -> np.ndarray:
        y = rng.random(n) < 0.4
        return pairs(rng.normal(-sep * y, 1.0), y)  # positives score lower

    det = AUC()
    ref = det.fit(data(20_000, 1.2), None)
    cur = det.new_sketch(ref)
    cur.update(data(3000, 0.6))
    e = det.evaluate(cur, ref, EvalContext())[0]
    assert e.details["score_of"] == "other" and e.details["reference_auc"] > 0.7
    assert e.value < -0.1


def test_one_class_reference_is_untestable_few_positives_too_small() -> None:
    """A segment whose reference holds one class is no evaluation (no fallback to the pooled
    AUC); a window with fewer than min_class positives is too small to judge."""
    rng = np.random.default_rng(6)
    det = AUC(min_class=20)
    n = 8000
    seg = rng.integers(0, 3, n)
    score = rng.random(n)
    y = np.where(seg == 1, 0, rng.random(n) < score)  # segment 1: no positive at all
    ref = det.fit(pairs(score, y), seg)
    cur_seg = rng.integers(0, 3, 3000)
    cur_score = rng.random(3000)
    cur_y = (rng.random(3000) < cur_score) & ((cur_seg != 2) | (rng.random(3000) < 0.01))
    cur = det.new_sketch(ref)
    cur.update(pairs(cur_score, cur_y), cur_seg)
    table = det.evaluate_table(cur, ref, EvalContext(segments=[(0, "a"), (1, "b"), (2, "c")]))
    assert table.keep.tolist() == [True, False, True]
    sufficient = det.sufficient_rows(table, min_samples=100)
    assert sufficient.tolist() == [True, False, False]  # c: ~5 positives in ~1000 events
    assert table.n_current[2] > 900


def test_unlabelled_and_absurd_scores_are_left_out() -> None:
    """NaN labels (unlabelled), NaN scores and |score| > 1e100 count nowhere."""
    det = AUC(grid=4)
    ref = det.fit(pairs([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1]), None)
    cur = det.new_sketch(ref)
    cur.update(pairs([0.1, np.nan, 0.3, 1e200, 0.9], [1, 1, np.nan, 0, 0]))
    neg, pos, sums = cur.rows(None)
    assert neg.sum() == 1 and pos.sum() == 1 and sums.sum() == pytest.approx(1.0)


def test_state_is_plain_json_validated_on_restore() -> None:
    """snapshot → JSON → restore is the same sketch; malformed states are StateErrors."""
    rng = np.random.default_rng(7)
    det = AUC(grid=10)
    ref = det.fit(pairs(rng.random(500), rng.random(500) < 0.5), rng.integers(0, 3, 500))
    snap = json.loads(json.dumps(ref.snapshot(), allow_nan=False))
    back = restore_sketch(snap)
    assert isinstance(back, ScoreHistogram)
    assert np.array_equal(back.counts, ref.counts) and np.array_equal(back.sums, ref.sums)
    assert np.array_equal(back.edges, ref.edges)
    bad = [{**snap, "edges": snap["edges"][::-1]},
           {**snap, "positives": snap["positives"][:1]},
           {**snap, "negatives": [[-1] * 10] * len(snap["negatives"])},
           {**snap, "sums": [[float("nan")] * 10] * len(snap["sums"])},
           {**snap, "sums": [row[:-1] for row in snap["sums"]]},
           {**snap, "extra": 1}]
    for state in bad:
        with pytest.raises(StateError):
            restore_sketch(state)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 600),
       cuts=st.lists(st.floats(0.0, 1.0), max_size=6), segmented=st.booleans(),
       dyadic=st.booleans())
def test_merge_of_parts_is_the_sketch_of_the_whole(seed: int, n: int, cuts: list[float],
                                                   segmented: bool, dyadic: bool) -> None:
    """Any split into panes (unlabelled events, NaN scores, segments), merged in any order and
    through a JSON round trip each: the counts of the whole exactly, the score sums to float
    rounding (exactly on dyadic scores, whose sums are exact)."""
    rng = np.random.default_rng(seed)
    det = AUC(grid=16)
    ref = det.fit(pairs(rng.random(300), rng.random(300) < 0.5), None)
    score = rng.random(n)
    if dyadic:
        score = np.round(score * 64) / 64
    score[rng.random(n) < 0.05] = np.nan
    y = np.where(rng.random(n) < 0.2, np.nan, (rng.random(n) < score).astype(np.float64))
    segs = rng.integers(0, 5, n) if segmented else None
    whole = det.new_sketch(ref)
    whole.update(pairs(score, y), segs)
    bounds = [0, *sorted(int(f * n) for f in cuts), n]
    parts = []
    for a, b in itertools.pairwise(bounds):
        part = det.new_sketch(ref)
        part.update(pairs(score[a:b], y[a:b]), None if segs is None else segs[a:b])
        back = restore_sketch(json.loads(json.dumps(part.snapshot(), allow_nan=False)))
        assert isinstance(back, ScoreHistogram)
        parts.append(back)
    rng.shuffle(parts)  # type: ignore[arg-type]  # a list shuffles in place
    merged = det.new_sketch(ref)
    for part in parts:
        merged = merged.merge(part)
    rows = max(merged.counts.shape[0], whole.counts.shape[0])
    codes = np.arange(rows)
    for a, b in zip(merged.rows(codes), whole.rows(codes), strict=True):
        if dyadic or a.dtype == np.int64:
            assert np.array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert merged.total == whole.total == int((~np.isnan(y) & ~np.isnan(score)).sum())
