"""What the report shows of a recomputed window: segment rows, distribution bars, the summary.

Pure functions of the engine's findings and sketches; the only arithmetic added here is for
people (shares, a Wilson interval around a segment's rate), never a drift statistic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from driftline.detectors.sketches import CountTable, Moments, QuantileHistogram, Sketch
from driftline.incidents import Finding
from driftline.investigate.models import Bar, SegmentRow
from driftline.investigate.recompute import Setup, WindowResult
from driftline.monitors import Monitor, category_names
from driftline.performance import OUTCOME_NAMES

Z95 = 1.959964


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (sound at 0 and 1, unlike the normal one)."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def share(sketch: Sketch | None, code: int | None) -> float | None:
    """A segment's share of a sketch's events."""
    if sketch is None:
        return None
    if isinstance(sketch, Moments):
        total = float(sketch.data[:, 0].sum())
        n = float(sketch.data[code, 0]) if code is not None and code < sketch.data.shape[0] \
            else total
        return n / total if total else None
    total = sketch.total
    if not total:
        return None
    return float(sketch.row(code).sum()) / total if code is not None else 1.0


def _rates(f: Finding) -> tuple[float | None, float | None]:
    d = f.evaluation.details
    if f.evaluation.detector == "segment_rate":
        return finite(d.get("current_rate")), finite(d.get("reference_rate"))
    if f.evaluation.detector == "disparate_impact":
        return finite(d.get("selection_rate")), finite(d.get("reference_group_rate"))
    return None, None


def finite(x: Any) -> float | None:
    """A JSON-safe number: None for missing, NaN and infinite values."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def segment_rows(setup: Setup, m: Monitor, model: str, win: WindowResult,
                 segment: dict[str, str]) -> list[SegmentRow]:
    """Every value of the monitor's segment key in the window: rate with its interval, share."""
    if m.cfg.segment_by is None:
        return []
    key = m.cfg.segment_by
    codes = setup.decoder.segment_values[key].index
    cur = win.pane.sketches.get((model, m.slot))
    ref = setup.reference.sketch(model, m.slot)
    rows = []
    for f in win.findings:
        if f.monitor.name != m.name or f.model != model or key not in f.segment:
            continue
        name = f.segment[key]
        code = codes.get(name)
        e = f.evaluation
        rate, ref_rate = _rates(f)
        interval = wilson(round(rate * e.n_current), e.n_current) if rate is not None else None
        rows.append(SegmentRow(
            segment=name, value=finite(e.value), rate=rate,
            rate_low=interval[0] if interval else None, rate_high=interval[1] if interval else None,
            reference_rate=ref_rate, n_current=e.n_current,
            traffic_share=share(cur, code) or 0.0, reference_share=share(ref, code),
            level=f.level, q_value=f.q_value, incident=f.segment == segment))
    return sorted(rows, key=lambda r: -r.traffic_share)


def bin_label(lo: float, hi: float) -> str:
    """A bin's range for a person: ``[lo, hi)``, ±∞ at the ends."""
    def fmt(x: float) -> str:
        return "−∞" if x == -np.inf else "∞" if x == np.inf else f"{x:.4g}"
    return f"[{fmt(lo)}, {fmt(hi)})"


def _histogram_bars(ref: QuantileHistogram, cur: QuantileHistogram, code: int | None,
                    f: Finding | None) -> list[Bar]:
    groups = 10 if ref.bins % 10 == 0 else 1
    r = ref.row(code).reshape(groups, -1).sum(axis=1) if groups > 1 else ref.row(code)
    c = cur.row(code).reshape(groups, -1).sum(axis=1) if groups > 1 else cur.row(code)
    step = ref.bins // len(r)
    inner = ref.edges[step - 1::step][: len(r) - 1]
    lows = np.concatenate([[-np.inf], inner])
    highs = np.concatenate([inner, [np.inf]])
    rs, cs = r / max(r.sum(), 1), c / max(c.sum(), 1)
    marked = _marked_bins(f, lows, highs, rs, cs)
    return [Bar(label=bin_label(lows[i], highs[i]), reference_share=float(rs[i]),
                current_share=float(cs[i]), contributing=i in marked) for i in range(len(r))]


def _marked_bins(f: Finding | None, lows: np.ndarray, highs: np.ndarray, rs: np.ndarray,
                 cs: np.ndarray) -> set[int]:
    """The bins the detector named (PSI's bins, KS's point), else the three that moved most."""
    marked: set[int] = set()
    for t in (f.evaluation.top_contributors if f is not None else ()):
        x = t.get("at")
        if "bin" in t:
            lo = t["bin"][0]
            x = -np.inf if lo == "-inf" else float(lo)
        if isinstance(x, int | float) and not math.isnan(x):
            marked |= {i for i in range(len(lows)) if lows[i] <= x < highs[i]}
    if not marked:
        marked = {int(i) for i in np.argsort(-np.abs(cs - rs))[:3] if abs(cs[i] - rs[i]) > 0}
    return marked


def _table_bars(ref: CountTable, cur: CountTable, code: int | None, labels: Sequence[str],
                f: Finding | None, outcomes: tuple[str, str] | None) -> list[Bar]:
    width = max(ref.counts.shape[1], cur.counts.shape[1], len(labels))
    r, c = ref.row(code, width), cur.row(code, width)
    rs, cs = r / max(r.sum(), 1), c / max(c.sum(), 1)
    named = {str(t.get("category")) for t in (f.evaluation.top_contributors if f else ())}
    names = list(labels) + [f"code {i}" for i in range(len(labels), width)]
    if outcomes is not None:  # a 0/1 outcome: its 1 (the decision value, an error) moved
        names, named = list(outcomes), {outcomes[1]}
    return [Bar(label=names[i], reference_share=float(rs[i]), current_share=float(cs[i]),
                contributing=names[i] in named) for i in range(width) if r[i] or c[i]]


def distribution(setup: Setup, m: Monitor, model: str, win: WindowResult,
                 segment: dict[str, str], f: Finding | None) -> list[Bar]:
    """Reference vs current distribution of the monitor's signal (in its segment, if any)."""
    code = None
    if m.cfg.segment_by is not None and m.kind != "volume":
        code = setup.decoder.segment_values[m.cfg.segment_by].index.get(
            segment.get(m.cfg.segment_by, ""))
    slot = m.slot
    if m.kind == "numeric" and not isinstance(setup.reference.sketch(model, slot),
                                              QuantileHistogram):
        # a gradual monitor keeps moments; a PSI/KS monitor of its signal, a histogram
        slot = next((x.slot for x in setup.group(m) if x.cfg.signal == m.cfg.signal
                     and x.cfg.segment_by == m.cfg.segment_by and x.slot != m.slot
                     and isinstance(setup.reference.sketch(model, x.slot), QuantileHistogram)),
                    slot)
    ref, cur = setup.reference.sketch(model, slot), win.pane.sketches.get((model, slot))
    if isinstance(ref, QuantileHistogram):
        cur = cur if isinstance(cur, QuantileHistogram) else ref.empty()
        return _histogram_bars(ref, cur, code, f if slot == m.slot else None)
    if isinstance(ref, CountTable):
        cur = cur if isinstance(cur, CountTable) else CountTable()
        if m.kind == "volume":
            names = setup.decoder.segment_values[m.cfg.segment_by or ""].names
            return _volume_bars(ref, cur, names, segment)
        outcomes = _outcomes(m.cfg.signal) if m.kind == "binary" else None
        labels = category_names(m.cfg.signal, setup.decoder) if outcomes is None else ()
        return _table_bars(ref, cur, code, labels, f, outcomes)
    return []


def _outcomes(signal: str) -> tuple[str, str]:
    """The names of a binary signal's 0 and 1: ``decision=X`` → not X, X; a performance
    signal's (``error``: right, wrong)."""
    if signal in OUTCOME_NAMES:
        return OUTCOME_NAMES[signal]
    value = signal.split("=", 1)[1]
    return f"not {value}", value


def _volume_bars(ref: CountTable, cur: CountTable, names: Sequence[str],
                 segment: dict[str, str]) -> list[Bar]:
    out = []
    for code, name in enumerate(names):
        r, c = share(ref, code) or 0.0, share(cur, code) or 0.0
        if r or c:
            out.append(Bar(label=name, reference_share=r, current_share=c,
                           contributing=name in segment.values()))
    return out
