"""evidently: one Report per 5,000-event window against the same reference rows.

Configurations:

- ``matched`` — ``ValueDrift`` per column: ``psi`` and ``ks`` on numeric
  columns, ``chisquare`` and ``jensenshannon`` on categorical ones (the work
  of driftline's ``matched`` config), each at evidently's default threshold.
- ``preset`` — ``DataDriftPreset()`` with its defaults (with more than 1,000
  reference rows: normed Wasserstein for numeric columns, Jensen–Shannon for
  categorical ones; thresholds 0.1).

A column alerts in a window when any of its ValueDrift metrics says drift, by
evidently's own rule: p-value tests (``ks``, ``chisquare``, ``z``) when
p < threshold (KS: ≤), distances when value ≥ threshold. Timed per window:
``Dataset.from_pandas`` of the window, ``Report.run`` and reading the result
(``snapshot.dict()``); the reference ``Dataset`` is built once, outside the
timing (evidently recomputes its reference statistics on every run anyway).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from benchmarks.compare.common import ToolRun, traced_peak
from benchmarks.compare.streams import WINDOW, Stream

P_VALUE_METHODS = ("ks", "chisquare", "z", "K-S p_value", "chi-square p_value", "Z-test p_value")


def available() -> str | None:
    try:
        import evidently
    except ImportError as exc:
        return f"not installed ({exc}); pip install -e '.[bench]'"
    return str(evidently.__version__)


def _metrics(stream: Stream, which: str) -> list[Any]:
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    if which == "preset":
        return [DataDriftPreset()]
    out = []
    for c in stream.numeric_columns:
        out += [ValueDrift(column=c, method="psi"), ValueDrift(column=c, method="ks")]
    for c in stream.categorical_columns:
        out += [ValueDrift(column=c, method="chisquare"),
                ValueDrift(column=c, method="jensenshannon")]
    return out


def drifted(method: str, value: float, threshold: float) -> bool:
    if method in P_VALUE_METHODS:
        return value <= threshold if method in ("ks", "K-S p_value") else value < threshold
    return value >= threshold


def run(stream: Stream, which: str, windows: list[int] | None = None) -> ToolRun:
    from evidently import DataDefinition, Dataset, Report

    warnings.filterwarnings("ignore")
    ks = list(range(stream.windows)) if windows is None else windows
    tr = ToolRun("evidently", which, stream.name, columns=stream.columns, windows=ks,
                 events=len(ks) * WINDOW, run_unit="window")
    dd = DataDefinition(numerical_columns=stream.numeric_columns,
                        categorical_columns=stream.categorical_columns)
    ref = Dataset.from_pandas(stream.frame(0, stream.n_reference), data_definition=dd)
    report = Report(_metrics(stream, which))
    frames = {k: stream.frame(stream.n_reference + k * WINDOW, stream.n_reference + (k + 1) * WINDOW)
              for k in ks}
    values: dict[str, dict[str, list[float]]] = {}

    def one(k: int) -> dict[str, Any]:
        snap = report.run(Dataset.from_pandas(frames[k], data_definition=dd), ref)
        return snap.dict()

    for k in ks:
        t0 = time.perf_counter()
        result = one(k)
        tr.rates.append(WINDOW / (time.perf_counter() - t0))
        for m in result["metrics"]:
            cfg = m["config"]
            if not cfg["type"].endswith("ValueDrift"):
                continue
            col, method, thr, val = cfg["column"], cfg["method"], cfg["threshold"], m["value"]
            values.setdefault(col, {}).setdefault(method, []).append(float(val))
            if drifted(method, float(val), float(thr)):
                tr.alerts.add((col, k))
    tr.peak_bytes, _ = traced_peak(lambda: one(ks[0]))
    tr.extra["values"] = values
    return tr
