"""Judgement: which evaluations of a closed window are breaches, and at what level.

A window's tests are judged together: every p-value of the window (all monitors,
models and segments) goes through one Benjamini–Hochberg step at
``detection.fdr_alpha``; a test is a breach when its q-value passes *and* its
effect size reaches the monitor's warning (level 1) or critical (level 2)
threshold. An evaluation whose sample is too small (the detector says what is
enough) is *insufficient*: neither a breach nor clean. A sequential detector,
which has no p-value, gives its own verdict and the thresholds grade it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.detectors.base import Evaluation
from driftline.incidents import Finding, WindowRef
from driftline.monitors import Monitor
from driftline.windows import ClosedWindow


def benjamini_hochberg(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """BH-adjusted q-values, in input order."""
    p_arr = np.asarray(p, dtype=np.float64)
    n = p_arr.size
    if n == 0:
        return p_arr
    order = np.argsort(p_arr)
    ranked = p_arr[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


@dataclass(frozen=True)
class Pending:
    """One evaluation of a closed window, waiting for judgement."""

    monitor: Monitor
    model: str
    evaluation: Evaluation


@dataclass(frozen=True)
class WindowFacts:
    """What every finding of one closed window cites."""

    window: WindowRef
    versions: list[str]
    positions: list[dict[str, Any]]
    reference_id: str
    config_hash: str

    @classmethod
    def of(cls, win: ClosedWindow, kind: str, versions: list[str], origin: Mapping[str, Any],
           reference_id: str, config_hash: str) -> WindowFacts:
        """The facts of ``win``, its positions labelled with the source they came from."""
        last_time = win.content.last[1] if win.content.last is not None else None
        positions = [{**origin, **({"partition": p} if p >= 0 else {}),
                      "first_offset": lo, "last_offset": hi}
                     for p, (lo, hi) in sorted(win.content.positions.items())]
        return cls(WindowRef(win.index, win.start, win.end, kind, last_time), sorted(versions),
                   positions, reference_id, config_hash)


def level_of(m: Monitor, e: Evaluation, sufficient: bool, q: float | None, alpha: float,
             ) -> int | None:
    """None: too few events to judge; 0 ok; 1 warning; 2 critical."""
    if not sufficient:
        return None
    if e.verdict is not None:  # a sequential detector: its change detector decides
        return max(1, m.level(e.value)) if e.verdict else 0
    return m.level(e.value) if q is not None and q <= alpha else 0


def judge(pending: Sequence[Pending], facts: WindowFacts, alpha: float) -> list[Finding]:
    """One finding per evaluation, in order, with its level and q-value."""
    sufficient = [p.monitor.detector.sufficient(p.evaluation, p.monitor.min_samples)
                  for p in pending]
    tested = [i for i, p in enumerate(pending)
              if p.evaluation.p_value is not None and sufficient[i]]
    q = benjamini_hochberg([pending[i].evaluation.p_value or 0.0 for i in tested])
    qvals: dict[int, float] = dict(zip(tested, q.tolist(), strict=True))
    findings = []
    for i, p in enumerate(pending):
        m, e = p.monitor, p.evaluation
        level = level_of(m, e, sufficient[i], qvals.get(i), alpha)
        findings.append(Finding(
            monitor=m.cfg, model=p.model, signal=m.cfg.signal,
            segment={m.cfg.segment_by: e.segment}
            if m.cfg.segment_by is not None and e.segment is not None else {},
            evaluation=e, level=level,
            threshold=m.critical if level == 2 else m.warning, critical=m.critical,
            direction=m.direction, q_value=qvals.get(i), window=facts.window,
            versions=facts.versions, positions=facts.positions,
            reference_id=facts.reference_id, config_hash=facts.config_hash))
    return findings
