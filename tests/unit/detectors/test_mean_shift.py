"""Mean shift: Welch's t-test from moments equals scipy's on the raw values; merges exactly."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from driftline.detectors import EvalContext, MeanShift
from driftline.detectors.mean_shift import welch


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 400), st.integers(2, 400),
       st.floats(-5, 5), st.floats(0.1, 4))
def test_welch_from_moments_is_scipys_on_the_raw_values(seed: int, n_ref: int, n_cur: int,
                                                        shift: float, scale: float) -> None:
    """t and p equal scipy.stats.ttest_ind(equal_var=False) on the values the sketches hold."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(3, 1, n_ref), rng.normal(3 + shift, scale, n_cur)
    det = MeanShift()
    ref = det.fit(a, None)
    cur = det.new_sketch(ref)
    cur.update(b)
    e = det.evaluate(cur, ref, EvalContext())[0]
    want = stats.ttest_ind(b, a, equal_var=False)
    assert math.isclose(e.details["t"], want.statistic, rel_tol=1e-7, abs_tol=1e-9)
    assert e.p_value is not None
    assert math.isclose(e.p_value, want.pvalue, rel_tol=1e-6, abs_tol=1e-12)
    same = stats.ttest_ind_from_stats(a.mean(), a.std(ddof=1), n_ref, b.mean(), b.std(ddof=1),
                                      n_cur, equal_var=False)
    assert math.isclose(welch(a.mean(), a.var(ddof=1), n_ref, b.mean(), b.var(ddof=1), n_cur)[1],
                        same.pvalue, rel_tol=1e-6, abs_tol=1e-12)


def test_the_value_is_the_relative_change_of_the_mean_or_its_root() -> None:
    """MAE 1 → 1.2 is +0.2; MSE 1 → 1.44 with root is RMSE's +0.2."""
    det, root = MeanShift(), MeanShift(root=True)
    ref = det.fit(np.array([0.5, 1.5] * 500), None)
    for d, values, want in ((det, [1.0, 1.4] * 100, 0.2), (root, [1.44] * 200, 0.2)):
        cur = d.new_sketch(ref)
        cur.update(np.array(values))
        assert math.isclose(d.evaluate(cur, ref, EvalContext())[0].value, want, rel_tol=1e-9)


def test_segments_use_their_own_reference_or_the_overall_one() -> None:
    """A segment with too small a reference is compared with the whole reference."""
    det = MeanShift()
    values = np.r_[np.ones(1000), np.full(10, 5.0)]
    segments = np.r_[np.zeros(1000, np.int64), np.ones(10, np.int64)]
    ref = det.fit(values, segments)
    cur = det.new_sketch(ref)
    cur.update(np.ones(400), np.r_[np.zeros(200, np.int64), np.ones(200, np.int64)])
    evals = det.evaluate(cur, ref, EvalContext(segments=[(0, "a"), (1, "b")], min_reference=100))
    assert [e.details["reference_scope"] for e in evals] == ["segment", "overall"]
