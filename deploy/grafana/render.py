"""Render what an operator sees on the driftline Grafana dashboard, from a real Prometheus.

Every figure is drawn from the dashboard's own PromQL (deploy/grafana/dashboards/driftline.json),
run with ``query_range`` against a real Prometheus that scraped a real driftline:

    # start a local Prometheus (deploy/local/prometheus/run.sh) and `driftline demo`, render, stop
    .venv/bin/python deploy/grafana/render.py --run-demo --out docs/img

    # or read a Prometheus that already scraped driftline (times: unix seconds)
    .venv/bin/python deploy/grafana/render.py --prometheus http://127.0.0.1:9090 \\
        --start 1767225600 --end 1767226200 --out /tmp/img

Writes ``dashboard-overview.png`` (every panel, laid out as in Grafana),
``dashboard-statistics.png`` (statistic vs thresholds of the three drifting monitors of the
demo, with breach state and incident annotations), ``dashboard-incidents.png`` and
``dashboard-throughput.png``. Needs matplotlib (``pip install -e '.[docs]'``); ``collect`` needs
only the standard library and numpy (the e2e test calls it).

Two liberties, both printed on the figures: the demo replays 5 hours of event time in about a
minute, so (1) the x axis is the stream's event time (wall-clock sample times mapped through
``driftline_watermark_seconds``), and (2) the dashboard's ``[5m]``/``[1m]`` rate ranges are
shortened to ``--rate-range`` (10 s), else a one-minute run would show a fifth of its real rate.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DASHBOARD = HERE / "dashboards" / "driftline.json"
RUN_SH = ROOT / "deploy" / "local" / "prometheus" / "run.sh"
ALL = {"model": ".*", "monitor": ".*", "segment": ".*"}
# three of the demo's injected failures and the segment each shows up in (src/driftline/demo.py;
# the fourth, the east concept drift, shows in labels only)
FOCUS = (("region-priority-rate", "south", "region-deprioritized: south's priority rate falls"),
         ("parcel-weight-psi", "__all__", "unit change: parcel_weight arrives in lb"),
         ("score-creep", "__all__", "score creep: over-confident scores, too slow for PSI/KS"))
SEVERITY_COLORS = {"critical": "#d62728", "high": "#ff7f0e", "medium": "#e6b800", "low": "#1f77b4"}
OUTCOME_COLORS = {"valid": "#2ca02c", "invalid": "#d62728", "late": "#ff7f0e"}


# --- the dashboard's queries --------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One query of one panel."""

    panel: dict[str, Any]
    row: str
    ref: str
    expr: str
    legend: str


def targets(dashboard: Path = DASHBOARD) -> list[Target]:
    """Every panel target in layout order (rows are flat panels of type "row", or nest theirs)."""
    out: list[Target] = []

    def walk(panels: list[dict[str, Any]], row: str) -> None:
        for p in sorted(panels, key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
            if p["type"] == "row":
                row = p["title"]
                walk(p.get("panels", []), row)
                continue
            for t in p.get("targets", []):
                out.append(Target(p, row, t["refId"], t["expr"], t.get("legendFormat", "")))

    walk(json.loads(dashboard.read_text())["panels"], "")
    return out


def annotation_expr(dashboard: Path = DASHBOARD) -> str:
    dash = json.loads(dashboard.read_text())
    return next(a["expr"] for a in dash["annotations"]["list"] if a.get("expr"))


def interpolate(expr: str, values: dict[str, str], rate_range: str | None) -> str:
    """Grafana's variable interpolation; optionally every range selector set to ``rate_range``."""
    expr = re.sub(r"\$\{?(model|monitor|segment)\}?", lambda m: values[m.group(1)], expr)
    expr = re.sub(r"\$\{?__(rate_)?interval\}?", rate_range or "1m", expr)
    if rate_range:
        expr = re.sub(r"\[\d+[smhd]\]", f"[{rate_range}]", expr)
    return expr


def legend(fmt: str, labels: dict[str, str]) -> str:
    """Grafana's ``{{label}}`` legend format (all labels when the format is empty)."""
    if not fmt:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__") or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)


# --- Prometheus ---------------------------------------------------------------------------------


@dataclass
class Series:
    labels: dict[str, str]
    t: np.ndarray  # unix seconds (wall clock)
    v: np.ndarray


class Prometheus:
    """The two calls we need from the HTTP API, with urllib."""

    def __init__(self, url: str, start: float, end: float, step: float = 1.0) -> None:
        self.url, self.start, self.end, self.step = url.rstrip("/"), start, end, step

    def _get(self, path: str, params: dict[str, str]) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # bad PromQL: the body says why
            body = json.loads(exc.read())
        if body.get("status") != "success":
            raise RuntimeError(f"{params.get('query')}: {body.get('error')}")
        return body["data"]

    def range(self, promql: str) -> list[Series]:
        data = self._get("query_range", {"query": promql, "start": f"{self.start:.3f}",
                                         "end": f"{self.end:.3f}", "step": f"{self.step:g}"})
        out = []
        for r in data["result"]:
            t, v = zip(*r["values"], strict=True) if r["values"] else ((), ())
            out.append(Series(r["metric"], np.asarray(t, float), np.asarray(v, float)))
        return out


# --- what the figures show ----------------------------------------------------------------------


def _panel(tgts: list[Target], title: str) -> list[Target]:
    found = [t for t in tgts if t.panel["title"] == title]
    if not found:
        raise KeyError(f"the dashboard has no panel {title!r}")
    return found


def collect(url: str, start: float, end: float, *, step: float = 1.0,
            rate_range: str = "10s", dashboard: Path = DASHBOARD) -> dict[str, list[Series]]:
    """The series of the focused figures, keyed ``figure/what``: each dashboard query as run."""
    prom = Prometheus(url, start, end, step)
    tgts = targets(dashboard)
    out: dict[str, list[Series]] = {}

    def run(key: str, t: Target, values: dict[str, str], ranges: str | None = None) -> None:
        # annotations mark changes: over a range of two scrapes, so close events stay apart
        series = prom.range(interpolate(t.expr, values, ranges or rate_range))
        for s in series:
            s.labels["__legend__"] = legend(t.legend, s.labels)
        out[key] = series

    stat = _panel(tgts, "Statistic vs thresholds — $monitor")
    breach = _panel(tgts, "Breach state")[0]
    for monitor, segment, _ in FOCUS:
        pick = {"model": ".*", "monitor": monitor, "segment": ".*"}
        for t in stat:
            run(f"statistics/{monitor}/{t.ref}", t, pick)
        run(f"statistics/{monitor}/breach", breach, {**pick, "segment": segment})
        ann = Target({}, "", "", annotation_expr(dashboard), "{{type}}")
        run(f"statistics/{monitor}/annotations", ann, pick, f"{2 * step:g}s")
    for title, key in (("Open incidents by severity", "incidents/open"),
                       ("Incident timeline", "incidents/timeline"),
                       ("Throughput by outcome", "throughput/outcome"),
                       ("Segment volume", "throughput/segments"),
                       ("Batch processing time", "throughput/batch")):
        for t in _panel(tgts, title):
            run(f"{key}/{t.ref}", t, ALL)
    out["clock/watermark"] = prom.range("max(driftline_watermark_seconds)")
    return out


def collect_overview(url: str, start: float, end: float, *, step: float = 1.0,
                     rate_range: str = "10s",
                     dashboard: Path = DASHBOARD) -> list[tuple[Target, list[Series]]]:
    """Every panel target with its series ('All' selected; the repeated panel for one monitor)."""
    prom = Prometheus(url, start, end, step)
    out = []
    for t in targets(dashboard):
        values = dict(ALL, monitor=FOCUS[0][0]) if "$monitor" in t.panel["title"] else ALL
        series = prom.range(interpolate(t.expr, values, rate_range))
        for s in series:
            s.labels["__legend__"] = legend(t.legend, s.labels)
        out.append((t, series))
    return out


class Clock:
    """Maps wall-clock sample times to the stream's event time through the watermark."""

    def __init__(self, watermark: list[Series], use_stream_time: bool, step: float = 1.0) -> None:
        self.step_s = step
        self.slope = 1.0
        self.stream = use_stream_time and bool(watermark) and watermark[0].t.size >= 2
        if self.stream:
            t, v = watermark[0].t, watermark[0].v
            first = np.concatenate([[True], np.diff(v) > 0])  # where the watermark moved
            self.t, self.v = t[first], v[first]
            if self.t.size < 2:
                self.stream = False
            else:
                self.slope = (self.v[-1] - self.v[0]) / (self.t[-1] - self.t[0])

    @property
    def gap(self) -> float:
        """One query step on the x axis (days)."""
        return self.step_s * self.slope / 86400.0

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Matplotlib dates (days) of wall times ``t``."""
        if self.stream:
            mapped = np.interp(t, self.t, self.v)
            before, after = t < self.t[0], t > self.t[-1]
            mapped[before] = self.v[0] + (t[before] - self.t[0]) * self.slope
            mapped[after] = self.v[-1] + (t[after] - self.t[-1]) * self.slope
            t = mapped
        return t / 86400.0  # matplotlib's default epoch is 1970-01-01: days since then


# --- drawing ------------------------------------------------------------------------------------


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        sys.exit("render.py needs matplotlib: .venv/bin/pip install -e '.[docs]'")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold",
                         "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 8,
                         "legend.frameon": False, "figure.dpi": 100, "savefig.dpi": 100,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _time_axis(ax: Any, clock: Clock) -> None:
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if clock.stream else "%H:%M:%S"))


def _xlabel(clock: Clock) -> str:
    if clock.stream:
        return "stream time (event time, UTC) — the demo replays 5 h of events in about a minute"
    return "wall-clock time (UTC)"


def _step(ax: Any, clock: Clock, s: Series, **kw: Any) -> Any:
    return ax.step(clock(s.t), s.v, where="post", **kw)


def _runs(x: np.ndarray, on: np.ndarray, gap: float) -> list[tuple[float, float]]:
    """(start, width) of each run of consecutive samples where ``on``; a sample lasts one step
    (``gap``), or to the next sample when that comes sooner."""
    if x.size == 0:
        return []
    ends = np.append(x[1:], x[-1] + gap)
    ends = np.minimum(ends, x + 1.5 * gap)  # a missing sample ends a run
    out: list[tuple[float, float]] = []
    for i in np.flatnonzero(on):
        if out and abs(out[-1][0] + out[-1][1] - x[i]) < 1e-9:
            out[-1] = (out[-1][0], ends[i] - out[-1][0])
        else:
            out.append((x[i], ends[i] - x[i]))
    return out


def _shade(ax: Any, clock: Clock, s: Series, colors: dict[int, str], alpha: float = 0.18) -> None:
    """Background spans where the series takes the values in ``colors``."""
    x = clock(s.t)
    for level, color in colors.items():
        for start, width in _runs(x, s.v == level, clock.gap):
            ax.axvspan(start, start + width, color=color, alpha=alpha, lw=0)


ANNOTATION_COLORS = {"opened": "#d62728", "escalated": "#9467bd", "updated": "#7f7f7f",
                     "resolved": "#2ca02c"}


def _annotations(ax: Any, clock: Clock, series: list[Series]) -> None:
    """The dashboard's incident annotations: a vertical line where an incident event happened."""
    labelled: set[str] = set()
    for s in series:
        kind = s.labels.get("type", "")
        if kind not in ANNOTATION_COLORS:
            continue
        # the query is true for one or two steps per event: one line per run of steps
        for start, _ in _runs(clock(s.t), s.v > 0, clock.gap):
            ax.axvline(start, color=ANNOTATION_COLORS[kind], lw=1.2, ls=":",
                       label=None if kind in labelled else f"incident {kind}")
            labelled.add(kind)


def _thresholds(ax: Any, clock: Clock, data: dict[str, list[Series]], monitor: str) -> None:
    for ref, level, color in (("B", "warning", "#ff7f0e"), ("C", "critical", "#d62728")):
        for s in data[f"statistics/{monitor}/{ref}"]:
            both = s.labels.get("direction") == "both"
            for sign in (1, -1) if both else (1,):
                _step(ax, clock, Series(s.labels, s.t, sign * s.v), color=color, lw=1.2, ls="--",
                      label=None if sign < 0 else
                      f"{level} ({'±' if both else s.labels.get('direction')})")


def _footnote(fig: Any, text: str) -> None:
    fig.text(0.01, 0.006, text, fontsize=7, color="#555555")


def figure_statistics(plt: Any, data: dict[str, list[Series]], clock: Clock, note: str) -> Any:
    fig, axes = plt.subplots(len(FOCUS), 1, figsize=(11, 3.0 * len(FOCUS)), sharex=True)
    for ax, (monitor, segment, what) in zip(axes, FOCUS, strict=True):
        stats = data[f"statistics/{monitor}/A"]
        for b in data[f"statistics/{monitor}/breach"]:
            _shade(ax, clock, b, {1: "#ff7f0e", 2: "#d62728"})
        for s in sorted(stats, key=lambda s: s.labels.get("segment") == segment):
            mine = s.labels.get("segment") == segment
            _step(ax, clock, s, lw=2.0 if mine else 0.8, color="#1f77b4" if mine else "#b0b0b0",
                  label=f"{s.labels['signal']} · {s.labels['segment']}" if mine else None)
        if len(stats) > 1:
            ax.plot([], [], color="#b0b0b0", lw=0.8, label="other segments")
        _thresholds(ax, clock, data, monitor)
        _annotations(ax, clock, data[f"statistics/{monitor}/annotations"])
        detector = stats[0].labels.get("detector", "") if stats else ""
        ax.set_title(f"Statistic vs thresholds — {monitor} ({detector})", loc="left")
        ax.text(1.0, 1.02, what, transform=ax.transAxes, ha="right", fontsize=8, color="#555555")
        ax.set_ylabel("statistic")
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0))
        _time_axis(ax, clock)
    axes[-1].set_xlabel(_xlabel(clock))
    _footnote(fig, "Shading: driftline_breach of the highlighted series (orange warning, red "
              "critical). Dotted lines: the dashboard's incident annotations. " + note)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def _stacked(ax: Any, clock: Clock, series: list[Series], colors: dict[str, str]) -> None:
    """Grafana's stacking 'normal' as filled steps; ``colors`` by legend name (panel overrides)."""
    series = [s for s in series if s.t.size]
    if not series:
        return
    t = np.unique(np.concatenate([s.t for s in series]))
    base = np.zeros(t.size)
    order = list(colors)[::-1]  # e.g. low at the bottom, critical on top
    cycle = iter(f"C{i % 10}" for i in range(1000))
    for s in sorted(series, key=lambda s: (order.index(s.labels["__legend__"])
                                           if s.labels["__legend__"] in order else -1)):
        v = np.interp(t, s.t, s.v, left=0, right=0)
        name = s.labels["__legend__"]
        ax.fill_between(clock(t), base, base + v, step="post", color=colors.get(name, next(cycle)),
                        alpha=0.6, lw=0, label=f"{name} (max {v.max():g})")
        base = base + v
    ax.step(clock(t), base, where="post", color="#333333", lw=0.8)


def _timeline(ax: Any, clock: Clock, rows: list[tuple[str, Series]],
              color: Any, max_rows: int = 14) -> None:
    """A state timeline: one row per series, colored runs where it is non-zero."""
    rows = [(name, s) for name, s in rows if s.t.size]
    hidden = max(0, len(rows) - max_rows)
    rows = rows[:max_rows]
    for y, (_, s) in enumerate(rows):
        x = clock(s.t)
        for level in sorted({float(v) for v in s.v if v > 0}):
            ax.broken_barh(_runs(x, s.v == level, clock.gap), (y - 0.38, 0.76),
                           color=color(s, level))
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_ylim(len(rows) - 0.5 if rows else 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    if hidden:
        ax.text(1.0, -0.02, f"+{hidden} more rows", transform=ax.transAxes, ha="right", va="top",
                fontsize=7, color="#555555")


def _severity_color(s: Series, _level: float) -> str:
    return SEVERITY_COLORS.get(s.labels.get("severity", ""), "#ff7f0e")


def figure_incidents(plt: Any, data: dict[str, list[Series]], clock: Clock, note: str) -> Any:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.2), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 1.1]})
    _stacked(top, clock, data["incidents/open/A"], SEVERITY_COLORS)
    top.set_title("Open incidents by severity (stacked)", loc="left")
    top.set_ylabel("open incidents")
    top.yaxis.get_major_locator().set_params(integer=True)
    top.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0))
    rows = sorted(data["incidents/timeline/A"],
                  key=lambda s: (s.labels.get("monitor", ""),
                                 list(SEVERITY_COLORS).index(s.labels.get("severity", "low"))))
    _timeline(bottom, clock, [(s.labels["__legend__"], s) for s in rows], _severity_color)
    bottom.set_title("Incident timeline (monitor and severity)", loc="left")
    for sev, color in SEVERITY_COLORS.items():
        bottom.plot([], [], lw=6, color=color, label=sev)
    bottom.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0))
    bottom.set_xlabel(_xlabel(clock))
    _time_axis(bottom, clock)
    _footnote(fig, note)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def figure_throughput(plt: Any, data: dict[str, list[Series]], clock: Clock, note: str) -> Any:
    fig, axes = plt.subplots(3, 1, figsize=(11, 8), sharex=True)
    for s in data["throughput/outcome/A"]:
        out = s.labels.get("outcome", "")
        _step(axes[0], clock, s, color=OUTCOME_COLORS.get(out), lw=1.6, label=out)
    axes[0].set_title("Throughput by outcome", loc="left")
    axes[0].set_ylabel("events/s (wall clock)")
    for s in sorted(data["throughput/segments/A"], key=lambda s: s.labels["__legend__"]):
        _step(axes[1], clock, s, lw=1.2, label=s.labels["__legend__"])
    axes[1].set_title("Segment volume", loc="left")
    axes[1].set_ylabel("events/s (wall clock)")
    for key, color in (("A", "#2ca02c"), ("B", "#ff7f0e"), ("C", "#d62728")):
        for s in data[f"throughput/batch/{key}"]:
            _step(axes[2], clock, Series(s.labels, s.t, s.v * 1000), color=color, lw=1.4,
                  label=s.labels["__legend__"])
    axes[2].set_title("Batch processing time", loc="left")
    axes[2].text(1.0, 1.02, "the demo hands the engine one 5-minute window (~5,000 events) "
                 "per batch", transform=axes[2].transAxes, ha="right", fontsize=8,
                 color="#555555")
    axes[2].set_ylabel("ms")
    for ax in axes:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0))
        ax.set_ylim(bottom=0)
        _time_axis(ax, clock)
    axes[-1].set_xlabel(_xlabel(clock))
    _footnote(fig, note)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def _format(v: float, unit: str | None) -> str:
    if not np.isfinite(v):
        return "–"
    if unit == "percentunit":
        return f"{v:.1%}"
    if unit == "ops":
        return f"{v:,.0f}/s"
    return f"{v:g}" if abs(v) < 1e4 else f"{v:,.0f}"


BREACH_COLORS = {1.0: "#ff7f0e", 2.0: "#d62728"}


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def figure_overview(plt: Any, panels: list[tuple[Target, list[Series]]], clock: Clock,
                    note: str) -> Any:
    """Every panel where Grafana puts it (24-column grid), drawn by its type, legend below."""
    import math

    by_panel: dict[int, tuple[dict[str, Any], list[tuple[Target, list[Series]]]]] = {}
    for t, series in panels:
        by_panel.setdefault(t.panel["id"], (t.panel, []))[1].append((t, series))
    unit_h, header = 0.34, 0.5  # inches per grid unit; figure header
    bottom_y = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p, _ in by_panel.values())
    width, height = 16.0, bottom_y * unit_h + header
    fig = plt.figure(figsize=(width, height))

    def frac_y(inches_from_top: float) -> float:
        return 1 - inches_from_top / height

    for panel, tgts in by_panel.values():
        gp = panel["gridPos"]
        series = [s for _, ss in tgts for s in ss]
        kind = panel["type"]
        n_legend = len(series) if kind == "timeseries" and len(series) <= 12 else 0
        ncol = max(1, gp["w"] // 4)
        legend_h = 0.13 * math.ceil(n_legend / ncol) if n_legend else 0.0
        top_in = header + gp["y"] * unit_h + 0.3
        bottom_in = header + (gp["y"] + gp["h"]) * unit_h - 0.3 - legend_h
        x0 = gp["x"] / 24 + (0.045 if kind in ("timeseries", "state-timeline") else 0.01)
        x1 = (gp["x"] + gp["w"]) / 24 - 0.012
        if kind == "state-timeline":
            x0 += 1.9 / width  # room for the row names
        ax = fig.add_axes((x0, frac_y(bottom_in), x1 - x0, (bottom_in - top_in) / height))
        ax.set_title(panel["title"].replace("$monitor", FOCUS[0][0]), loc="left", fontsize=9)
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        ax.tick_params(labelsize=7)
        _time_axis(ax, clock)
        if not series:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "No data", ha="center", va="center", color="#888888",
                    transform=ax.transAxes, fontsize=10)
            continue
        if kind == "stat":
            ax.set_axis_off()
            lines = [_format(s.v[-1] if s.v.size else np.nan, unit)
                     + (f"  {s.labels['__legend__']}" if len(series) > 1 else "") for s in series]
            ax.text(0.0, 0.5, "\n".join(lines), fontsize=15 if len(series) == 1 else 8.5,
                    weight="bold", va="center", transform=ax.transAxes, color="#1f77b4")
            continue
        if kind == "table":
            ax.set_axis_off()
            last_t = max(s.t[-1] for s in series if s.t.size)
            now = [s for s in series if s.t.size and s.t[-1] == last_t]
            lines = ["monitor · signal · segment = breach"] + [
                f"{s.labels.get('monitor')} · {s.labels.get('signal')} · "
                f"{s.labels.get('segment')} = {s.v[-1]:g}" for s in now[:10]]
            ax.text(0.0, 1.0, "\n".join(lines) if now else "(none at the end of the run)",
                    fontsize=7.5, va="top", transform=ax.transAxes, family="monospace")
            continue
        if kind == "state-timeline":
            ever = [s for s in series if (s.v > 0).any()]
            rows = [(_short(s.labels["__legend__"], 36), s) for s in ever]
            by_level = panel["title"] == "Breach state"  # else colored by the severity label
            _timeline(ax, clock, rows, (lambda s, level: BREACH_COLORS.get(level, "#ff7f0e"))
                      if by_level else _severity_color, 10)
            ax.tick_params(axis="y", labelsize=6.5)
            quiet = len(series) - len(ever)
            if quiet:
                ax.text(0.0, -0.14, f"{quiet} more series, always 0", transform=ax.transAxes,
                        fontsize=7, color="#555555", va="top")
            continue
        stacking = (panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
                    .get("stacking", {}).get("mode", "none"))
        if stacking == "normal":
            _stacked(ax, clock, series, SEVERITY_COLORS if "severity" in tgts[0][0].expr else {})
        else:
            for t, ss in tgts:
                threshold = "driftline_threshold" in t.expr
                for s in ss[:16]:
                    kw: dict[str, Any] = {"lw": 1.0}
                    if threshold:
                        kw.update(ls="--", color="#d62728" if "critical" in t.expr else "#ff7f0e")
                    _step(ax, clock, s, label=s.labels["__legend__"][:50], **kw)
        if n_legend:
            handles, labels = ax.get_legend_handles_labels()
            fig.legend(handles, labels, loc="upper left", ncol=ncol, fontsize=6.5,
                       bbox_to_anchor=(x0, frac_y(bottom_in + 0.22)), borderaxespad=0,
                       handlelength=1.5, columnspacing=1.0)
    fig.text(0.01, frac_y(0.08), "driftline — the Grafana dashboard's panels, queried from a "
             "real Prometheus that scraped `driftline demo` ('All' selected; the repeated "
             f"statistic panel shown for {FOCUS[0][0]}).\nx axis: " + _xlabel(clock) + ". "
             + note, fontsize=8, va="top", color="#555555")
    return fig


# --- running the demo ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoRun:
    url: str
    start: float
    end: float


@contextmanager
def run_demo(pace: float, workdir: Path) -> Iterator[DemoRun]:
    """Start a local Prometheus and a paced `driftline demo`; yield once the stream is scraped."""
    if shutil.which("prometheus") is None:
        sys.exit("render.py --run-demo needs `prometheus` (Debian package prometheus)")
    target = f"127.0.0.1:{_free_port()}"
    prom_dir = workdir / "prometheus"
    started = subprocess.run(["bash", str(RUN_SH), "start", "--target", target, "--dir",
                              str(prom_dir)], capture_output=True, text=True, timeout=120,
                             check=False)
    if started.returncode != 0:
        sys.exit(f"run.sh start failed:\n{started.stderr}")
    url = started.stdout.strip().splitlines()[-1]
    demo = None
    try:
        t0 = time.time()
        demo = subprocess.Popen([sys.executable, "-m", "driftline.cli", "demo", "--pace",
                                 str(pace), "--metrics-port", target.rsplit(":", 1)[1],
                                 "--hold", "600"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert demo.stdout is not None
        events = None
        deadline = time.monotonic() + 60 + 120 * pace
        for line in demo.stdout:  # the demo prints a line per incident event; bounded below
            print(f"  demo: {line.rstrip()}", file=sys.stderr)
            m = re.match(r"done: (\d+) events", line)
            if m:
                events = int(m.group(1))
                break
            if time.monotonic() > deadline:
                break
        if events is None:
            sys.exit("the demo did not finish its stream in time")
        prom = Prometheus(url, 0, 0)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for the scrape that saw the last event
            data = prom._get("query", {"query": f"sum(driftline_events_total) == {events}"})
            if data["result"]:
                break
            time.sleep(0.5)
        yield DemoRun(url, t0, time.time() + 1)
    finally:
        if demo is not None:
            demo.terminate()
            demo.wait(timeout=10)
        subprocess.run(["bash", str(RUN_SH), "stop", "--dir", str(prom_dir)],
                       capture_output=True, timeout=60, check=False)


# --- main ---------------------------------------------------------------------------------------


def _save(fig: Any, path: Path) -> None:
    """PNG with a 256-colour palette (no dithering): a third of the size, same colours."""
    from PIL import Image  # a dependency of matplotlib

    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    image = Image.open(buf).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        path, optimize=True)


def render(url: str, start: float, end: float, out: Path, *, stream_time: bool,
           rate_range: str) -> list[Path]:
    plt = _matplotlib()
    data = collect(url, start, end, rate_range=rate_range)
    clock = Clock(data["clock/watermark"], stream_time, step=1.0)
    note = (f"Rate ranges [5m]/[1m] shortened to [{rate_range}] for the compressed demo."
            if rate_range else "")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in (
            ("dashboard-statistics.png", figure_statistics(plt, data, clock, note)),
            ("dashboard-incidents.png", figure_incidents(plt, data, clock, note)),
            ("dashboard-throughput.png", figure_throughput(plt, data, clock, note)),
            ("dashboard-overview.png",
             figure_overview(plt, collect_overview(url, start, end, rate_range=rate_range),
                             clock, note))):
        path = out / name
        _save(fig, path)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run-demo", action="store_true",
                     help="start a local Prometheus and `driftline demo`, then render")
    src.add_argument("--prometheus", metavar="URL", help="a Prometheus that scraped driftline")
    p.add_argument("--start", type=float, help="unix seconds (with --prometheus)")
    p.add_argument("--end", type=float, help="unix seconds (with --prometheus; default now)")
    p.add_argument("--pace", type=float, default=1.0,
                   help="demo seconds per window (with --run-demo; default 1.0)")
    p.add_argument("--rate-range", default="10s",
                   help="replaces the dashboard's rate ranges ('' keeps them; default 10s)")
    p.add_argument("--x", choices=("stream", "wall"), default=None,
                   help="x axis: stream (event) time or wall clock (default: stream for the demo)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = p.parse_args(argv)
    stream_time = (args.x or ("stream" if args.run_demo else "wall")) == "stream"
    if args.run_demo:
        with tempfile.TemporaryDirectory(prefix="driftline-render-") as tmp, \
                run_demo(args.pace, Path(tmp)) as run:
            paths = render(run.url, run.start, run.end, args.out, stream_time=stream_time,
                           rate_range=args.rate_range)
    else:
        if args.start is None:
            p.error("--prometheus needs --start")
        paths = render(args.prometheus, args.start, args.end or time.time(), args.out,
                       stream_time=stream_time, rate_range=args.rate_range)
    for path in paths:
        print(f"{path}  {path.stat().st_size / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
