"""Judgement: which evaluations of a closed window are breaches, and at what level.

A window's tests are judged together, as columns (a monitor's segments are one
``SegmentTable``): every p-value of a model's window (all its monitors and segments)
goes through one Benjamini–Hochberg step at ``detection.fdr_alpha`` — one family per
model, so a model's verdicts do not depend on the models beside it; a test is a breach
when its q-value passes *and* its effect size reaches the monitor's warning (level 1) or
critical (level 2) threshold. An evaluation whose sample is too small (the detector says what is
enough) is *insufficient*: neither a breach nor clean. A sequential detector,
which has no p-value, gives its own verdict and the thresholds grade it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import false_discovery_control

from driftline.decode.vocab import OTHER
from driftline.detectors.sketches import FloatArray, IntArray
from driftline.detectors.table import BoolArray, SegmentTable
from driftline.incidents import Finding, WindowRef
from driftline.monitors import Monitor
from driftline.windows import ClosedWindow


def benjamini_hochberg(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """BH-adjusted q-values, in input order."""
    p_arr = np.asarray(p, dtype=np.float64)
    if p_arr.size == 0:
        return p_arr
    # scipy's step-up adjustment: q_(i) = min over j ≥ i of p_(j)·n/j, capped at 1
    return np.asarray(false_discovery_control(p_arr, method="bh"), dtype=np.float64)


@dataclass(frozen=True)
class Pending:
    """One monitor's evaluations of a closed window for one model, waiting for judgement."""

    monitor: Monitor
    model: str
    table: SegmentTable


@dataclass(frozen=True)
class Coverage:
    """A segmented monitor's window in aggregate: what the per-segment gauges no longer show.

    ``too_small`` counts the segment values with events in the window but too few to be
    judged (below ``min_samples``, or a group the detector cannot compare), so a long tail
    is never left out silently.
    """

    monitor: str
    model: str
    judged: int
    breaching: int
    too_small: int
    worst_q: float | None


@dataclass(frozen=True)
class Series:
    """One statistic gauge of the window: a segment's value and breach level (0 if unjudged)."""

    monitor: str
    model: str
    detector: str
    signal: str
    segment_by: str | None
    segment: str | None
    value: float
    level: int
    direction: str


@dataclass(frozen=True)
class Verdicts:
    """What a window's judgement hands on: findings worth an object, gauges, coverage."""

    findings: list[Finding]
    series: list[Series]
    coverage: list[Coverage]


@dataclass(frozen=True)
class WindowFacts:
    """What every finding of one closed window cites."""

    window: WindowRef
    versions: list[str]
    positions: list[dict[str, Any]]
    reference_id: str
    config_hash: str
    #: where the labels its predictions joined were read: what a performance finding cites
    label_positions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, win: ClosedWindow, kind: str, model: str, version_names: Sequence[str],
           origin: Mapping[str, Any], reference_id: str, config_hash: str,
           label_origin: Mapping[str, Any] | None = None) -> WindowFacts:
        """What ``model``'s findings of ``win`` cite: its own events' versions, positions
        (labelled with the source they came from) and last time, not the other models'."""
        f = win.content.facts(model)
        last_time = f.last[1] if f.last is not None else None
        labels = [] if label_origin is None else cited(f.label_positions, label_origin)
        return cls(WindowRef(win.index, win.start, win.end, kind, last_time),
                   sorted(version_names[v] for v in f.versions), cited(f.positions, origin),
                   reference_id, config_hash, labels)


class FactsByModel:
    """A closed window's facts per model, each built once, when a finding first needs it."""

    def __init__(self, win: ClosedWindow, kind: str, version_names: Sequence[str],
                 origin: Mapping[str, Any], reference_id: str, config_hash: str,
                 label_origin: Mapping[str, Any] | None = None) -> None:
        self._args = (kind, version_names, origin, reference_id, config_hash, label_origin)
        self.win = win
        self._made: dict[str, WindowFacts] = {}

    def __call__(self, model: str) -> WindowFacts:
        got = self._made.get(model)
        if got is None:
            kind, names, origin, ref, config, labels = self._args
            got = self._made[model] = WindowFacts.of(self.win, kind, model, names, origin, ref,
                                                     config, labels)
        return got


def cited(ranges: Mapping[int, tuple[int, int]], origin: Mapping[str, Any],
          ) -> list[dict[str, Any]]:
    """Position ranges as an incident cites them: the source, then per partition (none for
    a file: its lines) the first and last offset."""
    return [{**origin, **({"partition": p} if p >= 0 else {}), "first_offset": lo,
             "last_offset": hi} for p, (lo, hi) in sorted(ranges.items())]


def levels(p: Pending, sufficient: BoolArray, q: FloatArray, alpha: float) -> IntArray:
    """Per row: -1 too few events to judge; 0 ok; 1 warning; 2 critical (as ``level_of``)."""
    t, m = p.table, p.monitor
    graded = m.levels(t.value)
    by_q = np.where(~np.isnan(q) & (q <= alpha), graded, 0)
    if t.verdict is not None:  # a sequential detector: its change detector decides
        decided = ~np.isnan(t.verdict)
        by_q = np.where(decided, np.where(t.verdict == 1.0, np.maximum(graded, 1), 0), by_q)
    out: IntArray = np.where(sufficient, by_q, -1)
    return out


def judge(pending: Sequence[Pending], facts: Callable[[str], WindowFacts], alpha: float,
          followed: Mapping[tuple[str, str], set[str | None]], show_every: int = 100,
          every: bool = False) -> Verdicts:
    """One BH step per model over the window's p-values; findings for the rows that matter.

    A row becomes a ``Finding`` when its monitor is not segmented, when it breaches, when
    its segment is ``followed`` (an open incident or a pending hysteresis: the incident
    manager must see its clean and too-small windows too), or when it is the ``__other__``
    bucket. Every other row is judged all the same — it takes part in the BH step and the
    coverage counts — but is clean or too small with nothing to follow: no object needed.
    A monitor with at most ``show_every`` segment values shows a gauge series for each (a
    handful of regions: the dashboard's context); a wider one only for its findings.
    ``every``: a finding for every row (``driftline explain`` re-judging one window).
    """
    sufficient = [p.monitor.detector.sufficient_rows(p.table, p.monitor.min_samples)
                  for p in pending]
    tested = [s & ~np.isnan(p.table.p_value) for p, s in zip(pending, sufficient, strict=True)]
    qs = q_values(pending, tested)
    findings: list[Finding] = []
    series: list[Series] = []
    coverage: list[Coverage] = []
    for p, suff, test, q in zip(pending, sufficient, tested, qs, strict=True):
        level = levels(p, suff, q, alpha)
        rows = p.table.rows if every else _worth_a_finding(
            p, level, followed.get((p.monitor.name, p.model), set()))
        findings += [_finding(p, int(i), int(level[i]), q[i], facts(p.model))
                     for i in rows]
        series += _series(p, p.table.rows if len(p.table) <= show_every else rows, level)
        if p.monitor.cfg.segment_by is not None:
            coverage.append(Coverage(
                p.monitor.name, p.model, int(suff.sum()), int((level >= 1).sum()),
                int((~suff & (p.table.n_current > 0)).sum()),
                float(q[test].min()) if test.any() else None))
    return Verdicts(findings, series, coverage)


def q_values(pending: Sequence[Pending], tested: Sequence[BoolArray]) -> list[FloatArray]:
    """Each pending table's q-values (NaN where untested): one BH step per model and layer.

    The family is a model's tests of the window: a model's verdicts must not depend on which
    other models share its engine (a partition, a replay of several models' files) — the
    same events judged alone or beside others give the same incidents. The performance
    layer's tests are a family of their own: on Kafka with a labels topic they are judged
    later than the rest, when the window's labels are final, by an engine of their own.
    """
    out = [np.full(len(p.table), np.nan) for p in pending]
    for family in dict.fromkeys((p.model, p.monitor.layer) for p in pending):
        mine = [i for i, p in enumerate(pending) if (p.model, p.monitor.layer) == family]
        q = benjamini_hochberg(np.concatenate(
            [pending[i].table.p_value[tested[i]] for i in mine] or [np.empty(0)]))
        at = 0
        for i in mine:
            n = int(tested[i].sum())
            out[i][tested[i]] = q[at: at + n]
            at += n
    return out


def _series(p: Pending, rows: IntArray, level: IntArray) -> list[Series]:
    t, m = p.table, p.monitor
    return [Series(m.name, p.model, t.detector, m.cfg.signal, m.cfg.segment_by, t.names[i],
                   float(t.value[i]), max(int(level[i]), 0), m.direction) for i in rows]


def _worth_a_finding(p: Pending, level: IntArray, followed: set[str | None]) -> IntArray:
    """The kept rows that become findings, in order (see ``judge``)."""
    t = p.table
    if p.monitor.cfg.segment_by is None:
        return t.rows
    wanted = t.keep & (level >= 1)
    for name in (*followed, OTHER):
        i = t.row_of(name)
        if i is not None:
            wanted[i] = t.keep[i]
    out: IntArray = np.flatnonzero(wanted)
    return out


def _finding(p: Pending, i: int, level: int, q: float, facts: WindowFacts) -> Finding:
    m, e = p.monitor, p.table.build(i)
    lv = None if level < 0 else level
    return Finding(
        monitor=m.cfg, model=p.model, signal=m.cfg.signal,
        segment={m.cfg.segment_by: e.segment}
        if m.cfg.segment_by is not None and e.segment is not None else {},
        evaluation=e, level=lv,
        threshold=m.critical if lv == 2 else m.warning, critical=m.critical,
        direction=m.direction, q_value=None if np.isnan(q) else float(q), window=facts.window,
        versions=facts.versions, positions=facts.positions,
        reference_id=facts.reference_id, config_hash=facts.config_hash,
        label_positions=facts.label_positions if m.layer == "performance" else [])
