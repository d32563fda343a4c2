"""Categorical drift: chi-square (Cohen's w), Jensen–Shannon distance, categorical PSI.

Values are codes from a bounded vocabulary kept by the pipeline. Categories with
no reference count are folded into one explicit ``__unseen__`` bucket, so a
flood of new values is one visible contributor, not many tiny ones.

The chi-square statistic and p-value are those of the 2×K homogeneity table
(reference vs current), as ``scipy.stats.chi2_contingency`` without continuity
correction. The reported *value* is Cohen's effect size
``w = sqrt(Σ (c_i − r_i)² / r_i)`` (shares, r floored at 1e-4, over the buckets that
hold events in either window), because the chi-square statistic grows with n and
would flag trivial differences on large windows.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> det = ChiSquare()
>>> ref = det.fit(rng.choice(3, 10_000, p=[.5, .3, .2]), None)
>>> cur = det.new_sketch(ref); cur.update(rng.choice(3, 5_000, p=[.3, .3, .4]))
>>> e = det.evaluate(cur, ref, EvalContext(categories=["a", "b", "c"]))[0]
>>> round(e.value, 2), e.top_contributors[0]["category"]
(0.55, 'c')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.spatial import distance

from driftline.detectors.base import (
    CountDetector,
    EvalContext,
    Evaluation,
    Memory,
    reference_row,
    segment_rows,
)
from driftline.detectors.psi import psi_value
from driftline.detectors.sketches import CountTable, FloatArray, IntArray, Sketch
from driftline.detectors.stats import chi2_homogeneity

UNSEEN = "__unseen__"


def fold_unseen(ref: IntArray, cur: IntArray, names: list[str]) -> tuple[IntArray, IntArray, list[str]]:
    """Keep reference categories; sum all categories absent from the reference into one bucket."""
    width = max(ref.size, cur.size)
    ref = np.pad(ref, (0, width - ref.size))
    cur = np.pad(cur, (0, width - cur.size))
    names = list(names) + [f"#{i}" for i in range(len(names), width)]
    seen = ref > 0
    r = np.append(ref[seen], 0)
    c = np.append(cur[seen], cur[~seen].sum())
    return r, c, [n for n, s in zip(names, seen, strict=True) if s] + [UNSEEN]


class _Categorical(CountDetector):
    input_kind: ClassVar = "categorical"

    def score(self, ref: IntArray, cur: IntArray) -> tuple[float, float | None, FloatArray, dict[str, Any]]:
        raise NotImplementedError

    def evaluate(self, current: Sketch, reference: Sketch, ctx: EvalContext,
                 memory: Memory | None = None) -> list[Evaluation]:
        assert isinstance(current, CountTable) and isinstance(reference, CountTable)
        width = max(current.counts.shape[1], reference.counts.shape[1], len(ctx.categories))
        overall = reference.row(None, width)
        out = []
        for code, name in segment_rows(ctx):
            ref, scope = (overall, "overall") if code is None else reference_row(
                reference.row(code, width), overall, ctx.min_reference)
            r, c, names = fold_unseen(ref, current.row(code, width), list(ctx.categories))
            value, p, contrib, details = self.score(r, c)
            out.append(Evaluation(
                detector=self.name, statistic=self.statistic, value=value, p_value=p,
                n_reference=int(r.sum()), n_current=int(c.sum()), segment=name,
                top_contributors=_top_categories(contrib, r, c, names),
                details={"reference_scope": scope, **details},
            ))
        return out


def _shares(x: IntArray) -> FloatArray:
    return np.asarray(x, np.float64) / max(float(x.sum()), 1.0)


@dataclass(frozen=True)
class ChiSquare(_Categorical):
    """Chi-square homogeneity test; value is Cohen's w effect size."""

    epsilon: float = 1e-4
    name: ClassVar[str] = "chi_square"
    statistic: ClassVar[str] = "cohens_w"
    default_thresholds: ClassVar[tuple[float, float]] = (0.1, 0.3)

    def score(self, ref: IntArray, cur: IntArray) -> tuple[float, float | None, FloatArray, dict[str, Any]]:
        chi2, p, dof = chi2_homogeneity(ref, cur)
        r, c = np.maximum(_shares(ref), self.epsilon), _shares(cur)
        # a bucket empty on both sides (the unseen one, usually) is no category at all
        contrib = np.where((ref == 0) & (cur == 0), 0.0, (c - r) ** 2 / r)
        w = float(np.sqrt(contrib.sum())) if cur.sum() else 0.0
        return w, p, contrib, {"chi2": chi2, "dof": dof}


@dataclass(frozen=True)
class JensenShannon(_Categorical):
    """Jensen–Shannon distance (base 2, in [0, 1]) between category shares."""

    name: ClassVar[str] = "jensen_shannon"
    statistic: ClassVar[str] = "js_distance"
    default_thresholds: ClassVar[tuple[float, float]] = (0.1, 0.2)

    def score(self, ref: IntArray, cur: IntArray) -> tuple[float, float | None, FloatArray, dict[str, Any]]:
        if cur.sum() == 0 or ref.sum() == 0:
            return 0.0, 1.0, np.zeros(ref.size), {}
        r, c = _shares(ref), _shares(cur)
        js = float(distance.jensenshannon(r, c, base=2))
        _, p, _ = chi2_homogeneity(ref, cur)
        return js, p, np.abs(c - r), {}


@dataclass(frozen=True)
class CategoricalPSI(_Categorical):
    """PSI over categories (unseen ones in their own bucket), epsilon-floored shares."""

    epsilon: float = 1e-4
    name: ClassVar[str] = "psi"
    statistic: ClassVar[str] = "psi"
    default_thresholds: ClassVar[tuple[float, float]] = (0.1, 0.25)

    def score(self, ref: IntArray, cur: IntArray) -> tuple[float, float | None, FloatArray, dict[str, Any]]:
        if cur.sum() == 0:
            return 0.0, 1.0, np.zeros(ref.size), {}
        value, contrib = psi_value(ref, cur, self.epsilon)
        _, p, _ = chi2_homogeneity(ref, cur)
        return value, p, contrib, {}


def _top_categories(contrib: FloatArray, ref: IntArray, cur: IntArray, names: list[str],
                    k: int = 3) -> tuple[dict[str, Any], ...]:
    rs, cs = _shares(ref), _shares(cur)
    order = np.argsort(-contrib)[:k]
    return tuple(
        {"category": names[i], "reference_share": round(float(rs[i]), 6),
         "current_share": round(float(cs[i]), 6), "contribution": round(float(contrib[i]), 6)}
        for i in order if contrib[i] > 0
    )
