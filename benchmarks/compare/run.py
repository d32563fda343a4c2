"""Run every tool on the same streams in one process; write JSON, markdown tables and PNGs.

    python -m benchmarks.compare --mode quick   # make bench      (< 5 min on 2 cores)
    python -m benchmarks.compare --mode full    # make bench-full (complete tables)

Modes differ in stream length (quick: 20k reference + 40k stream; full: 50k +
100k), null seeds (2 / 5), timing runs (3 / 5), how much of the census data is
used (6 / 41 windows), which streams evidently (about 1–3 s per window) and
KSWIN (about 4k updates/s) run on, and the growth ranges. Quick mode has no
SEA stream.
Peers that are not installed are skipped and reported as such
(``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.compare import (
    driftline_tool,
    evidently_tool,
    growth,
    nannyml_tool,
    report,
    river_tool,
    scipy_tool,
    scoring,
)
from benchmarks.compare.common import ToolRun
from benchmarks.compare.streams import Stream, quality_streams

MODES: dict[str, dict[str, Any]] = {
    "quick": {"runs": 3, "kswin_streams": ("rbf-abrupt", "null-rbf-s1"), "kswin_columns": 1,
              "evidently_matched": ("rbf-abrupt", "null-rbf-s1", "nml-multiclass"),
              "evidently_preset": ("null-rbf-s1", "nml-multiclass"),
              "features": [1, 10, 100], "segments": [1, 100, 10_000],
              "windows": [10_000, 100_000, 1_000_000], "growth_events": 20_000},
    "full": {"runs": 5, "kswin_streams": None, "kswin_columns": 1,
             "evidently_matched": None, "evidently_preset": None,
             "features": [1, 2, 5, 10, 20, 50, 100], "segments": [1, 10, 100, 1_000, 10_000],
             "windows": [10_000, 100_000, 1_000_000, 10_000_000], "growth_events": 50_000},
}
BIG_EXTRAS = ("evaluations", "values", "stats", "psi_edges")


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for pkg in ("driftline", "numpy", "scipy", "pyarrow", "orjson", "river", "pandas",
                "evidently", "nannyml", "matplotlib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "git_commit": commit}


def guarded(label: str, fn: Any, *args: Any, **kw: Any) -> ToolRun:
    t0 = time.perf_counter()
    try:
        tr: ToolRun = fn(*args, **kw)
    except Exception as exc:  # one tool failing must not stop the others
        tool, config = label.split("/", 1)
        stream = args[0].name if args and isinstance(args[0], Stream) else "?"
        tr = ToolRun(tool, config, stream, error=f"{type(exc).__name__}: {exc}")
    tr.extra["wall_seconds"] = round(time.perf_counter() - t0, 2)
    rate = f"{tr.rate:,.0f} ev/s" if tr.rate else (tr.error or "")
    print(f"    {label:<22} {rate:<24} alerts={len(tr.alerts):<4} "
          f"({tr.extra['wall_seconds']}s)", flush=True)
    return tr


def run_stream(s: Stream, mode: dict[str, Any], peers: dict[str, str | None]) -> list[ToolRun]:
    runs = mode["runs"]
    out = [guarded("driftline/preset", driftline_tool.run, s, "preset", runs),
           guarded("driftline/matched", driftline_tool.run, s, "matched", runs)]
    if peers["evidently"]:
        for which in ("matched", "preset"):
            only = mode[f"evidently_{which}"]
            if only is None or s.name in only:
                out.append(guarded(f"evidently/{which}", evidently_tool.run, s, which))
    if peers["nannyml"]:
        out += [guarded("nannyml/matched", nannyml_tool.run, s, "matched", runs),
                guarded("nannyml/default", nannyml_tool.run, s, "default", runs)]
    for det in river_tool.DETECTORS:
        if det == "KSWIN":
            if mode["kswin_streams"] is not None and s.name not in mode["kswin_streams"]:
                continue
            out.append(guarded(f"river/{det}", river_tool.run, s, det, mode["kswin_columns"]))
        else:
            out.append(guarded(f"river/{det}", river_tool.run, s, det))
    out.append(guarded("scipy/brute-force", scipy_tool.run, s))
    return out


def evaluate_stream(s: Stream, trs: list[ToolRun]) -> dict[str, Any]:
    by = {tr.label: tr for tr in trs}
    dlm = by.get("driftline/matched")
    if dlm is not None and not dlm.error:
        # scipy's rule covers KS and chi-square only: compare with those monitors of driftline
        by["driftline/ks+chi2"] = ToolRun(
            "driftline", "ks+chi2", s.name, alerts={(c, k) for c, k in dlm.extra["alerts_ks_chi2"]},
            columns=dlm.columns, windows=dlm.windows)
    scores = {tr.label: scoring.score(tr, s) for tr in trs}
    pairs = [("driftline/matched", "evidently/matched"), ("driftline/matched", "nannyml/matched"),
             ("driftline/preset", "evidently/preset"), ("driftline/preset", "nannyml/default"),
             ("evidently/matched", "nannyml/matched"), ("driftline/ks+chi2", "scipy/brute-force")]
    agree = [a for x, y in pairs if x in by and y in by
             for a in [scoring.agreement(by[x], by[y])] if a]
    exact: dict[str, Any] = {}
    dl, sp = by.get("driftline/matched"), by.get("scipy/brute-force")
    if dl and sp and not dl.error and not sp.error:
        exact["ks"] = scoring.ks_exactness(dl, sp)
        exact["chi2"] = scoring.chi2_exactness(dl, sp)
        exact["psi"] = scoring.psi_exactness(dl, s, by.get("evidently/matched"))
        if "nannyml/matched" in by:
            exact["nannyml_ks"] = scoring.nannyml_ks_error(by["nannyml/matched"], sp)
    return {"truth": s.truth(), "scores": scores, "agreement": agree, "exactness": exact,
            "runs": [_slim(tr.summary()) for tr in trs]}


def _slim(summary: dict[str, Any]) -> dict[str, Any]:
    """Drop the per-window statistics; per-event alerts as counts and the first ten indices."""
    extra = summary.get("extra")
    if extra:
        summary["extra"] = {k: v for k, v in extra.items() if k not in BIG_EXTRAS}
    if summary.get("per_event"):
        by_col: dict[str, list[int]] = {}
        for col, i in summary["alerts"]:
            by_col.setdefault(col, []).append(i)
        summary["alerts"] = {c: {"count": len(ix), "first": sorted(ix)[:10]}
                             for c, ix in sorted(by_col.items())}
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=sorted(MODES), default="quick")
    ap.add_argument("--out", default="benchmarks/results", help="where JSON, tables, PNGs go")
    ap.add_argument("--streams", nargs="*", help="only these streams (names as in the tables)")
    ap.add_argument("--no-growth", action="store_true", help="skip the cost-growth runs")
    ap.add_argument("--no-peers", action="store_true", help="driftline and scipy only")
    args = ap.parse_args(argv)
    mode = MODES[args.mode]
    t_start = time.perf_counter()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    peers: dict[str, str | None] = {"evidently": None if args.no_peers else evidently_tool.available(),
             "nannyml": None if args.no_peers else nannyml_tool.available()}
    for name, version in list(peers.items()):
        if version is None or version.startswith("not installed"):
            print(f"!! {name}: {version or 'skipped (--no-peers)'}", flush=True)
            peers[name] = None
    info = machine()
    print(f"driftline compare, mode={args.mode}, {info['cores']} cores, {info['cpu']}", flush=True)

    t0 = time.perf_counter()
    streams = quality_streams(args.mode)
    if args.streams:
        streams = [s for s in streams if s.name in args.streams]
    print(f"streams generated in {time.perf_counter() - t0:.1f}s", flush=True)

    results: dict[str, Any] = {"mode": args.mode, "machine": info, "settings": {
        k: v for k, v in mode.items()}, "peers": peers, "streams": {}}
    for s in streams:
        t0 = time.perf_counter()
        s.events()
        print(f"== {s.name} ({s.kind}; {s.n_reference:,} reference + {s.n:,} events, "
              f"{len(s.columns)} columns; encoded in {time.perf_counter() - t0:.1f}s)", flush=True)
        load = os.getloadavg()[0]
        trs = run_stream(s, mode, peers)
        results["streams"][s.name] = evaluate_stream(s, trs)
        results["streams"][s.name]["load_average_1m"] = [round(load, 2),
                                                         round(os.getloadavg()[0], 2)]
        s._events = None
        gc.collect()

    if not args.no_growth:
        print("== growth: features", flush=True)
        g: dict[str, Any] = {"features": growth.features(mode["features"], mode["growth_events"],
                                                          mode["runs"])}
        print("== growth: segment values", flush=True)
        g["segments"] = growth.segments(mode["segments"], mode["growth_events"], 1)
        print("== growth: window size (memory)", flush=True)
        g["window_memory"] = growth.window_memory(mode["windows"])
        results["growth"] = g
    results["arrow_pool_peak_bytes"] = _arrow_peak()
    results["wall_seconds"] = round(time.perf_counter() - t_start, 1)

    path = out_dir / f"compare-{args.mode}.json"
    path.write_text(json.dumps(results, indent=1, default=_json_default) + "\n")
    md = report.tables(results)
    (out_dir / f"compare-{args.mode}.md").write_text(md)
    try:
        pngs = report.plots(results, out_dir, prefix=args.mode)
    except ImportError as exc:
        pngs = []
        print(f"!! plots skipped: {exc}", flush=True)
    print(md)
    print(f"wrote {path}, {out_dir / f'compare-{args.mode}.md'}, {', '.join(map(str, pngs))}; "
          f"total {results['wall_seconds']}s", flush=True)
    return 0


def _arrow_peak() -> int | None:
    try:
        import pyarrow as pa
    except ImportError:
        return None
    return int(pa.default_memory_pool().max_memory() or 0)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, set | frozenset):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


if __name__ == "__main__":
    sys.exit(main())
