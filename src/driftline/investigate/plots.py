"""The report's figures as inline PNG (base64), drawn with matplotlib's Agg canvas.

``Figure`` objects are used directly (no pyplot): no global state, no display, the same bytes
on a machine without one. Each function takes plain data (what ``explain.json`` holds), so a
figure shows exactly the numbers the JSON states.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import UTC, datetime

from matplotlib.figure import Figure

from driftline.investigate.models import Bar, ScoreView, SegmentRow, SeriesPoint
from driftline.timestamps import parse_timestamp

REFERENCE, CURRENT, MARKED = "#9aa5b1", "#2f6fb3", "#d1495b"
WARNING, CRITICAL = "#e6a23c", "#d1495b"
EVENT_COLORS = {"opened": "#d1495b", "escalated": "#8e44ad", "updated": "#7f8c8d",
                "resolved": "#2e8b57"}


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def distribution_png(bars: Sequence[Bar], title: str) -> str:
    """Reference and current share per bin or category; the contributing ones marked."""
    fig = Figure(figsize=(9, 3.6))
    ax = fig.subplots()
    x = list(range(len(bars)))
    w = 0.4
    ax.bar([i - w / 2 for i in x], [b.reference_share for b in bars], w, color=REFERENCE,
           label="reference")
    ax.bar([i + w / 2 for i in x], [b.current_share for b in bars], w,
           color=[MARKED if b.contributing else CURRENT for b in bars],
           label="current (red: contributing)")
    ax.set_xticks(x, [b.label for b in bars], rotation=30 if len(bars) > 4 else 0, ha="right"
                  if len(bars) > 4 else "center", fontsize=8)
    ax.set_ylabel("share of events")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _x(points: Sequence[SeriesPoint]) -> list[float]:
    """Window ends as numbers: epoch seconds (time windows) or event indices (count)."""
    out = []
    for p in points:
        t = parse_timestamp(p.end)
        out.append(float(p.end) if t is None else t)
    return out


def series_png(points: Sequence[SeriesPoint], warning: float | None, critical: float | None,
               direction: str, statistic: str) -> str:
    """The statistic per window, the thresholds, and the incident's lifecycle events."""
    fig = Figure(figsize=(9, 3.6))
    ax = fig.subplots()
    xs = _x(points)
    times = all(parse_timestamp(p.end) is not None for p in points)
    labels = [datetime.fromtimestamp(x, UTC).strftime("%H:%M") if times else f"{x:g}" for x in xs]
    vals = [p.value for p in points]
    ax.plot(range(len(xs)), [v if v is not None else float("nan") for v in vals], color=CURRENT,
            lw=1.5, zorder=2)
    for i, p in enumerate(points):
        if p.value is not None:
            ax.scatter([i], [p.value], color=CURRENT if p.exact else "white", edgecolor=CURRENT,
                       zorder=3, s=28)
        for kind in p.cited:
            ax.axvline(i, color=EVENT_COLORS.get(kind, "#555"), ls="--", lw=1, alpha=0.8)
            ax.annotate(kind, (i, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=7, va="top", ha="right", color=EVENT_COLORS.get(kind, "#555"))
    for level, color, name in ((warning, WARNING, "warning"), (critical, CRITICAL, "critical")):
        if level is None:
            continue
        ax.axhline(level, color=color, lw=1, label=f"{name} {level:g}")
        if direction == "both":
            ax.axhline(-level, color=color, lw=1)
    step = max(1, len(xs) // 12)
    ax.set_xticks(range(0, len(xs), step), labels[::step], fontsize=8)
    ax.set_xlabel("window end (UTC)" if times else "window end (event index)")
    ax.set_ylabel(statistic)
    ax.set_title(f"{statistic} per window (filled: cited windows, exact; hollow: around them)",
                 fontsize=10)
    if warning is not None or critical is not None:
        ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _png(fig)


def segments_png(rows: Sequence[SegmentRow], title: str) -> str:
    """Each segment's rate with its 95% interval and reference rate; and its traffic share."""
    fig = Figure(figsize=(9, 3.8))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    names = [r.segment for r in rows]
    y = list(range(len(rows)))
    rated = [r for r in rows if r.rate is not None]
    if rated:
        for i, r in enumerate(rows):
            if r.rate is None:
                continue
            color = MARKED if r.incident else CURRENT
            lo, hi = r.rate_low or r.rate, r.rate_high or r.rate
            left.errorbar([r.rate], [i], xerr=[[r.rate - lo], [hi - r.rate]], fmt="o",
                          color=color, capsize=3)
            if r.reference_rate is not None:
                left.scatter([r.reference_rate], [i], marker="|", s=200, color=REFERENCE, zorder=3)
        left.set_xlabel("current rate, 95% interval (| reference)")
    else:
        left.barh(y, [r.value or 0.0 for r in rows],
                  color=[MARKED if r.incident else CURRENT for r in rows])
        left.set_xlabel("statistic")
    left.set_yticks(y, names, fontsize=8)
    left.invert_yaxis()
    left.grid(axis="x", alpha=0.3)
    right.barh(y, [r.traffic_share for r in rows], color=[MARKED if r.incident else CURRENT
                                                           for r in rows], label="current")
    refs = [r.reference_share for r in rows]
    if any(s is not None for s in refs):
        right.scatter([s if s is not None else float("nan") for s in refs], y, marker="|", s=200,
                      color=REFERENCE, label="reference", zorder=3)
    right.set_yticks(y, [""] * len(y))
    right.invert_yaxis()
    right.set_xlabel("traffic share")
    right.legend(fontsize=8)
    right.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return _png(fig)



def scores_png(view: ScoreView, title: str) -> str:
    """auc: each class's share per score bin, reference vs current; calibration: the
    reliability diagram (positive rate against mean score per bin). Marked bins in red."""
    fig = Figure(figsize=(9, 3.6))
    if view.detector == "calibration":
        _reliability(fig, view)
    else:
        _class_shares(fig, view)
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def _reliability(fig: Figure, view: ScoreView) -> None:
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="#555", ls="--", lw=1, label="calibrated")
    ref = [(b.reference_mean_score, b.reference_positive_rate) for b in view.bins
           if b.reference_mean_score is not None and b.reference_positive_rate is not None]
    ax.plot([x for x, _ in ref], [y for _, y in ref], "o-", color=REFERENCE, label="reference")
    cur = [(b.mean_score, b.positive_rate, MARKED if b.contributing else CURRENT)
           for b in view.bins if b.mean_score is not None and b.positive_rate is not None]
    ax.plot([x for x, _, _ in cur], [y for _, y, _ in cur], "-", color=CURRENT)
    ax.scatter([x for x, _, _ in cur], [y for _, y, _ in cur], c=[c for _, _, c in cur],
               zorder=3, label="current (red: adds most to the ECE)")
    ax.set_xlabel("mean score of the bin" + (" (the other class's probability)"
                                             if view.score_of == "other" else ""))
    ax.set_ylabel(f"rate of {view.high_class}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def _class_shares(fig: Figure, view: ScoreView) -> None:
    bins = view.bins
    x, w = list(range(len(bins))), 0.4
    colors = [MARKED if b.contributing else CURRENT for b in bins]
    axes = fig.subplots(1, 2, sharey=True)
    for ax, name, cur, ref in (
            (axes[0], f"positives ({view.high_class})", [b.positive_share for b in bins],
             [b.reference_positive_share for b in bins]),
            (axes[1], "negatives", [b.negative_share for b in bins],
             [b.reference_negative_share for b in bins])):
        ax.bar([i - w / 2 for i in x], ref, w, color=REFERENCE, label="reference")
        ax.bar([i + w / 2 for i in x], cur, w, color=colors, label="current (red: moved most)")
        ax.set_xticks(x, [b.label for b in bins], rotation=45, ha="right", fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("share of the class, per score bin")
    axes[0].legend(fontsize=8)
