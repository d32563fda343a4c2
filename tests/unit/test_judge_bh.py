"""Benjamini–Hochberg through ``scipy.stats.false_discovery_control``: the same q-values as the
hand-written step-up it replaced (to the last bit but one) and as the brute-force definition
(tests/unit/test_engine.py), for a whole window's worth of p-values and for ties."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.judge import benjamini_hochberg


def hand_written_bh(p: list[float]) -> np.ndarray:
    """The implementation driftline had before (sort, p·n/rank, running minimum from the top)."""
    p_arr = np.asarray(p, dtype=np.float64)
    n = p_arr.size
    order = np.argsort(p_arr)
    ranked = p_arr[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


P_VALUES = st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1e-300, 0.01, 0.05, 1.0]),
                              st.floats(0, 1).map(lambda x: x ** 12)),
                    min_size=1, max_size=300)


@given(P_VALUES)
@settings(max_examples=500, deadline=None)
def test_scipy_bh_equals_the_hand_written_one(p: list[float]) -> None:
    """scipy multiplies p by n/rank where the old code divided p·n by rank: 1 ulp apart at most."""
    q, old = benjamini_hochberg(p), hand_written_bh(p)
    assert q.shape == old.shape and q.dtype == np.float64
    np.testing.assert_allclose(q, old, rtol=4.5e-16, atol=0)


def test_every_decision_at_the_demo_level_is_the_same() -> None:
    """Which tests pass q ≤ alpha does not change (10,000 random windows of 1–500 tests)."""
    rng = np.random.default_rng(17)
    for _ in range(10_000):
        p = rng.random(rng.integers(1, 500)) ** rng.integers(1, 30)
        np.testing.assert_array_equal(benjamini_hochberg(p) <= 0.01, hand_written_bh(p) <= 0.01)


def test_a_models_verdicts_do_not_depend_on_the_models_beside_it() -> None:
    """One BH family per model: model a judged alone, or in one engine with model b (a
    partition of several models, a file of several), gets the same q-values and levels."""
    from synth import per_window, record_findings, run_engine, stream

    from driftline.config import Config
    from driftline.engine import Engine

    times = per_window(8, 1200)
    cut = 3 * 1200  # the warm-up and a clean window, then a's south drifts a little

    def model(name: str, events: list[bytes]) -> list[bytes]:
        return [e.replace(b'"model_id":"m"', b'"model_id":"' + name.encode() + b'"')
                for e in events]

    a = model("a", stream(times[:cut], seed=1) + stream(times[cut:], seed=3, shift=0.12,
                                                        shift_region="south"))
    b = model("b", stream(times, seed=2, shift=0.05))

    def judged(events: list[bytes]) -> list[tuple[object, ...]]:
        engine = Engine(Config.model_validate({"window": {"size": "1m"}}))
        found = record_findings(engine)
        run_engine(engine, [events[i:i + 5000] for i in range(0, len(events), 5000)])
        return sorted((f.key, f.window.index, f.evaluation.statistic, f.level, f.q_value)
                      for f in found if f.model == "a")

    alone = judged(a)
    together = judged([e for pair in zip(a, b, strict=True) for e in pair])
    assert alone and any(q is not None and q < 0.01 for *_, q in alone)
    assert together == alone
