"""NannyML: ``UnivariateDriftCalculator`` over 5,000-row chunks of the same stream.

Configurations:

- ``matched`` — continuous columns: Kolmogorov–Smirnov and Jensen–Shannon;
  categorical columns: chi-square and Jensen–Shannon (NannyML has no PSI).
- ``default`` — the calculator's default methods (Jensen–Shannon on both).

Thresholds are NannyML's defaults: mean + 3 standard deviations of the metric
over the reference period's own chunks (chi-square: p < 0.05). With fewer than
~10 reference chunks those thresholds are noisy; that is how the tool works.
``fit`` on the reference is untimed; ``calculate`` over the whole analysis
frame is one timing run. A column alerts in a chunk when any of its methods
raises NannyML's ``alert`` flag.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from benchmarks.compare.common import ToolRun, traced_peak
from benchmarks.compare.streams import WINDOW, Stream


def available() -> str | None:
    try:
        import nannyml
    except ImportError as exc:
        return f"not installed ({exc}); pip install -e '.[bench]' (needs Python < 3.13)"
    return str(nannyml.__version__)


def run(stream: Stream, which: str, runs: int) -> ToolRun:
    import logging

    import nannyml as nml

    warnings.filterwarnings("ignore")
    logging.getLogger("nannyml").setLevel(logging.ERROR)
    cols = stream.columns
    kw: dict[str, Any] = {}
    if which == "matched":
        kw = {"continuous_methods": ["kolmogorov_smirnov", "jensen_shannon"],
              "categorical_methods": ["chi2", "jensen_shannon"]}
    ref = stream.frame(0, stream.n_reference)
    ana = stream.frame(stream.n_reference, stream.n_reference + stream.n)
    calc = nml.UnivariateDriftCalculator(
        column_names=cols, treat_as_categorical=stream.categorical_columns,
        treat_as_numerical=stream.numeric_columns, chunk_size=WINDOW, **kw)
    calc.fit(ref)
    tr = ToolRun("nannyml", which, stream.name, columns=cols, events=stream.n, run_unit="stream")
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = calc.calculate(ana)
        tr.rates.append(stream.n / (time.perf_counter() - t0))
    tr.peak_bytes, _ = traced_peak(lambda: calc.calculate(ana))
    assert result is not None
    df = result.filter(period="analysis").to_df()
    idx = df[("chunk", "chunk", "chunk_index")].to_numpy()
    tr.windows = [int(k) for k in idx]
    values: dict[str, dict[str, list[float]]] = {}
    for col, method, field in df.columns:
        if col == "chunk":
            continue
        if field == "alert":
            for k, a in zip(idx, df[(col, method, field)].to_numpy(), strict=True):
                if bool(a):
                    tr.alerts.add((col, int(k)))
        elif field == "value":
            values.setdefault(col, {})[method] = [float(v) for v in df[(col, method, field)]]
    tr.extra["values"] = values
    return tr
