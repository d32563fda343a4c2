"""How driftline's cost grows: features (1 → 100), segment values (1 → 10,000), window size.

- Features: F standard-normal numeric features plus the frozen model's
  prediction and decision, zero-config preset (PSI + KS per feature, prediction
  monitors, decision chi-square), 5,000-event windows. NannyML (KS + JS per
  column, same chunks) is timed on the same rows for contrast.
- Segment values: 5 numeric features and one segment key with S values drawn
  uniformly, preset (adds a decision-rate and a volume monitor split by the
  key); ``limits.segment_cardinality`` is raised to S so nothing folds into
  ``__other__`` (metric labels still fold beyond 100, as configured by default).
- Window size: 10 numeric features, windows of W events for W from 10k to 10M.
  One pre-decoded 5,000-event batch is fed again and again (decoding excluded,
  so no stream of W events is ever held) until the first window closes; the
  tracemalloc peak above the start is the engine's memory for that window. A
  tool that keeps raw samples must hold W × columns × 8 bytes, shown next to it.
"""

from __future__ import annotations

import gc
import time
from functools import partial
from typing import Any

import numpy as np

from benchmarks.compare import driftline_tool as dlt
from benchmarks.compare.common import traced_peak
from benchmarks.compare.streams import WINDOW, Stream, frozen_model
from driftline.engine import Output


def gaussian(name: str, features: int, n_ref: int, n: int, seed: int,
             segments: int | None = None) -> Stream:
    rng = np.random.default_rng(seed)
    numeric = {f"f{j}": rng.normal(0, 1, n_ref + n) for j in range(features)}
    pred, dec = frozen_model(numeric, n_ref, seed)
    s = Stream(name, "null", f"{features} N(0,1) features", numeric, {}, pred, dec, n_ref)
    if segments is not None:
        values = np.array([f"s{i}" for i in range(segments)], dtype=object)
        s.segments["store"] = values[rng.integers(0, segments, n_ref + n)]
    return s


def _time_driftline(s: Stream, cfg: Any, runs: int) -> dict[str, Any]:
    parts = dlt.batches(s.stream_events())
    incl, excl = [], []
    first = dlt.new_engine(s, cfg)
    monitors, profile = len(first.monitors), first.reference
    for _ in range(runs):
        eng = dlt.new_engine(s, cfg, profile=profile)
        gc.collect()
        t0 = time.perf_counter()
        dlt.run_included(eng, parts)
        incl.append(s.n / (time.perf_counter() - t0))
        eng = dlt.new_engine(s, cfg, profile=profile)
        decoded = dlt.decode_all(eng, parts)
        gc.collect()
        t0 = time.perf_counter()
        dlt.run_excluded(eng, decoded)
        excl.append(s.n / (time.perf_counter() - t0))
    return {"events_per_s": float(np.median(incl)), "events_per_s_decoding_excluded":
            float(np.median(excl)), "runs": runs, "monitors": monitors}


def _time_nannyml(s: Stream, runs: int) -> float | None:
    try:
        import logging
        import warnings

        import nannyml as nml
    except ImportError:
        return None
    warnings.filterwarnings("ignore")
    logging.getLogger("nannyml").setLevel(logging.ERROR)
    calc = nml.UnivariateDriftCalculator(
        column_names=s.columns, treat_as_categorical=s.categorical_columns,
        treat_as_numerical=s.numeric_columns, chunk_size=WINDOW,
        continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
        categorical_methods=["chi2", "jensen_shannon"])
    calc.fit(s.frame(0, s.n_reference))
    ana = s.frame(s.n_reference, s.n_reference + s.n)
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        calc.calculate(ana)
        rates.append(s.n / (time.perf_counter() - t0))
    return float(np.median(rates))


def features(counts: list[int], n: int, runs: int) -> list[dict[str, Any]]:
    rows = []
    for f in counts:
        s = gaussian(f"features-{f}", f, 20_000, n, seed=f)
        cfg = dlt.config(s, "preset")
        row = {"features": f, **_time_driftline(s, cfg, runs),
               "nannyml_events_per_s": _time_nannyml(s, runs)}
        rows.append(row)
        print(f"  features={f}: {row['events_per_s']:,.0f} ev/s incl, "
              f"{row['events_per_s_decoding_excluded']:,.0f} excl", flush=True)
    return rows


def segments(counts: list[int], n: int, runs: int) -> list[dict[str, Any]]:
    rows = []
    for k in counts:
        s = gaussian(f"segments-{k}", 5, 20_000, n, seed=k, segments=k)
        cfg = dlt.config(s, "preset", **{"limits.segment_cardinality": max(k, 1)})
        row = {"segment_values": k, **_time_driftline(s, cfg, runs)}
        rows.append(row)
        print(f"  segments={k}: {row['events_per_s']:,.0f} ev/s incl, "
              f"{row['events_per_s_decoding_excluded']:,.0f} excl", flush=True)
    return rows


def _feed_until_close(eng: Any, batch: Any, messages: list[bytes]) -> int:
    """Feed one decoded batch again and again until the first window closes; events fed."""
    out, fed = Output(), 0
    eng._make_windows(batch)
    while out.windows_closed == 0:
        eng._absorb(batch, messages, out)
        fed += len(batch)
    return fed


def window_memory(sizes: list[int]) -> list[dict[str, Any]]:
    base = gaussian("window-memory", 10, 20_000, WINDOW, seed=11)
    cfg = dlt.config(base, "preset")
    rows = []
    for w in sizes:
        eng = dlt.new_engine(base, cfg, window=w)
        (batch, messages), = dlt.decode_all(eng, [base.stream_events()])
        gc.collect()
        t0 = time.perf_counter()
        peak, fed = traced_peak(partial(_feed_until_close, eng, batch, messages))
        secs = time.perf_counter() - t0
        raw = w * (len(base.numeric) + 1) * 8
        rows.append({"window_events": w, "events_fed": fed, "peak_bytes_tracemalloc": peak,
                     "seconds": round(secs, 2), "raw_window_bytes": raw})
        print(f"  window={w:,}: fed {fed:,} events, peak {peak / 1e6:.2f} MB "
              f"(raw window would be {raw / 1e6:,.0f} MB), {secs:.1f}s", flush=True)
    return rows
