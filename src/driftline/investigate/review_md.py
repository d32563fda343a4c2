"""``review.md`` and ``period-review.md``: the reviews as a person reads them (Markdown)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftline.investigate.review_models import PeriodReview, Review


def duration(seconds: float | None) -> str:
    """'3 h 05 min', '12 min', '40 s', '2 d 4 h'; '—' when unknown."""
    if seconds is None:
        return "—"
    sign, s = ("−" if seconds < 0 else ""), abs(seconds)
    if s < 60:
        return f"{sign}{s:.0f} s"
    if s < 3600:
        return f"{sign}{s / 60:.0f} min"
    if s < 86400:
        return f"{sign}{int(s // 3600)} h {int(s % 3600 // 60):02d} min"
    return f"{sign}{int(s // 86400)} d {int(s % 86400 // 3600)} h"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(x: Any) -> str:
        text = "—" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)
        return text.replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def render(r: Review) -> str:
    t, i, e, resp = r.timeline, r.impact, r.evidence, r.response
    seg = ", ".join(f"{k}={v}" for k, v in i.segment.items()) or "all traffic"
    lines = [f"# Review: {r.incident_id}", "",
             f"**{r.monitor}** on model **{i.model_id}**, {seg} — severity **{i.severity}**, "
             f"status **{r.status}**.", "", "## Timeline", ""]
    lines += _table(["time", "event", "by", "detail"],
                    [(x.time, x.event, x.by, x.detail) for x in t.entries])
    lines += ["", f"- Time to detect: {duration(t.time_to_detect_seconds)}",
              f"- Time to acknowledge: {duration(t.time_to_acknowledge_seconds)}",
              f"- Time to resolve: {duration(t.time_to_resolve_seconds)}",
              f"- Clocks: {t.clock}.", "", "## Impact", "",
              f"- Model {i.model_id}, versions {', '.join(i.model_versions) or '—'}",
              f"- Segment {seg}; protected attribute: {'yes' if i.protected_attribute else 'no'}; "
              f"impact class: {i.impact_class}"]
    if i.segments:
        lines += ["", *_table(["segment", "traffic share", "value", ""],
                              [(s.segment, s.traffic_share, s.value, "◀" if s.incident else "")
                               for s in i.segments])]
    repro = {True: "yes", False: "no", None: "not explained (run driftline explain)"}
    lines += ["", "## Evidence", "", f"- Reference {e.reference_id}, config {e.config_hash}",
              f"- Source positions: {len(e.source_positions)} window(s) cited, first "
              f"{e.source_positions[0] if e.source_positions else '—'}",
              f"- driftline {e.driftline_version}; reproduced by explain: "
              f"{repro[e.explain_reproduced]}"
              + (f" ({e.explain_outcome})" if e.explain_outcome else ""),
              "", "## Response", "",
              f"- Playbook decided in advance: {', '.join(resp.playbook) or 'none'}"
              + (f" (owner {resp.owner})" if resp.owner else ""),
              f"- Actions recorded: {'; '.join(resp.actions_recorded) or 'none'}",
              f"- Root cause: {resp.root_cause or '—'}"
              + ("; closed as a false alarm" if resp.false_alarm else "")]
    if resp.playbook_steps_not_mentioned:
        lines.append(f"- Playbook steps no action mentions: "
                     f"{', '.join(resp.playbook_steps_not_mentioned)}")
    lines += ["", *_learning(r)]
    return "\n".join(lines) + "\n"


def _learning(r: Review) -> list[str]:
    learn = r.learning
    lines = ["## Learning", ""]
    if learn.this_incident_late_by_seconds:
        lines.append(f"- This monitor opened {duration(learn.this_incident_late_by_seconds)} "
                     "after the first related incident.")
    if learn.this_incident_flapped:
        lines.append("- This monitor and segment opened more than one incident in the span.")
    if learn.related:
        lines += ["", *_table(["related incident", "monitor", "segment", "opened", "late by",
                               "flapped"],
                              [(x.incident_id, x.monitor, ",".join(f"{k}={v}" for k, v in
                                                                   x.segment.items()) or "all",
                                x.opened, duration(x.late_by_seconds), x.flapped)
                               for x in learn.related]), ""]
    for s in learn.suggestions:
        lines.append(f"- **{s.kind}** ({s.monitor}): {s.text}")
    if not learn.suggestions:
        lines.append("- The statistic's history suggests no threshold or window change.")
    rep = learn.reporting
    if rep is not None:
        lines += ["", "### Reporting clock (impact class regulatory)", "", f"{rep.assumption}",
                  "", *_table(["deadline", "due", "remaining"],
                              [(f"{d.days:g} days — {d.label}", d.due,
                                duration(d.remaining_seconds) if d.remaining_seconds >= 0
                                else f"overdue by {duration(-d.remaining_seconds)}")
                               for d in rep.deadlines]),
                  "", f"Report fields still empty: {', '.join(rep.empty_fields) or 'none'}"]
    return lines


def render_period(p: PeriodReview) -> str:
    lines = [f"# Incidents {p.start} – {p.end}", "",
             f"- {p.incidents} incident(s) opened; {p.open_at_end} still open or acknowledged, "
             f"{p.acknowledged} acknowledged",
             f"- MTTD {duration(p.mttd_seconds)}, MTTR {duration(p.mttr_seconds)}",
             f"- Coverage: {p.coverage_note}",
             f"- False alarms: {len(p.false_alarms)}"
             + (f" ({p.false_alarm_rate:.0%} of closures)" if p.false_alarm_rate is not None else ""),
             "", "## By severity", "",
             *_table(["severity", "incidents"], sorted(p.by_severity.items())),
             "", "## By monitor", "",
             *_table(["monitor", "incidents"], sorted(p.by_monitor.items(), key=lambda x: -x[1]))]
    return "\n".join(lines) + "\n"
