"""``index.html``: the incident's report, one self-contained page (figures inline, no script).

Sections, in the order a person on call reads them: the summary; what moved (the signal's
distribution, reference vs current); since when (the statistic per window, thresholds and
lifecycle); where (each segment's rate, interval and traffic share); model versions; how it
was reproduced; the lifecycle and the actions recorded; the monitor's config and playbook.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from driftline.investigate import plots
from driftline.investigate.history import IncidentHistory, kind_of
from driftline.investigate.models import Explanation

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1000px;color:#1f2933;padding:0 1em}
h1{font-size:1.45em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;
border-bottom:1px solid #d9e2ec;padding-bottom:.2em}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;font-size:.85em;
margin-right:.4em;color:#fff;background:#627d98}
.critical,.differs{background:#d1495b}.high{background:#8e44ad}.medium{background:#e6a23c}
.low{background:#2f6fb3}.reproduced{background:#2e8b57}.events_gone{background:#7b8794}
#summary{font-size:1.05em;background:#f0f4f8;padding:.8em 1em;border-left:4px solid #2f6fb3}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border-bottom:1px solid #e4e7eb;
padding:.25em .5em;text-align:left;vertical-align:top}tr.mine{background:#fde8ea}
img{max-width:100%;display:block;margin:.6em 0}pre{background:#f5f7fa;padding:.7em;
overflow:auto;font-size:.85em}.bad{color:#d1495b;font-weight:600}.muted{color:#7b8794}
"""


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if x is None:
        return "—"
    return escape(str(x))


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]],
           marked: Sequence[bool] | None = None) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for i, row in enumerate(rows):
        cls = ' class="mine"' if marked and marked[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _img(png: str, alt: str, name: str) -> str:
    return f'<img id="{name}" alt="{escape(alt)}" src="data:image/png;base64,{png}">'


def _figures(ex: Explanation) -> str:
    parts = []
    seg = ", ".join(f"{k}={v}" for k, v in ex.segment.items())
    if ex.distribution:
        parts.append("<h2>What moved: the signal, reference vs current</h2>")
        parts.append(_img(plots.distribution_png(ex.distribution, f"{ex.signal}"
                                                 f"{' — ' + seg if seg else ''}: opening window"),
                          "distribution of the signal, reference vs current", "fig-distribution"))
    parts.append(_scores(ex, seg))
    if ex.series:
        t = ex.thresholds
        parts.append("<h2>Since when: the statistic per window</h2>")
        parts.append(_img(plots.series_png(ex.series, t.get("warning"), t.get("critical"),
                                           str(t.get("direction")), ex.statistic),
                          "statistic per window with thresholds and lifecycle", "fig-series"))
        parts.append(_table(["window end", "value", "q-value", "level", "events", "exact", "cited"],
                            [(p.end, p.value, p.q_value, p.level, p.n_current, p.exact,
                              ", ".join(p.cited)) for p in ex.series],
                            [bool(p.cited) for p in ex.series]))
    if ex.segments:
        parts.append("<h2>Where: every segment in the opening window</h2>")
        parts.append(_img(plots.segments_png(ex.segments, f"{ex.monitor}: rate and traffic share "
                                             "per segment"), "segment rates and traffic shares",
                          "fig-segments"))
        parts.append(_table(
            ["segment", "value", "rate", "95% interval", "reference rate", "events",
             "traffic share", "reference share", "level", "q-value"],
            [(r.segment, r.value, r.rate, None if r.rate_low is None else
              f"{r.rate_low:.4f}–{r.rate_high:.4f}", r.reference_rate, r.n_current,
              r.traffic_share, r.reference_share, r.level, r.q_value) for r in ex.segments],
            [r.incident for r in ex.segments]))
    return "".join(parts)


def _scores(ex: Explanation, seg: str) -> str:
    """An auc or calibration incident's score histograms: per coarse score bin, the classes'
    shares (auc) or the reliability table (calibration), reference vs current."""
    v = ex.scores
    if v is None or not v.bins:
        return ""
    title = f"{ex.monitor}{' — ' + seg if seg else ''}: opening window"
    flip = "" if v.score_of == "positive" else (
        " The reference ranks the positive class lower than the other: the classes swap"
        + (": the score is read as the other class's probability." if v.detector ==
           "calibration" else "."))
    marked = [b.contributing for b in v.bins]
    if v.detector == "auc":
        head = (f"<p>AUC {_fmt(v.reference_auc)} in the reference, {_fmt(v.auc)} in the window. "
                f"Positives: {escape(v.high_class)}; marked: the bins whose class shares moved "
                f"most.{escape(flip)}</p>")
        table = _table(["score", "positives: reference share", "current share",
                        "negatives: reference share", "current share", "positives", "negatives"],
                       [(b.label, b.reference_positive_share, b.positive_share,
                         b.reference_negative_share, b.negative_share, b.positives, b.negatives)
                        for b in v.bins], marked)
    else:
        head = (f"<p>ECE {_fmt(v.reference_ece)} in the reference, {_fmt(v.ece)} in the window. "
                f"Positive rate: the rate of {escape(v.high_class)}; marked: the bins adding "
                f"most to the ECE.{escape(flip)}</p>")
        table = _table(["score", "events", "mean score", "positive rate",
                        "reference positive rate", "part of ECE"],
                       [(b.label, b.positives + b.negatives, b.mean_score, b.positive_rate,
                         b.reference_positive_rate, b.ece_contribution) for b in v.bins], marked)
    return ("<h2>What moved: the score histograms, reference vs current</h2>" + head
            + _img(plots.scores_png(v, title), "score histograms, reference vs current",
                   "fig-scores") + table)


def _versions(ex: Explanation) -> str:
    window, ref = ex.versions.get("window", []), ex.versions.get("reference", [])
    if not window and not ref:
        return ""
    new = [v for v in window if v not in ref]
    note = (f'<p class="bad">New since the reference: {escape(", ".join(new))}</p>' if new
            else "<p>No model version in the window that the reference has not seen.</p>")
    return ("<h2>Model versions</h2>" + _table(["in the opening window", "in the reference"],
                                                [(", ".join(window), ", ".join(ref))]) + note)


def _reproduction(ex: Explanation) -> str:
    rows = [(c.event_type, c.quantity, c.cited, c.recomputed, "ok" if c.ok else "DIFFERS")
            for c in ex.checks]
    i = ex.inputs
    inputs = [("incidents", i.incidents), ("events", json.dumps(i.events)),
              ("reference (cited)", i.reference_cited), ("reference (used)", i.reference_used),
              ("reference obtained", i.reference_how), ("config", i.config),
              ("config hash (cited / used)", f"{i.config_hash_cited} / {i.config_hash_used}"),
              ("driftline", i.driftline_version)]
    reason = f'<p class="bad">{escape(ex.reason)}</p>' if ex.reason else ""
    reason += "".join(f'<p class="muted">{escape(n)}</p>' for n in ex.notes)
    return ("<h2>Reproduction</h2>" + reason
            + (_table(["event", "quantity", "cited", "recomputed", ""], rows) if rows else "")
            + _table(["input", ""], inputs))


def _timeline(history: IncidentHistory) -> str:
    rows = []
    for ev in history.detection:
        d = ev["data"]
        rows.append((ev["time"], kind_of(ev), "detection", d["severity"],
                     f"{d['statistic']}={_fmt(d['value'])}"))
    for a in history.actions:
        d = a["data"]
        text = "; ".join(x for x in (d.get("note"), d.get("root_cause") and
                                     f"root cause: {d['root_cause']}",
                                     d.get("actions") and f"actions: {', '.join(d['actions'])}",
                                     d.get("false_alarm") and "false alarm") if x)
        rows.append((d["at"], kind_of(a), f"{d['by']} ({d['principal']['name']})", "", text))
    return "<h2>Lifecycle and actions</h2>" + _table(["time", "event", "by", "severity", ""],
                                                      sorted(rows, key=lambda r: str(r[0])))


def _config(monitor: Mapping[str, Any] | None, remediation: Mapping[str, Any]) -> str:
    playbook = remediation.get("playbook") or []
    steps = "".join(f"<li>{escape(str(s))}</li>" for s in playbook) or "<li>none decided</li>"
    link = remediation.get("runbook_url")
    extra = (f'<p>Runbook: <a href="{escape(link)}">{escape(link)}</a></p>' if link else "") + \
        (f"<p>Owner: {escape(str(remediation['owner']))}</p>" if remediation.get("owner") else "")
    cfg = (f"<pre>{escape(json.dumps(monitor, indent=2, ensure_ascii=False))}</pre>"
           if monitor is not None else '<p class="muted">monitor not in the config given</p>')
    return (f"<h2>Playbook (decided in advance)</h2><ol>{steps}</ol>{extra}"
            f"<h2>Monitor config</h2>{cfg}")


def render(history: IncidentHistory, ex: Explanation, monitor: Mapping[str, Any] | None) -> str:
    """The whole page."""
    d = history.first["data"]
    seg = ", ".join(f"{k}={v}" for k, v in ex.segment.items()) or "all traffic"
    sev = history.data["severity"]
    head = (f"<h1>{escape(ex.monitor)} · {escape(ex.model_id)} · {escape(seg)}</h1>"
            f'<p><span class="badge {escape(sev)}">{escape(sev)}</span>'
            f'<span class="badge">{escape(history.status)}</span>'
            f'<span class="badge {ex.outcome}">{escape(ex.outcome.replace("_", " "))}</span>'
            f'<span class="muted">{escape(ex.incident_id)}</span></p>')
    body = "".join([head, f'<p id="summary">{escape(ex.summary)}</p>', _figures(ex),
                    _versions(ex), _reproduction(ex), _timeline(history),
                    _config(monitor, d["remediation"])])
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
            f"{escape(ex.incident_id)} — driftline explain</title><style>{CSS}</style></head>"
            f"<body>{body}<p class=\"muted\">driftline {escape(ex.inputs.driftline_version)}"
            "</p></body></html>\n")
