"""Markdown tables and PNG plots from a results dict (``compare-<mode>.json``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

THROUGHPUT_COLS = [
    ("driftline/matched", "rate", "driftline matched, JSON in"),
    ("driftline/matched", "excluded", "driftline matched, decoded"),
    ("driftline/preset", "excluded", "driftline preset, decoded"),
    ("evidently/matched", "rate", "evidently matched"),
    ("evidently/preset", "rate", "evidently preset"),
    ("nannyml/matched", "rate", "NannyML matched"),
    ("nannyml/default", "rate", "NannyML default"),
    ("river/ADWIN", "rate", "river ADWIN"),
    ("river/KSWIN", "rate", "river KSWIN"),
    ("river/PageHinkley", "rate", "river PH"),
    ("scipy/brute-force", "rate", "scipy brute force"),
]
ALARM_TOOLS = ["driftline/preset", "driftline/matched", "evidently/matched", "evidently/preset",
               "nannyml/matched", "nannyml/default", "river/ADWIN", "river/KSWIN",
               "river/PageHinkley", "scipy/brute-force"]
SHORT = {"driftline/preset": "dl preset", "driftline/matched": "dl matched",
         "evidently/matched": "ev matched", "evidently/preset": "ev preset",
         "nannyml/matched": "NML matched", "nannyml/default": "NML default",
         "river/ADWIN": "ADWIN", "river/KSWIN": "KSWIN", "river/PageHinkley": "PH",
         "scipy/brute-force": "scipy", "driftline/ks+chi2": "dl KS+chi² monitors"}


def _runs(stream: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['tool']}/{r['config']}": r for r in stream["runs"]}


def _rate(run: dict[str, Any] | None, kind: str) -> float | None:
    if not run or run.get("error"):
        return None
    key = {"rate": "events_per_s", "excluded": "events_per_s_decoding_excluded"}[kind]
    v = run.get(key)
    return float(v) if v else None


def _fmt_rate(v: float | None) -> str:
    if v is None:
        return "–"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return f"{v:.0f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _geo(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def throughput(results: dict[str, Any]) -> str:
    header = ["stream", "events", *(c[2] for c in THROUGHPUT_COLS), "÷ evidently", "÷ NannyML"]
    rows, ev_ratios, nml_ratios = [], [], []
    for name, st in results["streams"].items():
        runs = _runs(st)
        dl = _rate(runs.get("driftline/matched"), "excluded")
        ev = _rate(runs.get("evidently/matched"), "rate")
        nml = _rate(runs.get("nannyml/matched"), "rate")
        r_ev = dl / ev if dl and ev else None
        r_nml = dl / nml if dl and nml else None
        ev_ratios.append(r_ev or 0)
        nml_ratios.append(r_nml or 0)
        rows.append([name, f"{st['truth']['n']:,}",
                     *(_fmt_rate(_rate(runs.get(t), k)) for t, k, _ in THROUGHPUT_COLS),
                     f"{r_ev:.0f}×" if r_ev else "–", f"{r_nml:.1f}×" if r_nml else "–"])
    g_ev, g_nml = _geo(ev_ratios), _geo(nml_ratios)
    rows.append(["**geometric mean**", "", *("" for _ in THROUGHPUT_COLS),
                 f"**{g_ev:.0f}×**" if g_ev else "–", f"**{g_nml:.1f}×**" if g_nml else "–"])
    return _table(header, rows)


def memory(results: dict[str, Any]) -> str:
    tools = [t for t in ALARM_TOOLS]
    header = ["stream", *(SHORT[t] for t in tools)]
    rows = []
    for name, st in results["streams"].items():
        runs = _runs(st)
        cells = []
        for t in tools:
            r = runs.get(t)
            b = r.get("peak_bytes_tracemalloc") if r and not r.get("error") else None
            cells.append("–" if b is None else "<0.1" if b < 5e4 else f"{b / 1e6:.1f}")
        rows.append([name, *cells])
    return _table(header, rows)


def detection(results: dict[str, Any]) -> str:
    header = ["stream", "change at", *(SHORT[t] for t in ALARM_TOOLS)]
    rows = []
    for name, st in results["streams"].items():
        truth = st["truth"]
        if not truth["drifting"]:
            continue
        cells = []
        for t in ALARM_TOOLS:
            sc = st["scores"].get(t)
            if not sc:
                cells.append("–")
                continue
            d = sc.get("delay_events")
            det = f"{sc.get('detected_columns', 0)}/{sc.get('drifting_columns_watched', 0)}"
            cells.append(("missed" if d is None else f"{d:,}") + f" ({det})")
        rows.append([name, f"{truth['change']:,}", *cells])
    return _table(header, rows)


def false_alarms(results: dict[str, Any]) -> str:
    header = ["stream", "kind", *(SHORT[t] for t in ALARM_TOOLS)]
    rows = []
    totals: dict[str, list[float]] = {t: [0, 0] for t in ALARM_TOOLS}  # false, events
    for name, st in results["streams"].items():
        truth = st["truth"]
        if truth["kind"] == "real":
            continue
        cells = []
        for t in ALARM_TOOLS:
            sc = st["scores"].get(t)
            if not sc or sc.get("false_alarms_per_10k") is None:
                cells.append("–")
                continue
            cells.append(f"{sc['false_alarms_per_10k']:.2f} ({sc['false_alarms']})")
            if truth["kind"] in ("null", "label-only"):
                runs = _runs(st)
                r = runs[t]
                monitored = truth["n"] if r["per_event"] else len(r["windows"]) * 5000
                totals[t][0] += sc["false_alarms"]
                totals[t][1] += monitored
        rows.append([name, truth["kind"], *cells])
    rows.append(["**all null + label-only**", "", *(
        f"**{totals[t][0] / totals[t][1] * 1e4:.2f}** ({int(totals[t][0])})" if totals[t][1]
        else "–" for t in ALARM_TOOLS)])
    return _table(header, rows)


def agreement(results: dict[str, Any]) -> str:
    header = ["stream", "A", "B", "cells", "both", "only A", "only B", "kappa"]
    rows = []
    for name, st in results["streams"].items():
        for a in st["agreement"]:
            rows.append([name, SHORT.get(a["a"], a["a"]), SHORT.get(a["b"], a["b"]),
                         str(a["cells"]), str(a["both"]), str(a["only_a"]), str(a["only_b"]),
                         f"{a['kappa']:.2f}"])
    return _table(header, rows)


def exactness(results: dict[str, Any]) -> str:
    header = ["stream", "KS checks", "bound violations", "max D_scipy − D_grid", "median bound",
              "flips at D=0.1", "PSI same bins: max abs Δ", "PSI evidently bins: median abs Δ",
              "PSI flips at 0.1 (evidently bins)", "chi² max rel Δ", "NannyML KS max abs Δ"]
    rows = []
    for name, st in results["streams"].items():
        ex = st.get("exactness", {})
        ks, psi, chi, nks = (ex.get("ks", {}), ex.get("psi", {}), ex.get("chi2", {}),
                             ex.get("nannyml_ks", {}))

        def g(d: dict[str, Any], k: str, fmt: str = "{:.2e}") -> str:
            v = d.get(k)
            return "–" if v is None else fmt.format(v)

        rows.append([name, g(ks, "checks", "{}"), g(ks, "violations", "{}"),
                     g(ks, "max_gap", "{:.4f}"), g(ks, "median_bound", "{:.4f}"),
                     g(ks, "threshold_flips_at_0.1", "{}"), g(psi, "max_abs_diff_same_bins"),
                     g(psi, "median_abs_diff_evidently_bins", "{:.4f}"),
                     g(psi, "threshold_flips_at_0.1_evidently_bins", "{}"),
                     g(chi, "max_rel_diff"), g(nks, "max_abs_err", "{:.4f}")])
    return _table(header, rows)


def growth_tables(results: dict[str, Any]) -> str:
    g = results.get("growth")
    if not g:
        return ""
    out = ["### Features (zero-config preset, 5,000-event windows)\n"]
    out.append(_table(
        ["features", "monitors", "driftline, JSON in", "driftline, decoded", "NannyML matched",
         "driftline decoded ÷ NannyML"],
        [[str(r["features"]), str(r["monitors"]), _fmt_rate(r["events_per_s"]),
          _fmt_rate(r["events_per_s_decoding_excluded"]), _fmt_rate(r.get("nannyml_events_per_s")),
          f"{r['events_per_s_decoding_excluded'] / r['nannyml_events_per_s']:.1f}×"
          if r.get("nannyml_events_per_s") else "–"] for r in g["features"]]))
    out.append("\n### Segment values (5 features, one segment key, preset)\n")
    out.append(_table(
        ["segment values", "monitors", "driftline, JSON in", "driftline, decoded"],
        [[f"{r['segment_values']:,}", str(r["monitors"]), _fmt_rate(r["events_per_s"]),
          _fmt_rate(r["events_per_s_decoding_excluded"])] for r in g["segments"]]))
    out.append("\n### Window size (10 features, preset): memory\n")
    out.append(_table(
        ["window (events)", "events fed", "driftline peak (MB, tracemalloc)",
         "raw window (MB, W × 11 × 8 B)", "seconds"],
        [[f"{r['window_events']:,}", f"{r['events_fed']:,}",
          f"{r['peak_bytes_tracemalloc'] / 1e6:.2f}", f"{r['raw_window_bytes'] / 1e6:,.1f}",
          f"{r['seconds']}"] for r in g["window_memory"]]))
    return "".join(out)


def tables(results: dict[str, Any]) -> str:
    m = results["machine"]
    head = (f"Mode `{results['mode']}`, {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
            f"driftline commit {m['git_commit']}; versions: "
            + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ". "
            f"Wall time {results.get('wall_seconds')} s.\n")
    parts = [
        f"## Results ({results['mode']})\n\n", head,
        "\n### Throughput (events/s, median of runs)\n\n", throughput(results),
        "\n### Peak memory (MB above the start of a run, tracemalloc)\n\n", memory(results),
        "\n### Detection delay (events after the change to the first true alert; "
        "detected / drifting columns watched)\n\n", detection(results),
        "\n### False alarms per 10k events (count): null and label-only streams, and on drift "
        "streams the stationary columns and alerts before the onset\n\n", false_alarms(results),
        "\n### Alert agreement (column × window cells)\n\n", agreement(results),
        "\n### Numerical agreement\n\n", exactness(results),
        "\n", growth_tables(results),
    ]
    return "".join(parts)


# -- plots ---------------------------------------------------------------------------
def plots(results: dict[str, Any], out_dir: Path, prefix: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    # throughput: per tool, geometric mean over streams
    labels, values = [], []
    for t, kind, label in THROUGHPUT_COLS:
        xs = [_rate(_runs(st).get(t), kind) for st in results["streams"].values()]
        g = _geo([x for x in xs if x])
        if g:
            labels.append(label)
            values.append(g)
    if values:
        fig, ax = plt.subplots(figsize=(8, 4))
        colors = ["#1f77b4" if lb.startswith("driftline") else "#999999" for lb in labels]
        ax.barh(labels[::-1], values[::-1], color=colors[::-1])
        ax.set_xscale("log")
        ax.set_xlabel("events/s (geometric mean over streams, log scale)")
        ax.set_title(f"Throughput, same streams, 5,000-event windows ({results['machine']['cores']}"
                     " cores)")
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"{prefix}-throughput.png"))
    g = results.get("growth")
    if g:
        fig, ax = plt.subplots(figsize=(6, 4))
        f = [r["features"] for r in g["features"]]
        ax.plot(f, [r["events_per_s"] for r in g["features"]], "o-", label="driftline, JSON in")
        ax.plot(f, [r["events_per_s_decoding_excluded"] for r in g["features"]], "o-",
                label="driftline, decoded")
        nml = [r.get("nannyml_events_per_s") for r in g["features"]]
        if all(nml):
            ax.plot(f, nml, "s--", color="#999999", label="NannyML (KS + JS)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("numeric features")
        ax.set_ylabel("events/s")
        ax.set_title("Throughput as features grow")
        ax.legend()
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"{prefix}-growth-features.png"))

        fig, ax = plt.subplots(figsize=(6, 4))
        sv = [r["segment_values"] for r in g["segments"]]
        ax.plot(sv, [r["events_per_s"] for r in g["segments"]], "o-", label="JSON in")
        ax.plot(sv, [r["events_per_s_decoding_excluded"] for r in g["segments"]], "o-",
                label="decoded")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("distinct segment values")
        ax.set_ylabel("events/s")
        ax.set_title("driftline throughput as segment values grow")
        ax.legend()
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"{prefix}-growth-segments.png"))

        fig, ax = plt.subplots(figsize=(6, 4))
        w = [r["window_events"] for r in g["window_memory"]]
        ax.plot(w, [r["peak_bytes_tracemalloc"] / 1e6 for r in g["window_memory"]], "o-",
                label="driftline peak (tracemalloc)")
        ax.plot(w, [r["raw_window_bytes"] / 1e6 for r in g["window_memory"]], "s--",
                color="#999999", label="raw window, 11 float64 columns")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("window size (events)")
        ax.set_ylabel("MB")
        ax.set_title("Memory as the window grows")
        ax.legend()
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"{prefix}-memory-window.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
