"""Segments: which reference each segment is judged against, new segments, and unseen categories.

A segment is evaluated against its own reference when that has at least ``min_reference``
events, otherwise against the overall reference (``details["reference_scope"]``). A segment's
evaluation must equal an unsegmented evaluation of the same current events against the chosen
reference alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from driftline.detectors import (
    KS,
    PSI,
    CategoricalPSI,
    ChiSquare,
    Detector,
    DisparateImpact,
    EvalContext,
    Evaluation,
    GradualDrift,
    JensenShannon,
    SegmentRate,
    SegmentVolume,
)
from driftline.detectors.categorical import UNSEEN

MIN_REFERENCE = 100
#: reference events per segment: 0 and 2 have their own reference, 1 is too small, 3 is new
REFERENCE_SIZES = {0: 3_000, 1: MIN_REFERENCE - 1, 2: 2_000, 4: MIN_REFERENCE}
CURRENT_SIZES = {0: 1_000, 1: 400, 2: 800, 3: 600, 4: 300}
CTX_SEGMENTS = [(s, f"seg{s}") for s in range(6)]  # 5 is in neither reference nor current
OWN_SCOPE = {0: "segment", 1: "overall", 2: "segment", 3: "overall", 4: "segment", 5: "overall"}

SCOPED = [PSI, KS, ChiSquare, JensenShannon, CategoricalPSI, SegmentRate]


def draw(kind: str, rng: np.random.Generator, segment: int, n: int, current: bool) -> np.ndarray:
    """Values whose distribution differs by segment (and a little between reference and current)."""
    shift = 0.1 if current else 0.0
    if kind == "numeric":
        return rng.normal(segment * 0.5 + shift, 1.0 + 0.2 * segment, n)
    if kind == "categorical":
        p = np.roll([0.4, 0.3, 0.15, 0.1, 0.05], segment) + shift * np.arange(5) / 10
        return rng.choice(5, n, p=p / p.sum()).astype(np.int64)
    if kind == "binary":
        return (rng.random(n) < 0.1 + 0.15 * segment + shift).astype(np.int64)
    raise AssertionError(kind)


def sample(kind: str, sizes: dict[int, int], seed: int, current: bool):
    rng = np.random.default_rng(seed)
    values = np.concatenate([draw(kind, rng, s, n, current) for s, n in sizes.items()])
    segments = np.concatenate([np.full(n, s, np.int64) for s, n in sizes.items()])
    order = rng.permutation(values.size)
    return values[order], segments[order]


def comparable(e: Evaluation) -> dict[str, Any]:
    """The parts of an evaluation that must not depend on how the reference was chosen."""
    details = {k: v for k, v in e.details.items() if k != "reference_scope"}
    return {"value": e.value, "p_value": e.p_value, "n_reference": e.n_reference,
            "n_current": e.n_current, "top": e.top_contributors, "details": details}


def assert_close(a: Any, b: Any, path: str = "") -> None:
    """Recursive equality with floats compared to 1e-9 relative (NaN equals NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            assert_close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12, nan_ok=True), path
    else:
        assert a == b, path


def assert_same_evaluation(a: Evaluation, b: Evaluation) -> None:
    assert_close(comparable(a), comparable(b))


@pytest.mark.parametrize("cls", SCOPED, ids=lambda c: c.__name__)
def test_segment_uses_own_reference_only_when_large_enough(cls: type[Detector]) -> None:
    """A segment with >= min_reference reference events is judged on its own, else on all."""
    det = cls()
    kind = det.input_kind
    ref_values, ref_segments = sample(kind, REFERENCE_SIZES, seed=1, current=False)
    cur_values, cur_segments = sample(kind, CURRENT_SIZES, seed=2, current=True)
    reference = det.fit(ref_values, ref_segments)
    current = det.new_sketch(reference)
    current.update(cur_values, cur_segments)
    ctx = EvalContext(segments=CTX_SEGMENTS, min_reference=MIN_REFERENCE)

    evals = det.evaluate(current, reference, ctx)

    assert [e.segment for e in evals] == [name for _, name in CTX_SEGMENTS]
    for (code, _), e in zip(CTX_SEGMENTS, evals, strict=True):
        assert e.details["reference_scope"] == OWN_SCOPE[code], e.segment
        # the same events, evaluated unsegmented against the chosen reference alone
        chosen = det.new_sketch(reference)
        mask = ref_segments == code if OWN_SCOPE[code] == "segment" else slice(None)
        chosen.update(ref_values[mask], None)
        alone = det.new_sketch(reference)
        alone.update(cur_values[cur_segments == code], None)
        expected = det.evaluate(alone, chosen, EvalContext())[0]
        assert e.n_reference == (REFERENCE_SIZES[code] if OWN_SCOPE[code] == "segment"
                                 else ref_values.size)
        assert e.n_current == CURRENT_SIZES.get(code, 0)
        assert_same_evaluation(e, expected)


def test_gradual_drift_uses_own_reference_only_when_large_enough() -> None:
    """Gradual drift standardises a segment by its own reference moments only when large enough."""
    det = GradualDrift()
    ref_values, ref_segments = sample("numeric", REFERENCE_SIZES, seed=3, current=False)
    cur_values, cur_segments = sample("numeric", CURRENT_SIZES, seed=4, current=True)
    reference = det.fit(ref_values, ref_segments)
    current = det.new_sketch(reference)
    current.update(cur_values, cur_segments)
    ctx = EvalContext(segments=CTX_SEGMENTS, min_reference=MIN_REFERENCE)

    evals = {e.segment: e for e in det.evaluate(current, reference, ctx)}

    assert set(evals) == {f"seg{s}" for s in CURRENT_SIZES}  # seg5 has no current events
    for code in CURRENT_SIZES:
        e = evals[f"seg{code}"]
        own = OWN_SCOPE[code] == "segment"
        base = ref_values[ref_segments == code] if own else ref_values
        now = cur_values[cur_segments == code]
        assert e.n_reference == base.size
        assert e.details["reference_mean"] == pytest.approx(base.mean(), rel=1e-9, abs=1e-12)
        assert e.value == pytest.approx((now.mean() - base.mean()) / base.std(), rel=1e-9)


def test_min_reference_boundary_is_inclusive() -> None:
    """Exactly min_reference events suffice for a segment's own reference; one fewer does not."""
    det = PSI()
    rng = np.random.default_rng(5)
    segments = np.repeat([0, 1, 2], [5_000, MIN_REFERENCE, MIN_REFERENCE - 1])
    reference = det.fit(rng.normal(0, 1, segments.size), segments)
    current = det.new_sketch(reference)
    current.update(rng.normal(0, 1, 900), np.repeat([0, 1, 2], 300))
    ctx = EvalContext(segments=[(0, "a"), (1, "b"), (2, "c")], min_reference=MIN_REFERENCE)
    scopes = [e.details["reference_scope"] for e in det.evaluate(current, reference, ctx)]
    assert scopes == ["segment", "segment", "overall"]


def test_new_segment_volume_is_not_judged_and_vanished_segment_is_silent() -> None:
    """A segment new since the reference gets no volume evaluation; a vanished one reads silent."""
    det = SegmentVolume()
    reference = det.fit(np.zeros(3_000, np.int64), np.repeat([0, 1, 2], 1_000))
    current = det.new_sketch(reference)
    current.update(np.zeros(1_500, np.int64), np.repeat([0, 1, 3], 500))
    ctx = EvalContext(segments=[(s, f"seg{s}") for s in range(5)])

    evals = {e.segment: e for e in det.evaluate(current, reference, ctx)}

    assert set(evals) == {"seg0", "seg1", "seg2"}  # seg3 is new, seg4 never seen
    assert evals["seg2"].value == 0.0 and evals["seg2"].details["silent"]
    assert evals["seg2"].p_value == pytest.approx(math.exp(-500.0), rel=1e-9)
    assert evals["seg0"].value == pytest.approx((500 / 1_500) / (1 / 3), rel=1e-12)


def test_disparate_impact_skips_groups_too_small_or_absent() -> None:
    """Groups with fewer than min_group events in the window, or none, are not compared."""
    det = DisparateImpact(min_group=30)
    current = det.new_sketch()
    outcomes = np.concatenate([np.ones(50), np.zeros(50), np.ones(29)]).astype(np.int64)
    current.update(outcomes, np.repeat([0, 1, 2], [50, 50, 29]))
    ctx = EvalContext(segments=[(s, f"g{s}") for s in range(4)])
    evals = det.evaluate(current, current, ctx)
    assert [(e.segment, e.value) for e in evals] == [("g0", 1.0), ("g1", 0.0)]


# --- unseen categories --------------------------------------------------------------------

CATEGORICAL = [ChiSquare, JensenShannon, CategoricalPSI]


@pytest.mark.parametrize("cls", CATEGORICAL, ids=lambda c: c.__name__)
def test_unseen_categories_fold_into_one_top_contributor(cls: type[Detector]) -> None:
    """Current categories absent from the reference sum into "__unseen__", the top contributor."""
    det = cls()
    rng = np.random.default_rng(6)
    reference = det.fit(rng.choice(3, 6_000, p=[0.5, 0.3, 0.2]), None)
    # 15% of the current window spread thinly over five codes the reference never saw
    cur = np.where(rng.random(4_000) < 0.15, rng.integers(3, 8, 4_000),
                   rng.choice(3, 4_000, p=[0.5, 0.3, 0.2]))
    current = det.new_sketch(reference)
    current.update(cur, None)
    names = ["a", "b", "c", "d", "e", "f", "g", "h"]

    e = det.evaluate(current, reference, EvalContext(categories=names))[0]

    top = e.top_contributors[0]
    assert top["category"] == UNSEEN
    assert top["reference_share"] == 0.0
    assert top["current_share"] == pytest.approx(np.mean(cur >= 3), abs=1e-6)
    assert [c["category"] for c in e.top_contributors].count(UNSEEN) == 1
    assert not {"d", "e", "f", "g", "h"} & {c["category"] for c in e.top_contributors}
    assert e.n_current == cur.size


def test_vocabulary_category_without_reference_count_is_unseen() -> None:
    """A vocabulary category with no reference events counts as unseen, not as its own category."""
    det = CategoricalPSI()
    rng = np.random.default_rng(7)
    reference = det.fit(rng.choice([0, 2], 5_000), None)  # "b" (code 1) never occurs
    current = det.new_sketch(reference)
    current.update(rng.choice(3, 3_000), None)
    e = det.evaluate(current, reference, EvalContext(categories=["a", "b", "c"]))[0]
    categories = [c["category"] for c in e.top_contributors]
    assert categories[0] == UNSEEN and "b" not in categories


def test_category_unseen_in_segment_reference_is_unseen_for_that_segment() -> None:
    """Per segment, categories missing from the segment's own reference fold into "__unseen__"."""
    det = ChiSquare()
    rng = np.random.default_rng(8)
    # segment 0 never shows category 2 in the reference; segment 1 does
    ref_values = np.concatenate([rng.choice([0, 1], 2_000), rng.choice(3, 2_000)])
    ref_segments = np.repeat([0, 1], 2_000)
    reference = det.fit(ref_values, ref_segments)
    current = det.new_sketch(reference)
    current.update(np.concatenate([rng.choice(3, 1_000), rng.choice(3, 1_000)]),
                   np.repeat([0, 1], 1_000))
    ctx = EvalContext(segments=[(0, "s0"), (1, "s1")], categories=["a", "b", "c"],
                      min_reference=MIN_REFERENCE)

    s0, s1 = det.evaluate(current, reference, ctx)

    assert s0.details["reference_scope"] == s1.details["reference_scope"] == "segment"
    assert s0.top_contributors[0]["category"] == UNSEEN
    assert UNSEEN not in [c["category"] for c in s1.top_contributors]
    assert s1.value < 0.1 < s0.value
