"""The per-segment path as it was before segments were evaluated as arrays (driftline 0.x main).

Kept verbatim (only renamed) as the oracle of ``test_vectorised_segments.py``: one Python
evaluation per segment, one finding per evaluation. The vectorised path must give the same
statistics, p-values, q-values and levels for every segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scipy import special

from driftline.detectors.base import EvalContext, Evaluation, segment_rows
from driftline.detectors.segment_rate import trials_successes, two_proportion_z
from driftline.detectors.sketches import CountTable
from driftline.judge import benjamini_hochberg
from driftline.monitors import Monitor


def segment_rate(current: CountTable, reference: CountTable, ctx: EvalContext) -> list[Evaluation]:
    n_all, s_all = trials_successes(reference, None)
    out = []
    for code, name in segment_rows(ctx):
        n_ref, s_ref = trials_successes(reference, code)
        scope = "segment"
        if n_ref < ctx.min_reference:
            n_ref, s_ref, scope = n_all, s_all, "overall"
        if n_ref == 0:
            continue  # no reference trial at all: nothing to test against, no evaluation
        n_cur, s_cur = trials_successes(current, code)
        z, p = two_proportion_z(s_ref, n_ref, s_cur, n_cur)
        r_ref = s_ref / n_ref if n_ref else float("nan")
        r_cur = s_cur / n_cur if n_cur else float("nan")
        diff = r_cur - r_ref if n_cur and n_ref else 0.0
        out.append(Evaluation(
            detector="segment_rate", statistic="rate_difference", value=float(diff), p_value=p,
            n_reference=n_ref, n_current=n_cur, segment=name,
            details={"reference_rate": r_ref, "current_rate": r_cur, "z": z,
                     "reference_scope": scope},
        ))
    return out


def disparate_impact(current: CountTable, ctx: EvalContext, min_group: int) -> list[Evaluation]:
    groups = [(code, name, *trials_successes(current, code)) for code, name in segment_rows(ctx)]
    eligible = [g for g in groups if g[2] >= min_group]
    if not eligible:
        return []
    _, best_name, best_n, best_s = max(eligible, key=lambda g: g[3] / g[2])
    best_rate = best_s / best_n
    out = []
    for _, name, n, s in eligible:
        rate = s / n
        ratio = rate / best_rate if best_rate > 0 else 1.0
        _, p = two_proportion_z(best_s, best_n, s, n)
        out.append(Evaluation(
            detector="disparate_impact", statistic="selection_rate_ratio", value=float(ratio),
            p_value=p, n_reference=best_n, n_current=n, segment=name,
            details={"selection_rate": rate, "reference_group": best_name,
                     "reference_group_rate": best_rate},
        ))
    return out


def segment_volume(current: CountTable, reference: CountTable, ctx: EvalContext,
                   min_expected: float) -> list[Evaluation]:
    n_ref, n_cur = reference.total, current.total
    out = []
    for code, name in segment_rows(ctx):
        r = int(reference.row(code, 1).sum())
        c = int(current.row(code, 1).sum())
        if r == 0 or n_ref == 0:
            continue
        share_ref = r / n_ref
        expected = share_ref * n_cur
        ratio = (c / n_cur) / share_ref if n_cur else 1.0
        p = float(special.pdtr(c, expected)) if expected > 0 else 1.0
        out.append(Evaluation(
            detector="segment_volume", statistic="share_ratio", value=float(ratio), p_value=p,
            n_reference=r, n_current=c, segment=name,
            details={"reference_share": share_ref, "current_share": c / n_cur if n_cur else 0.0,
                     "expected": expected,
                     "silent": c == 0 and expected >= min_expected},
        ))
    return out


def level_of(m: Monitor, e: Evaluation, sufficient: bool, q: float | None, alpha: float,
             ) -> int | None:
    if not sufficient:
        return None
    if e.verdict is not None:
        return max(1, m.level(e.value)) if e.verdict else 0
    return m.level(e.value) if q is not None and q <= alpha else 0


def judge(pending: Sequence[tuple[Monitor, Evaluation]], alpha: float,
          ) -> list[dict[str, Any]]:
    """(level, q) per evaluation, in order: the old one-finding-per-evaluation judgement."""
    sufficient = [m.detector.sufficient(e, m.min_samples) for m, e in pending]
    tested = [i for i, (_, e) in enumerate(pending)
              if e.p_value is not None and sufficient[i]]
    q = benjamini_hochberg([pending[i][1].p_value or 0.0 for i in tested])
    qvals: dict[int, float] = dict(zip(tested, q.tolist(), strict=True))
    return [{"level": level_of(m, e, sufficient[i], qvals.get(i), alpha), "q": qvals.get(i)}
            for i, (m, e) in enumerate(pending)]
