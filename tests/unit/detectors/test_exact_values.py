"""Detector statistics against independent references: plain formulas on raw samples and scipy.

Every reference here is computed from the raw samples, never from a detector's sketch, so a
test fails if the sketch loses information the statistic needs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from driftline.detectors import (
    KS,
    PSI,
    CategoricalPSI,
    ChiSquare,
    DisparateImpact,
    EvalContext,
    GradualDrift,
    JensenShannon,
    SegmentRate,
    SegmentVolume,
)
from driftline.detectors.ks import ks_p_value
from driftline.detectors.sketches import Moments

# --- numeric samples ----------------------------------------------------------------------


def numeric_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, reference, current) raw samples covering shifts, scales, ties and small n."""
    rng = np.random.default_rng(2024)
    pairs = []
    for i in range(6):
        pairs += [
            (f"same-{i}", rng.normal(0, 1, 5_000), rng.normal(0, 1, 2_000)),
            (f"shifted-{i}", rng.normal(0, 1, 5_000), rng.normal(0.05 * (i + 1), 1, 3_000)),
            (f"scaled-{i}", rng.normal(0, 1, 4_000), rng.normal(0, 1 + 0.2 * i, 2_500)),
            (f"tied-{i}", rng.integers(0, 4 + i, 3_000).astype(float),
             rng.integers(0, 5 + i, 1_000).astype(float)),
            (f"rounded-{i}", np.round(rng.normal(0, 1, 2_000), 1),
             np.round(rng.normal(0.1 * i, 1, 800), 1)),
            (f"small-{i}", rng.normal(0, 1, 30), rng.normal(0.3 * i, 1, 30)),
            (f"small-uneven-{i}", rng.normal(0, 1, 200), rng.normal(0.2 * i, 1.5, 30)),
            (f"heavy-tailed-{i}", rng.standard_t(2, 3_000), rng.standard_t(2, 1_500) + 0.1 * i),
            (f"one-bin-pileup-{i}", rng.normal(0, 1, 3_000), np.full(50 + i, 0.25)),
        ]
    return pairs


PAIRS = numeric_pairs()
PAIR_IDS = [name for name, _, _ in PAIRS]


def fit_and_update(det, ref: np.ndarray, cur: np.ndarray):
    reference = det.fit(ref, None)
    current = det.new_sketch(reference)
    current.update(cur, None)
    return det.evaluate(current, reference, EvalContext())[0]


# --- PSI ----------------------------------------------------------------------------------


def plain_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10, epsilon: float = 1e-4) -> float:
    """PSI from raw samples: reference k/bins quantile edges, bin i = edges[i-1] <= x < edges[i]."""
    edges = np.quantile(ref, [k / bins for k in range(1, bins)], method="inverted_cdf")
    lows = [-math.inf, *edges]
    highs = [*edges, math.inf]

    def shares(x: np.ndarray) -> list[float]:
        counts = [np.count_nonzero((x >= lo) & (x < hi))
                  for lo, hi in zip(lows, highs, strict=True)]
        return [max(c / x.size, epsilon) for c in counts]

    return sum((c - r) * math.log(c / r) for r, c in zip(shares(ref), shares(cur), strict=True))


@pytest.mark.parametrize(("name", "ref", "cur"), PAIRS, ids=PAIR_IDS)
def test_psi_matches_plain_formula(name: str, ref: np.ndarray, cur: np.ndarray) -> None:
    """PSI read from the fine grid equals PSI recomputed from raw samples at reference deciles."""
    e = fit_and_update(PSI(), ref, cur)
    assert e.value == pytest.approx(plain_psi(ref, cur), abs=1e-12, rel=0)
    assert (e.n_reference, e.n_current) == (ref.size, cur.size)


def test_psi_bins_and_epsilon_are_configurable() -> None:
    """PSI with other bin counts and epsilon still equals the plain formula."""
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(0, 1, 3_000), rng.normal(0.4, 1.2, 1_000)
    for bins, grid, epsilon in [(5, 1000, 1e-4), (20, 1000, 1e-3), (4, 200, 1e-6)]:
        e = fit_and_update(PSI(bins=bins, grid=grid, epsilon=epsilon), ref, cur)
        assert e.value == pytest.approx(plain_psi(ref, cur, bins, epsilon), abs=1e-12, rel=0)


def test_categorical_psi_matches_plain_formula() -> None:
    """Categorical PSI equals the plain formula over shares, unseen categories in one bucket."""
    rng = np.random.default_rng(6)
    ref = rng.choice(5, 4_000, p=[0.4, 0.3, 0.2, 0.1, 0.0])
    cur = rng.choice(7, 1_500, p=[0.3, 0.3, 0.2, 0.1, 0.04, 0.03, 0.03])
    r = np.bincount(ref, minlength=7) / ref.size
    c = np.bincount(cur, minlength=7) / cur.size
    seen = r > 0
    r_f = np.maximum(np.append(r[seen], 0.0), 1e-4)
    c_f = np.maximum(np.append(c[seen], c[~seen].sum()), 1e-4)
    expected = float(np.sum((c_f - r_f) * np.log(c_f / r_f)))

    det = CategoricalPSI()
    reference = det.fit(ref, None)
    current = det.new_sketch(reference)
    current.update(cur, None)
    assert det.evaluate(current, reference, EvalContext())[0].value == pytest.approx(
        expected, abs=1e-12, rel=0)


# --- KS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "ref", "cur"), PAIRS, ids=PAIR_IDS)
def test_ks_grid_d_brackets_exact_d(name: str, ref: np.ndarray, cur: np.ndarray) -> None:
    """D on the grid is at most scipy's exact D, and short of it by at most the reported bound."""
    e = fit_and_update(KS(), ref, cur)
    d_scipy = float(stats.ks_2samp(ref, cur).statistic)
    assert e.value <= d_scipy + 1e-12
    assert d_scipy <= e.value + e.details["d_error_bound"] + 1e-12


@pytest.mark.parametrize(("name", "ref", "cur"), PAIRS, ids=PAIR_IDS)
def test_ks_p_value_is_kolmogorov_at_effective_n(
    name: str, ref: np.ndarray, cur: np.ndarray
) -> None:
    """The p-value is kstwo.sf(D_grid, round(n·m/(n+m))), scipy's asymptotic p when D agrees;
    in the documented far tail (below 1e-3, en ≥ 200) it is within 4% of it."""
    e = fit_and_update(KS(), ref, cur)
    n, m = ref.size, cur.size
    en = round(n * m / (n + m))
    exact = stats.kstwo.sf(e.value, en)
    if e.p_value >= 1e-3 or en < 200:
        assert e.p_value == pytest.approx(exact, rel=1e-12, abs=0)
        scipy = stats.ks_2samp(ref, cur, method="asymp")
        if abs(float(scipy.statistic) - e.value) <= 1e-12:
            assert e.p_value == pytest.approx(float(scipy.pvalue), rel=1e-9, abs=1e-15)
    elif exact >= 1e-6:
        assert e.p_value == pytest.approx(exact, rel=0.04)
    else:
        assert e.p_value < 1e-5


def test_ks_grid_d_equals_exact_d_on_grid_aligned_data() -> None:
    """When every observed value is a grid edge, D_grid is scipy's D and p is its asymptotic p."""
    rng = np.random.default_rng(8)
    for i in range(20):
        ref = rng.integers(0, 50, 5_000).astype(float)
        low = rng.random(800 + 50 * i) < 0.02 * i  # current piles onto small values
        cur = np.where(low, rng.integers(0, 10, low.size), rng.integers(0, 50, low.size))
        cur = cur.astype(float)
        reference = KS().fit(ref, None)
        assert np.isin(np.concatenate([ref, cur]), reference.edges).all()
        e = fit_and_update(KS(), ref, cur)
        scipy = stats.ks_2samp(ref, cur, method="asymp")
        assert e.value == pytest.approx(float(scipy.statistic), abs=1e-12, rel=0)
        if e.p_value >= 1e-3:  # below: the documented tail approximation (checked above)
            assert e.p_value == pytest.approx(float(scipy.pvalue), rel=1e-9, abs=1e-15)


# --- categorical --------------------------------------------------------------------------


def categorical_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(31)
    out = []
    for i in range(8):
        k_ref, k_cur = 3 + i % 4, 3 + i % 4 + (i % 3)  # current sometimes has unseen codes
        p_ref = rng.dirichlet(np.ones(k_ref))
        p_cur = rng.dirichlet(np.ones(k_cur))
        out.append((rng.choice(k_ref, 3_000 + 100 * i, p=p_ref),
                    rng.choice(k_cur, 500 + 300 * i, p=p_cur)))
    # near-identical mixes (large p-values) and a 2-category table (dof = 1)
    out.append((rng.choice(4, 5_000), rng.choice(4, 5_000)))
    out.append((rng.choice(2, 1_000, p=[0.7, 0.3]), rng.choice(2, 400, p=[0.6, 0.4])))
    return out


def folded_table(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """The 2×K table as categorical.py documents it: unseen categories summed into one column."""
    width = max(ref.max(), cur.max()) + 1
    r, c = np.bincount(ref, minlength=width), np.bincount(cur, minlength=width)
    seen = r > 0
    table = np.array([np.append(r[seen], 0), np.append(c[seen], c[~seen].sum())])
    return table[:, table.sum(axis=0) > 0]  # scipy rejects all-zero columns


def categorical_eval(det, ref: np.ndarray, cur: np.ndarray):
    reference = det.fit(ref, None)
    current = det.new_sketch(reference)
    current.update(cur, None)
    return det.evaluate(current, reference, EvalContext())[0]


@pytest.mark.parametrize(("ref", "cur"), categorical_pairs())
def test_chi_square_matches_scipy_contingency(ref: np.ndarray, cur: np.ndarray) -> None:
    """chi2, dof and p equal scipy chi2_contingency(correction=False) on the folded 2×K table."""
    e = categorical_eval(ChiSquare(), ref, cur)
    scipy = stats.chi2_contingency(folded_table(ref, cur), correction=False)
    assert e.details["chi2"] == pytest.approx(scipy.statistic, rel=1e-12, abs=1e-12)
    assert e.details["dof"] == scipy.dof
    assert e.p_value == pytest.approx(scipy.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("ref", "cur"), categorical_pairs())
def test_chi_square_value_is_cohens_w(ref: np.ndarray, cur: np.ndarray) -> None:
    """The value is Cohen's w over non-empty folded buckets, reference shares floored at epsilon."""
    table = folded_table(np.asarray(ref), np.asarray(cur)).astype(float)
    width = max(ref.max(), cur.max()) + 1
    r_all, c_all = np.bincount(ref, minlength=width), np.bincount(cur, minlength=width)
    seen = r_all > 0
    r = np.maximum(np.append(r_all[seen], 0) / ref.size, 1e-4)  # floored, as documented
    c = np.append(c_all[seen], c_all[~seen].sum()) / cur.size
    occupied = (np.append(r_all[seen], 0) > 0) | (c > 0)  # no unseen events: no unseen bucket
    w = math.sqrt(float(np.sum(((c - r) ** 2 / r)[occupied])))
    assert table.shape[1] >= 2
    assert categorical_eval(ChiSquare(), ref, cur).value == pytest.approx(w, rel=1e-12)


@pytest.mark.parametrize(("ref", "cur"), categorical_pairs())
def test_jensen_shannon_matches_scipy(ref: np.ndarray, cur: np.ndarray) -> None:
    """The value equals scipy's base-2 Jensen–Shannon distance between the raw category counts."""
    width = max(ref.max(), cur.max()) + 1
    # folding categories absent from the reference leaves JS unchanged, so compare unfolded
    expected = distance.jensenshannon(np.bincount(ref, minlength=width),
                                      np.bincount(cur, minlength=width), base=2)
    e = categorical_eval(JensenShannon(), ref, cur)
    assert e.value == pytest.approx(float(expected), rel=1e-12, abs=1e-15)
    assert e.p_value == pytest.approx(
        stats.chi2_contingency(folded_table(ref, cur), correction=False).pvalue,
        rel=1e-9, abs=1e-300)


# --- segment rate, disparate impact, volume -----------------------------------------------


def test_segment_rate_z_and_p_match_hand_formula_and_scipy() -> None:
    """Per segment, z is the pooled two-proportion z and p its two-sided normal tail (scipy)."""
    rng = np.random.default_rng(41)
    base = np.array([0.3, 0.5, 0.1, 0.7, 0.02])
    now = np.array([0.3, 0.45, 0.14, 0.7, 0.05])
    seg_ref = rng.integers(0, 5, 30_000)
    out_ref = (rng.random(30_000) < base[seg_ref]).astype(np.int64)
    seg_cur = rng.integers(0, 5, 6_000)
    out_cur = (rng.random(6_000) < now[seg_cur]).astype(np.int64)

    det = SegmentRate()
    reference = det.fit(out_ref, seg_ref)
    current = det.new_sketch(reference)
    current.update(out_cur, seg_cur)
    ctx = EvalContext(segments=[(s, f"s{s}") for s in range(5)])
    evals = det.evaluate(current, reference, ctx)

    assert [e.segment for e in evals] == [f"s{s}" for s in range(5)]
    for s, e in enumerate(evals):
        n1, s1 = int(np.sum(seg_ref == s)), int(out_ref[seg_ref == s].sum())
        n2, s2 = int(np.sum(seg_cur == s)), int(out_cur[seg_cur == s].sum())
        pooled = (s1 + s2) / (n1 + n2)
        z = (s2 / n2 - s1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        p_hand = math.erfc(abs(z) / math.sqrt(2))
        assert (e.n_reference, e.n_current) == (n1, n2)
        assert e.value == pytest.approx(s2 / n2 - s1 / n1, rel=1e-12, abs=1e-15)
        assert e.details["z"] == pytest.approx(z, rel=1e-12)
        assert e.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9, abs=1e-300)
        assert e.p_value == pytest.approx(p_hand, rel=1e-9, abs=1e-300)


def test_disparate_impact_ratio_is_rate_over_max_rate() -> None:
    """Each group's value is its selection rate over the top group's; small groups are left out."""
    rng = np.random.default_rng(43)
    rates = np.array([0.4, 0.32, 0.2, 0.45])
    group = rng.choice(4, 8_000, p=[0.4, 0.3, 0.297, 0.003])
    chosen = (rng.random(8_000) < rates[group]).astype(np.int64)
    det = DisparateImpact(min_group=30)
    current = det.new_sketch()
    current.update(chosen, group)
    ctx = EvalContext(segments=[(g, f"g{g}") for g in range(4)])
    evals = {e.segment: e for e in det.evaluate(current, current, ctx)}

    sizes = np.bincount(group, minlength=4)
    observed = np.array([chosen[group == g].mean() for g in range(4)])
    eligible = [g for g in range(4) if sizes[g] >= 30]
    best = max(eligible, key=lambda g: observed[g])
    assert set(evals) == {f"g{g}" for g in eligible}
    for g in eligible:
        e = evals[f"g{g}"]
        assert e.value == pytest.approx(observed[g] / observed[best], rel=1e-12)
        assert e.details["reference_group"] == f"g{best}"
        n1, s1 = sizes[best], chosen[group == best].sum()
        n2, s2 = sizes[g], chosen[group == g].sum()
        pooled = (s1 + s2) / (n1 + n2)
        var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
        z = (s2 / n2 - s1 / n1) / math.sqrt(var)
        assert e.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9, abs=1e-300)


def test_volume_p_value_is_poisson_cdf() -> None:
    """A segment's value is its share ratio and p is Poisson P(X <= current | ref share × N)."""
    rng = np.random.default_rng(47)
    ref_seg = rng.choice(5, 20_000, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    cur_seg = rng.choice(5, 3_000, p=[0.6, 0.2, 0.15, 0.05, 0.0])
    det = SegmentVolume()
    reference = det.fit(np.zeros(ref_seg.size, np.int64), ref_seg)
    current = det.new_sketch(reference)
    current.update(np.zeros(cur_seg.size, np.int64), cur_seg)
    evals = det.evaluate(current, reference, EvalContext(segments=[(s, f"s{s}") for s in range(5)]))

    assert len(evals) == 5
    for s, e in enumerate(evals):
        share = np.sum(ref_seg == s) / ref_seg.size
        c = int(np.sum(cur_seg == s))
        assert e.value == pytest.approx((c / cur_seg.size) / share, rel=1e-12)
        assert e.p_value == pytest.approx(stats.poisson.cdf(c, share * cur_seg.size), rel=1e-12)
        assert e.details["silent"] == (c == 0 and share * cur_seg.size >= det.min_expected)
    assert evals[4].details["silent"] and evals[4].value == 0.0


# --- gradual drift ------------------------------------------------------------------------


def run_stream(det: GradualDrift, seed: int, windows: int, creep: float,
               per_window: int = 5_000) -> int | None:
    """Feed ``windows`` windows whose mean moves ``creep`` sd per window; first detecting window."""
    rng = np.random.default_rng(seed)
    reference = det.fit(rng.normal(0, 1, 50_000), None)
    memory = det.new_memory()
    for w in range(windows):
        current = det.new_sketch(reference)
        current.update(rng.normal(creep * w, 1, per_window), None)
        e = det.evaluate(current, reference, EvalContext(), memory)[0]
        if e.details["change_detected"]:
            return w
    return None


@pytest.mark.parametrize("seed", range(5))
def test_gradual_null_stream_raises_no_detection(seed: int) -> None:
    """Without drift, 300 windows of 5000 iid normal events raise no PageHinkley detection."""
    assert run_stream(GradualDrift(), seed, windows=300, creep=0.0) is None


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sign", [1, -1])
def test_gradual_detects_slow_creep_within_40_windows(seed: int, sign: int) -> None:
    """A mean creeping by 0.004 sd per window, up or down, is detected within 40 windows."""
    first = run_stream(GradualDrift(), seed, windows=40, creep=sign * 0.004)
    assert first is not None and first < 40


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e8])
def test_gradual_shift_matches_raw_sample_formula(offset: float) -> None:
    """The reported shift is (mean_w − mean_ref) / sd_ref of the raw samples, at any offset."""
    rng = np.random.default_rng(53)
    ref = offset + rng.normal(0, 1, 20_000)
    cur = offset + rng.normal(0.1, 1, 5_000)
    det = GradualDrift()
    reference = det.fit(ref, None)
    current = det.new_sketch(reference)
    current.update(cur, None)
    evals = det.evaluate(current, reference, EvalContext())
    assert len(evals) == 1
    expected = (cur.mean() - ref.mean()) / ref.std()
    assert evals[0].value == pytest.approx(expected, rel=1e-6)
    assert evals[0].details["z"] == pytest.approx(expected * math.sqrt(cur.size), rel=1e-6)


def test_moments_with_different_shifts_merge_to_raw_sample_moments() -> None:
    """Moments fitted with different shifts merge to the pooled raw-sample mean and variance."""
    rng = np.random.default_rng(59)
    a, b = 1e6 + rng.normal(0, 2, 3_000), 1e6 + rng.normal(5, 1, 2_000)
    sketch_a, sketch_b = Moments.fit(a), Moments.fit(b)
    sketch_a.update(a)
    sketch_b.update(b)
    assert sketch_a.shift != sketch_b.shift
    both = np.concatenate([a, b])
    for merged in (sketch_a.merge(sketch_b), sketch_b.merge(sketch_a),
                   Moments().merge(sketch_a).merge(sketch_b)):
        n, mean, var = merged.stats()
        assert n == both.size
        assert mean == pytest.approx(both.mean(), rel=1e-12)
        assert var == pytest.approx(both.var(), rel=1e-8)


@pytest.mark.parametrize("n", [200, 1_000, 5_000, 50_000])
def test_ks_tail_p_value_stays_within_four_percent_of_kstwo(n: int) -> None:
    """Where the fast tail approximation is used, it is within 4% of kstwo.sf for p in [1e-6, 1e-3]."""
    used = 0
    for d in np.linspace(0.001, 0.5, 400):
        exact = float(stats.kstwo.sf(d, n))
        p = ks_p_value(float(d), n * 10**6, n)  # en rounds to n
        if p >= 1e-3:
            assert p == pytest.approx(exact, rel=1e-12)
        elif exact >= 1e-6:
            used += 1
            assert p == pytest.approx(exact, rel=0.04)
    assert used > 0, "the tail approximation was never exercised"
