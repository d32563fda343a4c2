"""Calibration from the score histogram: per bin, prob_true and prob_pred are scikit-learn's
``calibration_curve`` on the same bins (uniform and quantile strategies), ECE is the weighted
gap of those to float tolerance; the chi-square test finds a miscalibration, not noise; the
rows that cannot be judged say so."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve

from driftline.detectors import Calibration, EvalContext
from driftline.detectors.sketches import ScoreHistogram


def pairs(score: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.column_stack([np.asarray(score, np.float64), np.asarray(y, np.float64)])


def sklearn_edges(bins: np.ndarray) -> np.ndarray:
    """sklearn bins ``b[i-1] < p <= b[i]``; the sketch ``e[i-1] <= p < e[i]``: the same bins
    with each inner edge moved to the next float up."""
    return np.nextafter(bins[1:-1], np.inf)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 2000), n_bins=st.integers(1, 20),
       strategy=st.sampled_from(["uniform", "quantile"]), levels=st.sampled_from([0, 4, 40]),
       bias=st.floats(-0.3, 0.3))
def test_per_bin_curve_and_ece_are_sklearns(seed: int, n: int, n_bins: int, strategy: str,
                                            levels: int, bias: float) -> None:
    """On any scores in [0, 1] (ties and edge values too), the sketch read at sklearn's bins
    gives sklearn's prob_true and prob_pred for every non-empty bin, and ECE."""
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    if levels:
        score = np.round(score * levels) / levels  # many scores on the bin edges
    y = rng.random(n) < np.clip(score + bias, 0, 1)
    if strategy == "uniform":
        bins = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        bins = np.percentile(score, np.linspace(0, 1, n_bins + 1) * 100)
    sketch = ScoreHistogram(sklearn_edges(bins))
    sketch.update(pairs(score, y))
    det = Calibration(bins=n_bins, grid=n_bins, min_class=1)
    got = det.read(sketch, None, flip=False)
    nonzero = got.n[0] > 0
    if y.all() or not y.any():
        return  # sklearn needs both classes in y_true to tell the positive one
    prob_true, prob_pred = calibration_curve(y, score, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(got.rate[0][nonzero], prob_true, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.mean_score[0][nonzero], prob_pred, rtol=1e-12, atol=1e-15)
    counts = np.bincount(np.searchsorted(bins[1:-1], score), minlength=n_bins)
    ece = float((counts[counts > 0] / n * np.abs(prob_pred - prob_true)).sum())
    assert got.ece[0] == pytest.approx(ece, rel=1e-12, abs=1e-15)


def test_coarse_bins_are_the_references_deciles() -> None:
    """Read at 10 bins of a 200-bin grid: the coarse edges are the reference's deciles, each
    coarse bin holds a tenth of it (± the one event an edge is)."""
    rng = np.random.default_rng(1)
    det = Calibration()
    score = rng.random(10_000)
    ref = det.fit(pairs(score, rng.random(10_000) < score), None)
    got = det.read(ref, None, flip=False)
    coarse = ref.edges[19::20]
    assert coarse.tolist() == np.quantile(score, np.arange(1, 10) / 10,
                                          method="inverted_cdf").tolist()
    assert got.n[0].sum() == 10_000 and np.abs(got.n[0] - 1000).max() <= 1


def data(rng: np.random.Generator, n: int, bias: float) -> np.ndarray:
    s = rng.random(n)
    return pairs(s, rng.random(n) < np.clip(s + bias, 0, 1))


def test_a_miscalibration_is_a_breach_noise_is_not() -> None:
    """Scores that overstate the positive rate by 0.15: ECE grows, the chi-square is
    significant; a window of the same calibration: a p-value that is no evidence."""
    rng = np.random.default_rng(2)
    det = Calibration()
    ref = det.fit(data(rng, 20_000, 0.0), None)
    off, same = det.new_sketch(ref), det.new_sketch(ref)
    off.update(data(rng, 3000, -0.15))
    same.update(data(rng, 3000, 0.0))
    e_off = det.evaluate(off, ref, EvalContext())[0]
    e_same = det.evaluate(same, ref, EvalContext())[0]
    assert e_off.value > 0.1 and e_off.p_value is not None and e_off.p_value < 1e-9
    assert e_off.details["df"] == 10 and len(e_off.top_contributors) == 3
    assert e_same.value < 0.03 and e_same.p_value is not None and e_same.p_value > 0.01


def test_clean_windows_pass_the_chi_square_at_its_level() -> None:
    """200 windows of a well-calibrated score: the share with p < 0.05 is near 0.05 (the
    reference's own error is in the variance: a 2,000-event reference does not inflate it)."""
    rng = np.random.default_rng(3)
    det = Calibration()
    ref = det.fit(data(rng, 2000, 0.0), None)
    ps = []
    for _ in range(200):
        cur = det.new_sketch(ref)
        cur.update(data(rng, 1000, 0.0))
        p = det.evaluate(cur, ref, EvalContext())[0].p_value
        assert p is not None
        ps.append(p)
    assert 0.01 <= np.mean(np.array(ps) < 0.05) <= 0.10


def test_one_class_reference_is_untestable_few_positives_too_small() -> None:
    """A reference of one class: no evaluation; a window of 5 positives: too small."""
    rng = np.random.default_rng(4)
    det = Calibration()
    score = rng.random(5000)
    ref = det.fit(pairs(score, np.zeros(5000)), None)
    cur = det.new_sketch(ref)
    cur.update(data(rng, 1000, 0.0))
    assert det.evaluate_table(cur, ref, EvalContext()).keep.tolist() == [False]
    ref2 = det.fit(data(rng, 5000, 0.0), None)
    few = det.new_sketch(ref2)
    s = rng.random(1000)
    few.update(pairs(s, np.arange(1000) < 5))
    table = det.evaluate_table(few, ref2, EvalContext())
    assert table.keep.tolist() == [True]
    assert det.sufficient_rows(table, 100).tolist() == [False]


def test_a_calibrated_score_of_the_other_class_is_calibrated() -> None:
    """The prediction is the other class's probability (the reference ranks it higher, so
    the classes swap): read as that class's, a calibrated score has an ECE near 0, and a
    window drawn alike is no breach (the score and the classes are swapped once, not twice)."""
    rng = np.random.default_rng(21)
    det = Calibration()

    def other(n: int) -> np.ndarray:
        s = rng.random(n)
        return pairs(s, rng.random(n) >= s)  # P(positive) = 1 − s: s is the other class's

    ref = det.fit(other(20_000), None)
    cur = det.new_sketch(ref)
    cur.update(other(4_000))
    e = det.evaluate(cur, ref, EvalContext())[0]
    assert e.details["score_of"] == "other"
    assert e.details["reference_ece"] < 0.02 and e.details["current_ece"] < 0.04
    assert e.p_value > 0.001
