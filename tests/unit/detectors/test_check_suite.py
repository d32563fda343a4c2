"""One generic check suite run over every detector class in ``REGISTRY`` (as river's ``checks``).

Each detector is exercised through its public shape: ``fit`` → ``new_sketch`` → sketch
``update``/``merge``/``snapshot`` → ``evaluate``; sketch state is compared array by array
over the sketch's ``__slots__``. Inputs follow the detector's ``input_kind``:
numeric floats, categorical int codes, binary 0/1 outcomes, volume (zeros with segment codes);
every check runs with and without segments.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.detectors import REGISTRY, Detector, EvalContext, Evaluation
from driftline.detectors.sketches import Sketch, restore_sketch

N_SEGMENTS = 4
N_CATEGORIES = 6
MIN_REFERENCE = 50

DETECTORS: list[type[Detector]] = list(
    dict.fromkeys(cls for by_kind in REGISTRY.values() for cls in by_kind.values())
)


def cases(keep: Callable[[type[Detector]], bool] = lambda cls: True) -> list[Any]:
    """(detector class, segmented) parameters for the classes ``keep`` accepts."""
    return [
        pytest.param(cls, segmented, id=f"{cls.__name__}-{'segmented' if segmented else 'flat'}")
        for cls in DETECTORS if keep(cls)
        for segmented in (False, True)
    ]


CASES = cases()
#: value an evaluation takes when it has no evidence of drift (nothing to compare)
NEUTRAL = {"above": 0.0, "below": 1.0, "both": 0.0}
#: detectors whose value is a difference, not a ratio, though smaller is worse
NEUTRAL_BY_DETECTOR = {"auc": 0.0}


def neutral(det: Detector) -> float:
    return NEUTRAL_BY_DETECTOR.get(det.name, NEUTRAL[det.direction])


# --- inputs -------------------------------------------------------------------------------


def make_values(kind: str, rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    """Random input of ``kind``; ``shift`` moves the distribution (mean, category mix, rate)."""
    if kind == "numeric":
        return rng.normal(shift, 1.0 + shift, n)
    if kind == "categorical":
        p = np.linspace(1.0, 1.0 + 4 * shift, N_CATEGORIES)
        return rng.choice(N_CATEGORIES, n, p=p / p.sum()).astype(np.int64)
    if kind == "binary":
        return (rng.random(n) < 0.3 + shift).astype(np.int64)
    if kind == "volume":
        return np.zeros(n, np.int64)
    if kind == "scored":
        # (score, label) pairs: dyadic scores (exact sums), labels more likely for high scores
        score = np.round(np.clip(rng.normal(0.5 + shift, 0.2, n), 0, 1) * 64) / 64
        return np.column_stack([score, (rng.random(n) < score).astype(np.float64)])
    if kind == "estimated":
        # (score, decision code, wrong): decide 1 above 0.5, wrong more often near 0.5, a
        # tenth unlabelled and a twentieth without a score
        score = np.round(np.clip(rng.normal(0.4 + shift, 0.2, n), 0, 1) * 64) / 64
        wrong = (rng.random(n) < 0.5 - np.abs(score - 0.5)).astype(np.float64)
        wrong[rng.random(n) < 0.1] = np.nan
        score[rng.random(n) < 0.05] = np.nan
        return np.column_stack([score, (score > 0.5).astype(np.float64), wrong])
    raise AssertionError(f"unknown input kind {kind!r}")


def make_segments(rng: np.random.Generator, n: int, segmented: bool) -> np.ndarray | None:
    if not segmented:
        return None
    # uneven segment sizes so volume shares differ and small segments exist
    return rng.choice(N_SEGMENTS, n, p=[0.4, 0.3, 0.2, 0.1]).astype(np.int64)


def make_ctx(kind: str, segmented: bool) -> EvalContext:
    return EvalContext(
        segments=[(s, f"seg{s}") for s in range(N_SEGMENTS)] if segmented else None,
        categories=[f"cat{i}" for i in range(N_CATEGORIES)] if kind == "categorical" else (),
        min_reference=MIN_REFERENCE,
    )


def dyadic(values: np.ndarray) -> np.ndarray:
    """Values on a 1/16 grid: their sums and sums of squares are exact in float64."""
    return np.round(values * 16) / 16


@functools.cache
def fitted(cls: type[Detector], segmented: bool,
           on_grid: bool = False) -> tuple[Detector, Sketch, EvalContext]:
    """A default-configured detector, its reference sketch (never mutated by tests), and context.

    ``on_grid`` fits numeric references on dyadic values, so a float layout taken from the
    reference (the Moments shift) keeps later dyadic sums exact.
    """
    det = cls()
    rng = np.random.default_rng(1234)
    n = 4_000
    values = make_values(det.input_kind, rng, n)
    if on_grid and det.input_kind == "numeric":
        values = dyadic(values)
    ref = det.fit(values, make_segments(rng, n, segmented))
    return det, ref, make_ctx(det.input_kind, segmented)


def sketch_of(det: Detector, ref: Sketch, values: np.ndarray,
              segments: np.ndarray | None) -> Sketch:
    sketch = det.new_sketch(ref)
    sketch.update(values, segments)
    return sketch


def batch(det: Detector, seed: int, n: int, segmented: bool, shift: float = 0.1):
    rng = np.random.default_rng(seed)
    return make_values(det.input_kind, rng, n, shift), make_segments(rng, n, segmented)


def panes(values: np.ndarray, segments: np.ndarray | None, cuts: list[int]):
    bounds = [0, *cuts, values.size]
    return [
        (values[a:b], None if segments is None else segments[a:b])
        for a, b in itertools.pairwise(bounds)
    ]


# --- comparisons --------------------------------------------------------------------------


def state(sketch: Sketch) -> dict[str, np.ndarray]:
    """Every array the sketch holds (its ``__slots__``)."""
    return {name: np.asarray(getattr(sketch, name)) for name in type(sketch).__slots__}


def assert_same_state(a: Sketch, b: Sketch) -> None:
    assert type(a) is type(b)
    sa, sb = state(a), state(b)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        assert sa[name].shape == sb[name].shape, name
        assert np.array_equal(sa[name], sb[name]), name


def canon(obj: Any) -> Any:
    """Evaluations as plain data, with NaN made comparable (NaN != NaN otherwise)."""
    if isinstance(obj, Evaluation):
        return canon(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {k: canon(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [canon(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return "nan" if math.isnan(obj) else float(obj)
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    return obj


def evaluations(det: Detector, current: Sketch, ref: Sketch, ctx: EvalContext) -> list[Any]:
    return canon(det.evaluate(current, ref, ctx))


def assert_sane(evals: list[Evaluation], det: Detector) -> None:
    for e in evals:
        assert e.detector == det.name and e.statistic == det.statistic
        assert math.isfinite(e.value), e
        assert e.p_value is None or 0.0 <= e.p_value <= 1.0, e
        assert e.n_reference >= 0 and e.n_current >= 0, e


# --- the checks ---------------------------------------------------------------------------


def test_registry_kinds_match_detectors() -> None:
    """Every registry entry files a detector under the input kind the detector declares."""
    for by_kind in REGISTRY.values():
        for kind, cls in by_kind.items():
            assert cls.input_kind == kind, cls


@pytest.mark.parametrize(("cls", "segmented"), CASES)
def test_merge_equals_sequential_update(cls: type[Detector], segmented: bool) -> None:
    """Updating with A then B gives the counts and evaluations of merge(sketch(A), sketch(B))."""
    det, ref, ctx = fitted(cls, segmented)
    a = batch(det, 1, 1_500, segmented)
    b = batch(det, 2, 700, segmented, shift=0.2)

    sequential = sketch_of(det, ref, *a)
    sequential.update(*b)
    sketch_a, sketch_b = sketch_of(det, ref, *a), sketch_of(det, ref, *b)
    before_a = sketch_a.snapshot()
    merged = sketch_a.merge(sketch_b)  # type: ignore[arg-type]  # one sketch kind

    assert_same_state(merged, sequential)
    assert_same_state(sketch_b.merge(sketch_a), sequential)  # type: ignore[arg-type]  # one sketch kind
    assert sketch_a.snapshot() == before_a  # merge does not mutate its operands
    assert evaluations(det, merged, ref, ctx) == evaluations(det, sequential, ref, ctx)


@pytest.mark.parametrize(("cls", "segmented"), CASES)
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    cut_fractions=st.lists(st.floats(0.0, 1.0), max_size=6),
    order_seed=st.integers(0, 2**16),
)
def test_merge_over_arbitrary_panes(
    cls: type[Detector], segmented: bool, seed: int, n: int, cut_fractions: list[float],
    order_seed: int,
) -> None:
    """Merging the sketches of any split of a batch into panes, in any order, equals one update."""
    det, ref, ctx = fitted(cls, segmented, on_grid=True)
    rng = np.random.default_rng(seed)
    values = make_values(det.input_kind, rng, n, shift=0.1)
    if det.input_kind == "numeric":
        # dyadic values with NaNs: float sums are exact, so Moments must agree bit for bit
        values = dyadic(values)
        values[rng.random(n) < 0.05] = np.nan
    segments = make_segments(rng, n, segmented)
    cuts = sorted(int(f * n) for f in cut_fractions)
    parts = panes(values, segments, cuts)
    np.random.default_rng(order_seed).shuffle(parts)

    whole = sketch_of(det, ref, values, segments)
    merged = functools.reduce(
        lambda acc, part: acc.merge(sketch_of(det, ref, *part)),
        parts,
        det.new_sketch(ref),
    )

    assert_same_state(merged, whole)
    assert evaluations(det, merged, ref, ctx) == evaluations(det, whole, ref, ctx)


@pytest.mark.parametrize(("cls", "segmented"), CASES)
def test_snapshot_json_restore(cls: type[Detector], segmented: bool) -> None:
    """snapshot → strict JSON → restore_sketch keeps the counts and every future evaluation."""
    det, ref, ctx = fitted(cls, segmented)
    current = sketch_of(det, ref, *batch(det, 3, 900, segmented))

    def roundtrip(sketch: Sketch) -> Sketch:
        return restore_sketch(json.loads(json.dumps(sketch.snapshot(), allow_nan=False)))

    restored, restored_ref = roundtrip(current), roundtrip(ref)
    assert_same_state(restored, current)
    assert_same_state(restored_ref, ref)

    later = batch(det, 4, 600, segmented, shift=0.3)
    current.update(*later)
    restored.update(*later)
    assert_same_state(restored, current)
    assert evaluations(det, restored, restored_ref, ctx) == evaluations(det, current, ref, ctx)


@pytest.mark.parametrize(("cls", "segmented"), CASES)
def test_pickle_roundtrip(cls: type[Detector], segmented: bool) -> None:
    """A pickled sketch (and detector) comes back with the same counts and evaluations."""
    det, ref, ctx = fitted(cls, segmented)
    current = sketch_of(det, ref, *batch(det, 5, 900, segmented))

    restored = pickle.loads(pickle.dumps(current))
    restored_det = pickle.loads(pickle.dumps(det))

    assert restored_det == det
    assert_same_state(restored, current)
    later = batch(det, 6, 300, segmented)
    current.update(*later)
    restored.update(*later)
    assert evaluations(restored_det, restored, ref, ctx) == evaluations(det, current, ref, ctx)


@pytest.mark.parametrize(("cls", "segmented"), CASES)
def test_empty_current_window_is_neutral(cls: type[Detector], segmented: bool) -> None:
    """An empty current window evaluates without error to the detector's no-drift value."""
    det, ref, ctx = fitted(cls, segmented)
    empty = det.new_sketch(ref)
    empty.update(make_values(det.input_kind, np.random.default_rng(0), 0),
                 np.empty(0, np.int64) if segmented else None)

    evals = det.evaluate(empty, ref, ctx)

    assert_sane(evals, det)
    for e in evals:
        assert e.n_current == 0
        assert e.value == neutral(det), e
        assert e.p_value in (None, 1.0), e


CONSTANTS: dict[str, list[float]] = {
    "numeric": [0.0, 0.1, 3.3, -7.25, 123456.789],
    "categorical": [0, 2],
    "binary": [0, 1],
    "volume": [0],
    "scored": [0.0, 1.0],  # score and label alike: a reference of one class
    "estimated": [0.0, 1.0],  # score, decision and wrong alike
}


@pytest.mark.parametrize(("cls", "segmented"), CASES)
def test_constant_inputs(cls: type[Detector], segmented: bool) -> None:
    """Constant reference and current inputs evaluate to finite values and valid p-values."""
    det = cls()
    kind = det.input_kind
    ctx = make_ctx(kind, segmented)
    rng = np.random.default_rng(7)
    dtype: type[np.generic] = np.float64 if kind == "numeric" else np.int64
    for ref_value in CONSTANTS[kind]:
        for cur_value in CONSTANTS[kind]:
            width = {"scored": 2, "estimated": 3}.get(kind)

            def shape(n: int, width: int | None = width) -> tuple[int, ...]:
                return (n, width) if width else (n,)
            ref = det.fit(np.full(shape(2_000), ref_value, dtype),
                          make_segments(rng, 2_000, segmented))
            cur = sketch_of(det, ref, np.full(shape(500), cur_value, dtype),
                            make_segments(rng, 500, segmented))
            evals = det.evaluate(cur, ref, ctx)
            assert_sane(evals, det)
            if ref_value == cur_value and kind != "volume":
                assert all(e.value == neutral(det) for e in evals), evals
                assert all(e.p_value in (None, 1.0) for e in evals), evals


@pytest.mark.parametrize(("cls", "segmented"), CASES)
def test_empty_reference_does_not_crash(cls: type[Detector], segmented: bool) -> None:
    """A reference fitted on no data still evaluates to finite values (gating is the pipeline's)."""
    det = cls()
    kind = det.input_kind
    ref = det.fit(make_values(kind, np.random.default_rng(0), 0),
                  np.empty(0, np.int64) if segmented else None)
    current = sketch_of(det, ref, *batch(det, 8, 300, segmented))
    assert_sane(det.evaluate(current, ref, make_ctx(kind, segmented)), det)


NUMERIC_CASES = cases(lambda cls: cls.input_kind == "numeric")


@pytest.mark.parametrize(("cls", "segmented"), NUMERIC_CASES)
def test_nan_values_are_skipped(cls: type[Detector], segmented: bool) -> None:
    """NaN values in numeric input (reference or current) count as if they were dropped."""
    det, ref, ctx = fitted(cls, segmented)
    rng = np.random.default_rng(9)
    values, segments = batch(det, 10, 2_000, segmented)
    holes = rng.random(values.size) < 0.2
    with_nan = np.where(holes, np.nan, values)
    keep_segments = None if segments is None else segments[~holes]

    assert_same_state(sketch_of(det, ref, with_nan, segments),
                      sketch_of(det, ref, values[~holes], keep_segments))
    assert evaluations(det, sketch_of(det, ref, with_nan, segments), ref, ctx) == evaluations(
        det, sketch_of(det, ref, values[~holes], keep_segments), ref, ctx)

    ref_values, ref_segments = batch(det, 11, 3_000, segmented, shift=0.0)
    ref_holes = rng.random(ref_values.size) < 0.2
    ref_nan = det.fit(np.where(ref_holes, np.nan, ref_values), ref_segments)
    ref_dropped = det.fit(ref_values[~ref_holes],
                          None if ref_segments is None else ref_segments[~ref_holes])
    assert_same_state(ref_nan, ref_dropped)

    all_nan = sketch_of(det, ref, np.full(100, np.nan),
                        None if segments is None else segments[:100])
    assert_same_state(all_nan, det.new_sketch(ref))


@pytest.mark.parametrize(("cls", "segmented"), CASES)
def test_memory_is_bounded_by_layout(cls: type[Detector], segmented: bool) -> None:
    """After 1e6 values a sketch holds arrays as large as after 1e4 (segments/categories fixed)."""
    det, ref, _ = fitted(cls, segmented)
    rng = np.random.default_rng(12)
    small = sketch_of(det, ref, make_values(det.input_kind, rng, 10_000),
                      make_segments(rng, 10_000, segmented))
    large = det.new_sketch(ref)
    for _ in range(10):
        large.update(make_values(det.input_kind, rng, 100_000),
                     make_segments(rng, 100_000, segmented))

    assert large.total == 1_000_000 and small.total == 10_000
    small_state, large_state = state(small), state(large)
    for name, array in large_state.items():
        assert array.shape == small_state[name].shape, name
        assert array.nbytes == small_state[name].nbytes, name


REMEMBERING = cases(lambda cls: cls().new_memory() is not None)


@pytest.mark.parametrize(("cls", "segmented"), REMEMBERING)
def test_memory_snapshot_restores_cross_window_memory(
    cls: type[Detector], segmented: bool
) -> None:
    """A detector's cross-window memory restored from JSON evaluates as the original."""
    det, ref, ctx = fitted(cls, segmented)
    rng = np.random.default_rng(13)
    memory = det.new_memory()

    def window(w: int) -> Sketch:
        n = 2_000
        values = rng.normal(0.01 * w, 1.0, n)
        return sketch_of(det, ref, values, make_segments(rng, n, segmented))

    for w in range(10):
        det.evaluate(window(w), ref, ctx, memory)
    assert memory is not None
    restored = det.restore_memory(json.loads(json.dumps(memory.snapshot(), allow_nan=False)))
    for w in range(10, 60):
        cur = window(w)
        a = det.evaluate(cur, ref, ctx, memory)
        b = det.evaluate(cur, ref, ctx, restored)
        assert canon(a) == canon(b)
