"""river: ADWIN, KSWIN and PageHinkley per numeric column, one update per event.

Each detector runs with its defaults (KSWIN gets ``seed=1`` so runs repeat) on
every numeric column — the features and the prediction; river's detectors take
numbers, so categorical columns are not watched. A detector first sees the last
1,000 reference values (its warm-up), then the stream; a detection at stream
index i is an alert (column, i). Timing covers warm-up and stream, all columns
in turn; events/s = events / (sum over columns of the column's time), since an
event costs one update per column.

KSWIN runs scipy's two-sample KS on every update (~4k updates/s); in quick mode
it is run on the first ``kswin_columns`` numeric columns only and its per-event
cost is extrapolated to all columns (recorded in ``extra``).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.compare.common import ToolRun, traced_peak
from benchmarks.compare.streams import Stream

WARMUP = 1000
DETECTORS = ("ADWIN", "KSWIN", "PageHinkley")


def make(name: str) -> Any:
    from river import drift

    if name == "KSWIN":
        return drift.KSWIN(seed=1)
    return getattr(drift, name)()


def _feed(det: Any, values: list[float], offset: int) -> list[int]:
    hits = []
    for i, v in enumerate(values):
        det.update(v)
        if det.drift_detected:
            hits.append(i - offset)
    return hits


def run(stream: Stream, name: str, column_limit: int | None = None) -> ToolRun:
    cols = stream.numeric_columns
    run_cols = cols if column_limit is None else cols[:column_limit]
    tr = ToolRun("river", name, stream.name, columns=run_cols, per_event=True,
                 events=stream.n, run_unit="stream")
    total = 0.0
    lo = max(0, stream.n_reference - WARMUP)
    for c in run_cols:
        values = stream.column(c)[lo:].tolist()
        offset = stream.n_reference - lo
        det = make(name)
        t0 = time.perf_counter()
        hits = _feed(det, values, offset)
        total += time.perf_counter() - t0
        tr.alerts.update((c, i) for i in hits if i >= 0)
        tr.extra.setdefault("warmup_detections", 0)
        tr.extra["warmup_detections"] += sum(1 for i in hits if i < 0)
    fed = stream.n + (stream.n_reference - lo)
    per_event = total / fed / len(run_cols) * len(cols)
    tr.rates.append(1.0 / per_event)
    if len(run_cols) < len(cols):
        tr.extra["extrapolated_from_columns"] = run_cols
    first = stream.column(run_cols[0])[lo : lo + 5000].tolist()
    tr.peak_bytes, _ = traced_peak(lambda: _feed(make(name), first, 0))
    return tr
