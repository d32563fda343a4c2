"""driftline in-process: the same ``Engine`` that ``driftline replay`` and ``run`` drive.

Configurations:

- ``preset`` — zero-config: no monitors in the config, so the engine's preset
  watches every feature (PSI + KS numeric, chi-square + PSI categorical), the
  prediction (PSI, KS, gradual), and the decision (chi-square). Only the window
  (5,000 events, count) is set.
- ``matched`` — the drift work the peers are asked to do: PSI + KS on every
  numeric column (features and prediction), chi-square + Jensen–Shannon on
  every categorical one (features and decision).

The reference is the stream's reference rows, given as ``reference_events``
and fitted by ``Engine.prepare`` before any timing starts (every tool fits its
reference outside the timed part, except evidently, which has no fit step).

Alerts are read without changing the engine: the ``IncidentManager.observe``
of the engine is wrapped, so every judged ``Finding`` (one per monitor and
window, with its level after thresholds, minimum counts and the per-window
Benjamini–Hochberg step) is recorded before it goes on. A column alerts in a
window when any of its monitors has level ≥ 1 (warning or critical).

Decoding excluded: the batches are decoded first with the engine's own
``Decoder`` (untimed), then the timed loop hands each decoded ``Batch`` to
``Engine._absorb`` — exactly what ``Engine.process`` does after
``Decoder.decode`` for count windows (``_drop_future`` only acts on time
windows). Decoding alone is timed too, so included ≈ 1 / (1/excluded + 1/decode)
can be checked.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from benchmarks.compare.common import ToolRun, traced_peak
from benchmarks.compare.streams import WINDOW, Stream
from driftline.config import Config, load_config
from driftline.decode import Batch
from driftline.detectors.psi import PSI
from driftline.engine import Engine, Output
from driftline.incidents import Finding
from driftline.reference import Reference

BATCH = 5000  # messages per process() call, as the Kafka source's default batch_size


def matched_monitors(stream: Stream) -> list[dict[str, Any]]:
    mons: list[dict[str, Any]] = []
    for c in stream.numeric_columns:
        sig = "prediction" if c == "prediction" else f"feature:{c}"
        mons += [{"name": f"psi-{_slug(c)}", "signal": sig, "detector": "psi"},
                 {"name": f"ks-{_slug(c)}", "signal": sig, "detector": "ks"}]
    for c in stream.categorical_columns:
        sig = "decision" if c == "decision" else f"feature:{c}"
        mons += [{"name": f"chi2-{_slug(c)}", "signal": sig, "detector": "chi_square"},
                 {"name": f"js-{_slug(c)}", "signal": sig, "detector": "jensen_shannon"}]
    return mons


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text.lower()).strip("-")


def config(stream: Stream, which: str, **extra: Any) -> Config:
    overrides: dict[str, Any] = {"window.size": WINDOW, **extra}
    if which == "matched":
        overrides["monitors"] = matched_monitors(stream)
    return load_config(None, **overrides)


def column_of(signal: str) -> str:
    return signal.removeprefix("feature:")


class Tap:
    """Records every judged finding of an engine (wraps its IncidentManager.observe)."""

    def __init__(self, engine: Engine) -> None:
        self.findings: list[Finding] = []
        inner = engine.incidents.observe

        def observe(finding: Finding) -> list[dict[str, Any]]:
            self.findings.append(finding)
            return inner(finding)

        engine.incidents.observe = observe  # type: ignore[method-assign]  # a recording tap


def batches(events: list[bytes], size: int = BATCH) -> list[list[bytes]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def new_engine(stream: Stream, cfg: Config, window: int = WINDOW,
               profile: Reference | None = None) -> Engine:
    """An engine with its reference fitted (outside every timed or traced part).

    Given the ``profile`` an earlier engine fitted from the same events and
    config, the new engine loads it instead of decoding and fitting again (as
    ``driftline reference build`` + ``--reference`` would): same sketches,
    same vocabularies, same results.
    """
    if profile is not None:
        eng = Engine(cfg, reference=profile, window=str(window))
        eng.prepare([])
        return eng
    ref = stream.reference_events()
    eng = Engine(cfg, reference_events=ref, window=str(window))
    eng.prepare(ref)
    return eng


def _add(out: Output, more: Output) -> None:
    """``more`` appended to ``out`` (the engine's ``Output`` has no merge of its own)."""
    out.incidents += more.incidents
    out.dead_letters += more.dead_letters
    out.windows_closed += more.windows_closed
    out.notices += more.notices


def run_included(eng: Engine, parts: Iterable[list[bytes]]) -> Output:
    out = Output()
    for part in parts:
        _add(out, eng.process(part))
    _add(out, eng.finish())
    return out


def decode_all(eng: Engine, parts: list[list[bytes]]) -> list[tuple[Batch, list[bytes]]]:
    assert eng.decoder is not None
    return [(eng.decoder.decode(p)[0], p) for p in parts]


def run_excluded(eng: Engine, decoded: list[tuple[Batch, list[bytes]]]) -> Output:
    """``Engine.process`` minus ``Decoder.decode``: pre-decoded batches straight into _absorb."""
    out = Output()
    for batch, messages in decoded:
        if eng.windows is None:
            eng._make_windows(batch)
        eng._absorb(batch, messages, out)
    _add(out, eng.finish())
    return out


def run(stream: Stream, which: str, runs: int) -> ToolRun:
    """Quality pass (tapped, traced), then timing runs: included, excluded, decode alone."""
    cfg = config(stream, which)
    parts = batches(stream.stream_events())
    tr = ToolRun("driftline", which, stream.name, columns=stream.columns, events=stream.n,
                 run_unit="stream")

    eng = new_engine(stream, cfg)
    profile = eng.reference
    tap = Tap(eng)
    tr.peak_bytes, _ = traced_peak(lambda: run_included(eng, parts))
    tr.windows = sorted({f.window.index for f in tap.findings})
    for f in tap.findings:
        if f.level is not None and f.level >= 1:
            tr.alerts.add((column_of(f.signal), f.window.index))
    ks_chi2 = {(column_of(f.signal), f.window.index) for f in tap.findings
               if f.level is not None and f.level >= 1
               and f.evaluation.detector in ("ks", "chi_square")}
    tr.extra = {"monitors": len(eng.monitors), "windows_closed": eng.totals.windows,
                "alerts_ks_chi2": sorted(ks_chi2),
                "incident_events": sum(eng.totals.incidents.values()),
                "alerts_by_detector": _by_detector(tap.findings)}
    tr.extra["evaluations"] = evaluations(tap.findings)
    if which == "matched":
        tr.extra["psi_edges"] = psi_edges(eng, stream)

    for _ in range(runs):
        eng = new_engine(stream, cfg, profile=profile)
        gc.collect()
        t0 = time.perf_counter()
        incl = run_included(eng, parts)
        tr.rates.append(stream.n / (time.perf_counter() - t0))

        eng = new_engine(stream, cfg, profile=profile)
        t0 = time.perf_counter()
        decoded = decode_all(eng, parts)
        tr.rates_decode.append(stream.n / (time.perf_counter() - t0))
        gc.collect()
        t0 = time.perf_counter()
        out = run_excluded(eng, decoded)
        tr.rates_excluded.append(stream.n / (time.perf_counter() - t0))
    # the timing engines (profile loaded, not refitted; decoding excluded) did the same work
    tr.extra["timing_runs_same_results"] = (
        len(incl.incidents) == len(out.incidents) == tr.extra["incident_events"]
        and out.windows_closed == incl.windows_closed == tr.extra["windows_closed"])
    return tr


def _by_detector(findings: list[Finding]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        if f.level is not None and f.level >= 1:
            out[f.evaluation.detector] = out.get(f.evaluation.detector, 0) + 1
    return out


def evaluations(findings: list[Finding]) -> list[dict[str, Any]]:
    """The statistics the exactness checks need: KS (with its bound), PSI, chi-square."""
    rows = []
    for f in findings:
        e = f.evaluation
        if e.detector not in ("ks", "psi", "chi_square") or f.segment:
            continue
        row = {"column": column_of(f.signal), "window": f.window.index, "detector": e.detector,
               "value": e.value, "p": e.p_value, "n_current": e.n_current}
        if e.detector == "ks":
            row["bound"] = e.details["d_error_bound"]
        if e.detector == "chi_square":
            row["chi2"] = e.details.get("chi2")
        rows.append(row)
    return rows


def psi_edges(eng: Engine, stream: Stream) -> dict[str, list[float]]:
    """The 9 inner edges (reference deciles) driftline's PSI bins each numeric column with."""
    assert eng.reference is not None
    out = {}
    for m in eng.monitors:
        if m.detector.name == "psi" and m.kind == "numeric":
            sk = eng.reference.sketch(stream.name, m.slot)
            assert isinstance(m.detector, PSI)
            out[column_of(m.cfg.signal)] = np.asarray(m.detector.coarse_edges(sk)).tolist()  # type: ignore[arg-type]
    return out
