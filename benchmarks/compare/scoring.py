"""Turning alerts into the reported numbers: delay, false alarms, agreement, exactness.

Definitions (docs/benchmarks.md repeats them):

- A windowed tool's alert (column, k) is raised when window k closes, at stream
  event (k+1)·5000. A per-event tool's alert (column, i) is raised at event i.
- An alert is *true* when its column drifts and it is raised after the onset
  (the change point; for a gradual change, half a width before it). Every
  other alert is *false*: any alert on a null or label-only stream, any alert
  on a column that does not drift, any alert before the onset.
- Detection delay = events from the change point to the first true alert
  (any drifting column); "missed" when there is none.
- False alarms per 10k events = false alerts / events monitored × 10,000,
  whatever the number of columns watched (recorded next to it).
- Agreement of two windowed tools: over the (column × window) cells both
  evaluated, counts of alerts in both / only one, and Cohen's kappa.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.compare.common import ToolRun
from benchmarks.compare.streams import WINDOW, Stream

TOL = 1e-12


def score(tr: ToolRun, s: Stream) -> dict[str, Any]:
    """Delay, detection rate and false alarms of one run against the stream's truth."""
    if tr.error or s.kind == "real":
        return {}
    onset = s.onset
    true: list[tuple[str, int, float]] = []
    false: list[tuple[str, int, float]] = []
    for col, at in tr.alerts:
        raised = at if tr.per_event else (at + 1) * WINDOW
        drifted = col in s.drifting and onset is not None and raised > onset
        (true if drifted else false).append((col, at, raised))
    monitored = s.n if tr.per_event else len(tr.windows) * WINDOW
    watched = [c for c in tr.columns if c in s.columns]
    out: dict[str, Any] = {
        "false_alarms": len(false),
        "false_alarms_per_10k": round(len(false) / monitored * 1e4, 3) if monitored else None,
        "columns_watched": len(watched),
        "cells": None if tr.per_event else len(watched) * len(tr.windows),
    }
    if s.drifting and s.change is not None:
        drifting_watched = [c for c in watched if c in s.drifting]
        first = min((r for _, _, r in true), default=None)
        out["delay_events"] = None if first is None else int(first - s.change)
        out["detected_columns"] = len({c for c, _, _ in true})
        out["drifting_columns_watched"] = len(drifting_watched)
        out["false_alarms_before_onset"] = sum(1 for c, _, r in false
                                               if c in s.drifting and onset is not None
                                               and r <= onset)
    return out


def agreement(a: ToolRun, b: ToolRun) -> dict[str, Any] | None:
    """Alert agreement of two windowed runs over the cells both evaluated."""
    if a.error or b.error or a.per_event or b.per_event:
        return None
    cols = sorted(set(a.columns) & set(b.columns))
    wins = sorted(set(a.windows) & set(b.windows))
    cells = {(c, k) for c in cols for k in wins}
    if not cells:
        return None
    sa, sb = a.alerts & cells, b.alerts & cells
    both, only_a, only_b = len(sa & sb), len(sa - sb), len(sb - sa)
    n = len(cells)
    po = (n - only_a - only_b) / n
    pa, pb = len(sa) / n, len(sb) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    kappa = 1.0 if pe >= 1 else (po - pe) / (1 - pe)
    return {"a": a.label, "b": b.label, "cells": n, "both": both, "only_a": only_a,
            "only_b": only_b, "agreement": round(po, 4), "kappa": round(kappa, 3)}


def ks_exactness(dl: ToolRun, sp: ToolRun) -> dict[str, Any]:
    """driftline's grid D against scipy's exact D on the same windows: D ≤ D_exact ≤ D + bound."""
    exact = {(r["column"], r["window"]): r["value"] for r in sp.extra.get("stats", [])
             if r["test"] == "ks"}
    checks, violations, gaps, bounds, flips = 0, [], [], [], 0
    for e in dl.extra.get("evaluations", []):
        if e["detector"] != "ks" or (e["column"], e["window"]) not in exact:
            continue
        d, bound, dx = e["value"], e["bound"], exact[(e["column"], e["window"])]
        checks += 1
        gaps.append(dx - d)
        bounds.append(bound)
        if not (d - TOL <= dx <= d + bound + TOL):
            violations.append({"column": e["column"], "window": e["window"], "d_grid": d,
                               "d_scipy": dx, "bound": bound})
        flips += (d >= 0.1) != (dx >= 0.1)
    if not checks:
        return {"checks": 0}
    return {"checks": checks, "violations": len(violations), "violation_examples": violations[:5],
            "max_gap": float(max(gaps)), "min_gap": float(min(gaps)),
            "median_bound": float(np.median(bounds)), "max_bound": float(max(bounds)),
            "threshold_flips_at_0.1": flips}


def psi_exactness(dl: ToolRun, s: Stream, ev: ToolRun | None) -> dict[str, Any]:
    """driftline PSI vs evidently's PSI formula on driftline's bins, and vs evidently's own bins.

    Same bins: each value is mapped to its driftline bin (reference deciles) and
    the bin codes are handed to evidently's PSI as a categorical column, so
    evidently counts the same bins and applies its own formula and
    empty-bin rule. Own bins: evidently's ``ValueDrift(method="psi")`` from the
    evidently run (Sturges equal-width bins over reference + window) — a
    different estimator, compared for scale only.
    """
    try:
        import pandas as pd
        from evidently.legacy.calculations.stattests.psi import _psi
        from evidently.legacy.core import ColumnType
    except ImportError:
        return {"error": "evidently not installed"}
    dl_psi = {(e["column"], e["window"]): e["value"] for e in dl.extra.get("evaluations", [])
              if e["detector"] == "psi"}
    edges = dl.extra.get("psi_edges", {})
    diffs, native_diffs, native_flips = [], [], 0
    for col, ed in edges.items():
        ed_arr = np.asarray(ed)
        ref_codes = pd.Series(np.searchsorted(ed_arr, s.reference(col), side="right"))
        for k in range(s.windows):
            if (col, k) not in dl_psi:
                continue
            cur_codes = pd.Series(np.searchsorted(ed_arr, s.window(col, k), side="right"))
            val, _ = _psi(ref_codes, cur_codes, ColumnType.Categorical, 0.1)
            diffs.append(abs(float(val) - dl_psi[(col, k)]))
            if ev is not None and not ev.error:
                native = ev.extra.get("values", {}).get(col, {}).get("psi")
                if native is not None and k < len(native):
                    native_diffs.append(abs(native[k] - dl_psi[(col, k)]))
                    native_flips += (native[k] >= 0.1) != (dl_psi[(col, k)] >= 0.1)
    out: dict[str, Any] = {"checks": len(diffs)}
    if diffs:
        out["max_abs_diff_same_bins"] = float(max(diffs))
    if native_diffs:
        out["median_abs_diff_evidently_bins"] = float(np.median(native_diffs))
        out["max_abs_diff_evidently_bins"] = float(max(native_diffs))
        out["threshold_flips_at_0.1_evidently_bins"] = native_flips
    return out


def chi2_exactness(dl: ToolRun, sp: ToolRun) -> dict[str, Any]:
    exact = {(r["column"], r["window"]): r["chi2"] for r in sp.extra.get("stats", [])
             if r["test"] == "chi2"}
    rel = []
    for e in dl.extra.get("evaluations", []):
        key = (e["column"], e["window"])
        if e["detector"] == "chi_square" and key in exact and e.get("chi2") is not None:
            rel.append(abs(e["chi2"] - exact[key]) / max(abs(exact[key]), 1e-12))
    return {"checks": len(rel), "max_rel_diff": float(max(rel)) if rel else None}


def nannyml_ks_error(nm: ToolRun, sp: ToolRun) -> dict[str, Any]:
    """NannyML's KS (10,000 equal-width bins once the reference has ≥ 10k rows) vs scipy."""
    if nm.error:
        return {}
    exact = {(r["column"], r["window"]): r["value"] for r in sp.extra.get("stats", [])
             if r["test"] == "ks"}
    errs = []
    for col, methods in nm.extra.get("values", {}).items():
        for k, v in enumerate(methods.get("kolmogorov_smirnov", [])):
            if (col, k) in exact and np.isfinite(v):
                errs.append(abs(v - exact[(col, k)]))
    return {"checks": len(errs), "max_abs_err": float(max(errs)) if errs else None}
