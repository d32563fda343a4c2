"""scipy brute force, the exactness reference: raw samples, every window, no sketch.

Per 5,000-event window: ``scipy.stats.ks_2samp(reference, window)`` on every
numeric column (exact D; asymptotic p, as driftline reports), and
``scipy.stats.chi2_contingency(correction=False)`` on the reference × window
count table of every categorical column. Alerts use driftline's rule on these
exact statistics (KS D ≥ 0.1, Cohen's w ≥ 0.1, Benjamini–Hochberg q ≤ 0.01 over
the window's tests), so any disagreement with driftline's KS / chi-square
monitors comes from the sketches, not from the rule.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy import stats

from benchmarks.compare.common import ToolRun, traced_peak
from benchmarks.compare.streams import WINDOW, Stream
from driftline.judge import benjamini_hochberg

THRESHOLD = 0.1
ALPHA = 0.01


def chi2_table(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current counts per category; categories the reference lacks fold into one.

    The fold is driftline's (``__unseen__``): on these streams it only matters
    if a window holds values the reference never had.
    """
    cats, codes = np.unique(np.concatenate([ref, cur]).astype(str), return_inverse=True)
    r = np.bincount(codes[: ref.size], minlength=cats.size)
    c = np.bincount(codes[ref.size :], minlength=cats.size)
    seen = r > 0
    return np.append(r[seen], 0), np.append(c[seen], c[~seen].sum())


def cohens_w(r: np.ndarray, c: np.ndarray, epsilon: float = 1e-4) -> float:
    """sqrt(sum (c_i - r_i)^2 / r_i) over shares, r floored at epsilon; empty buckets skipped."""
    rs = np.maximum(r / r.sum(), epsilon)
    cs = c / c.sum()
    terms = np.where((r == 0) & (c == 0), 0.0, (cs - rs) ** 2 / rs)
    return float(np.sqrt(terms.sum()))


def window_stats(stream: Stream, k: int, refs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    rows = []
    for col in stream.numeric_columns:
        res = stats.ks_2samp(refs[col], stream.window(col, k), method="asymp")
        rows.append({"column": col, "test": "ks", "value": float(res.statistic),
                     "p": float(res.pvalue)})
    for col in stream.categorical_columns:
        r, c = chi2_table(refs[col], stream.window(col, k))
        keep = (r + c) > 0
        chi2, p, _, _ = stats.chi2_contingency(np.vstack([r[keep], c[keep]]), correction=False)
        rows.append({"column": col, "test": "chi2", "value": cohens_w(r, c), "chi2": float(chi2),
                     "p": float(p)})
    return rows


def run(stream: Stream) -> ToolRun:
    tr = ToolRun("scipy", "brute-force", stream.name, columns=stream.columns,
                 windows=list(range(stream.windows)), events=stream.n, run_unit="window")
    refs = {c: stream.reference(c) for c in stream.columns}
    per_window = []
    for k in range(stream.windows):
        t0 = time.perf_counter()
        rows = window_stats(stream, k, refs)
        tr.rates.append(WINDOW / (time.perf_counter() - t0))
        q = benjamini_hochberg([r["p"] for r in rows])
        for r, qv in zip(rows, q, strict=True):
            r["window"] = k
            if r["value"] >= THRESHOLD and qv <= ALPHA:
                tr.alerts.add((r["column"], k))
        per_window += rows
    tr.peak_bytes, _ = traced_peak(lambda: window_stats(stream, 0, refs))
    tr.extra["stats"] = per_window
    return tr
