"""``driftline review``: the post-incident review of one incident, and the summary of a period.

Pure: histories (``history``), optionally the incident's ``explain.json``, and the options
(reporting deadlines, the time "now" is) in; ``Review`` / ``PeriodReview`` out. What it reads
and how the durations are clocked is stated in each model's field descriptions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftline.investigate import learning
from driftline.investigate.history import IncidentHistory, event_time, kind_of
from driftline.investigate.review_models import (
    Entry,
    EvidenceSummary,
    Impact,
    Learning,
    PeriodReview,
    Response,
    Review,
    SegmentImpact,
    Timeline,
)
from driftline.timestamps import iso
from driftline.triage import SEVERITY_RANK

CLOCK = ("detection's times are event time (a window's end), actions' the time stated when they "
         "were recorded: in a live run they are one clock, in a backtest of old events not")


@dataclass(frozen=True)
class Options:
    now: float
    deadlines: Sequence[tuple[float, str]] = learning.ART73
    version: str = ""
    explanation: Mapping[str, Any] | None = None


def _entries(h: IncidentHistory, first: Mapping[str, Any]) -> list[Entry]:
    out = [Entry(time=str(first["start"]), event="first_breach",
                 detail=f"window {first['start']}–{first['end']}")]
    for ev in h.detection:
        d = ev["data"]
        out.append(Entry(time=ev["time"], event=kind_of(ev),
                         detail=f"{d['severity']}: {d['statistic']}={d['value']}"))
    for a in h.actions:
        d = a["data"]
        detail = "; ".join(x for x in (d.get("note"), d.get("root_cause")) if x) or None
        out.append(Entry(time=d["at"], event=kind_of(a), by=d["by"], detail=detail))
    return out


def timeline(h: IncidentHistory, series: Sequence[Mapping[str, Any]]) -> Timeline:
    first = learning.first_breach(h, series)
    opened = h.first["time"]
    ack, closed = h.action("acknowledged"), h.action("closed")
    resolved = next((e["time"] for e in h.detection if kind_of(e) == "resolved"), None)
    ends = [t for t in (resolved, closed["data"]["at"] if closed else None) if t is not None]
    end = min(ends, key=lambda t: learning.seconds_between(opened, t) or 0.0) if ends else None
    detect = learning.seconds_between(first["start"], opened) \
        if first.get("kind", "time") == "time" else None
    return Timeline(
        first_breaching_window=first, opened=opened, escalated=learning.escalations(h),
        acknowledged=ack["data"]["at"] if ack else None,
        notes=[e for e in _entries(h, first) if e.event == "annotated"],
        resolved=resolved, closed=closed["data"]["at"] if closed else None,
        entries=sorted(_entries(h, first), key=lambda e: e.time),
        time_to_detect_seconds=detect,
        time_to_acknowledge_seconds=learning.seconds_between(opened, ack["data"]["at"])
        if ack else None,
        time_to_resolve_seconds=learning.seconds_between(opened, end), clock=CLOCK)


def impact(h: IncidentHistory, ex: Mapping[str, Any] | None) -> Impact:
    d = h.first["data"]
    versions = sorted({v for e in h.detection for v in e["data"]["model_versions"]})
    segments = [SegmentImpact(segment=r["segment"], traffic_share=r["traffic_share"],
                              value=r["value"], incident=r["incident"])
                for r in (ex or {}).get("segments", [])]
    worst = max((e["data"]["severity"] for e in h.detection), key=SEVERITY_RANK.__getitem__)
    return Impact(model_id=d["model_id"], model_versions=versions, segment=d["segment"],
                  segments=segments, protected_attribute=d["triage"]["protected_attribute"],
                  impact_class=d["triage"]["impact"], severity=worst)


def response(h: IncidentHistory) -> Response:
    rem = h.first["data"]["remediation"]
    closed = h.action("closed")
    done = list(closed["data"]["actions"]) if closed else []
    notes = [str(a["data"]["note"]) for a in h.actions if a["data"].get("note")]
    said = " ".join([*done, *notes]).lower()
    playbook = list(rem.get("playbook") or [])
    return Response(playbook=playbook, runbook_url=rem.get("runbook_url"), owner=rem.get("owner"),
                    actions_recorded=done, notes=notes,
                    root_cause=closed["data"].get("root_cause") if closed else None,
                    false_alarm=bool(closed and closed["data"].get("false_alarm")),
                    playbook_steps_not_mentioned=[s for s in playbook
                                                  if s.replace("_", " ") not in said])


def review(h: IncidentHistory, histories: Mapping[str, IncidentHistory], opts: Options) -> Review:
    """The review of one incident."""
    ex = opts.explanation
    series = list(ex.get("series", [])) if ex else [
        {"start": e["data"]["window"]["start"], "end": e["data"]["window"]["end"],
         "value": e["data"]["value"], "level": None if kind_of(e) == "resolved" else 1}
        for e in h.detection]
    d = h.first["data"]
    related, late, flapped = learning.related(h, histories, opts.now)
    same_key = 1 + sum(1 for r in related if r.monitor == d["monitor"] and r.segment == d["segment"])
    thresholds = ex.get("thresholds", {}) if ex else {"warning": d["threshold"],
                                                      "direction": d["direction"]}
    tl, imp, resp = timeline(h, series), impact(h, ex), response(h)
    evidence = EvidenceSummary(
        reference_id=d["evidence"]["reference_id"], config_hash=d["evidence"]["config_hash"],
        source_positions=[p for e in h.detection for p in e["data"]["source_positions"]],
        driftline_version=opts.version,
        explain_reproduced=ex.get("reproduced") if ex else None,
        explain_outcome=ex.get("outcome") if ex else None)
    fields = {"acknowledged_by": tl.acknowledged, "root_cause": resp.root_cause,
              "corrective_actions": resp.actions_recorded, "closed": tl.closed,
              "affected_segments_traffic_share": imp.segments,
              "explain_reproduced": evidence.explain_reproduced, "notes": resp.notes}
    return Review(
        incident_id=h.incident_id, monitor=d["monitor"], status=h.status, timeline=tl,
        impact=imp, evidence=evidence, response=resp,
        learning=Learning(related=related, this_incident_late_by_seconds=late,
                          this_incident_flapped=flapped,
                          suggestions=learning.suggestions(h, series, thresholds, same_key),
                          reporting=learning.reporting(h, opts.deadlines, opts.now, fields)))


def _mean(xs: Sequence[float | None]) -> float | None:
    got = [x for x in xs if x is not None]
    return sum(got) / len(got) if got else None


def period(histories: Mapping[str, IncidentHistory], start: float, end: float) -> PeriodReview:
    """Every incident opened in ``[start, end)``: counts, MTTD, MTTR, coverage, false alarms."""
    chosen = [h for h in histories.values()
              if h.known and start <= event_time(h.first) < end]
    tls = [timeline(h, []) for h in chosen]
    false = [h.incident_id for h in chosen
             if (c := h.action("closed")) is not None and c["data"].get("false_alarm")]
    closed = [h for h in chosen if h.action("closed") is not None]
    coverage = [h for h in chosen if h.first["data"]["detector"] == "coverage"]
    return PeriodReview(
        start=iso(start), end=iso(end), incidents=len(chosen),
        by_severity=dict(Counter(max((e["data"]["severity"] for e in h.detection),
                                     key=SEVERITY_RANK.__getitem__) for h in chosen)),
        by_monitor=dict(Counter(h.first["data"]["monitor"] for h in chosen)),
        mttd_seconds=_mean([t.time_to_detect_seconds for t in tls]),
        mttr_seconds=_mean([t.time_to_resolve_seconds for t in tls]),
        open_at_end=sum(1 for h in chosen if h.status in ("open", "acknowledged")),
        acknowledged=sum(1 for h in chosen if h.action("acknowledged") is not None),
        coverage_incidents=len(coverage),
        coverage_note=(f"{len(coverage)} incident(s) of the coverage detector" if coverage else
                       "no incident of a coverage detector in the period (none may be "
                       "configured: this driftline has no such detector yet)"),
        false_alarms=false, false_alarm_rate=len(false) / len(closed) if closed else None)
