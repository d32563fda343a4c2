"""Learning from an incident, computed from the data: what flapped or opened late, what the
statistic's history says of the thresholds and the window, and the regulatory reporting clock.

Rules (docs/investigation.md states the same):

- *related*: incidents of the same model whose span (first to last event, open ones to now)
  overlaps this one's. One that opened after the earliest opening of the group is *late by* the
  difference; a (monitor, segment) with more than one incident in the span *flapped*.
- *window*: windows before the opening whose value was past the warning threshold but were not
  judged a breach (q above alpha, or too few events) — a larger window would have had the
  power to open earlier.
- *threshold*: clean windows whose value came within ``NEAR`` of the warning threshold — it
  sits close to the noise.
- *hysteresis*: a (monitor, segment) that opened more than once in the span.
- *reporting clock* (impact class regulatory): deadlines counted from the opening, by default
  EU AI Act Art. 73 — 2 days (widespread infringement or critical infrastructure), 10 days
  (a death), 15 days (any other serious incident).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from driftline.investigate.history import IncidentHistory, event_time, kind_of, window_end
from driftline.investigate.review_models import Deadline, Related, ReportingClock, Suggestion
from driftline.timestamps import iso, parse_timestamp

NEAR = 0.8  # a clean value at ≥ 80% of the warning threshold is "close to it"
#: EU AI Act Art. 73 (serious incident reporting): (days, which incidents)
ART73 = ((2.0, "Art. 73(3): a widespread infringement, or a serious incident under Art. 3(49)(b) "
               "(serious and irreversible disruption of critical infrastructure)"),
         (10.0, "Art. 73(4): the death of a person"),
         (15.0, "Art. 73(2): any other serious incident"))
ASSUMPTION = ("The clock starts when driftline opened the incident (the earliest moment the "
              "provider can be said to be aware of it); deadlines are calendar days. EU AI Act "
              "Art. 73 deadlines by default: check which applies with your legal team.")


def opened_at(h: IncidentHistory) -> float:
    return event_time(h.first)


def span(h: IncidentHistory, now: float) -> tuple[float, float]:
    """First to last detection event; an incident still open lasts until ``now``."""
    end = event_time(h.last) if h.detection_status == "resolved" else max(now, event_time(h.last))
    closed = h.action("closed")
    if closed is not None:
        end = min(end, event_time(closed))
    return opened_at(h), end


def _key(h: IncidentHistory) -> tuple[str, str]:
    d = h.first["data"]
    return d["monitor"], str(sorted(d["segment"].items()))


def related(h: IncidentHistory, histories: Mapping[str, IncidentHistory], now: float,
            ) -> tuple[list[Related], float | None, bool]:
    """Incidents of the same model overlapping this one; this one's lateness and flapping."""
    lo, hi = span(h, now)
    model = h.first["data"]["model_id"]
    others = [o for o in histories.values() if o.known and o.incident_id != h.incident_id
              and o.first["data"]["model_id"] == model]
    overlap = [o for o in others if span(o, now)[0] <= hi and lo <= span(o, now)[1]]
    group = [h, *overlap]
    earliest = min(opened_at(x) for x in group)
    per_key: dict[tuple[str, str], int] = {}
    for x in group:
        per_key[_key(x)] = per_key.get(_key(x), 0) + 1
    out = [Related(incident_id=o.incident_id, monitor=o.first["data"]["monitor"],
                   segment=o.first["data"]["segment"], opened=o.first["time"],
                   incidents_of_its_key=per_key[_key(o)], flapped=per_key[_key(o)] > 1,
                   late_by_seconds=opened_at(o) - earliest)
           for o in sorted(overlap, key=opened_at)]
    return out, opened_at(h) - earliest, per_key[_key(h)] > 1


def beyond(value: float, threshold: float, direction: str) -> bool:
    """Whether a value is past a threshold in the detector's direction."""
    if direction == "below":
        return value <= threshold
    return (abs(value) if direction == "both" else value) >= threshold


def near(value: float, threshold: float, direction: str) -> bool:
    if direction == "below":
        return value <= threshold / NEAR if threshold > 0 else value <= threshold
    return (abs(value) if direction == "both" else value) >= NEAR * threshold


def suggestions(h: IncidentHistory, series: Sequence[Mapping[str, Any]],
                thresholds: Mapping[str, Any], flapped: int) -> list[Suggestion]:
    """What the statistic's history suggests of this monitor's thresholds and window."""
    monitor = h.first["data"]["monitor"]
    warning, direction = thresholds.get("warning"), str(thresholds.get("direction", "above"))
    out: list[Suggestion] = []
    opened = h.first["data"]["window"]
    kind = opened.get("kind", "time")
    before = [p for p in series if p.get("value") is not None
              and window_end({"end": p["end"], "kind": kind}) < window_end(opened)]
    if warning is not None:
        missed = [p for p in before if beyond(p["value"], warning, direction)
                  and p.get("level") == 0]
        if missed:
            out.append(Suggestion(
                kind="window", monitor=monitor,
                text=f"{len(missed)} window(s) before the opening were past the warning threshold "
                     "but not judged a breach (not significant, or too few events): a larger "
                     "window, or a lower min_samples, would have opened the incident earlier.",
                evidence={"windows": [p["end"] for p in missed],
                          "values": [p["value"] for p in missed],
                          "q_values": [p.get("q_value") for p in missed]}))
        clean = [p for p in series if p.get("level") == 0 and p.get("value") is not None
                 and not beyond(p["value"], warning, direction)
                 and near(p["value"], warning, direction)]
        if clean:
            worst = max(clean, key=lambda p: abs(float(p["value"])))
            out.append(Suggestion(
                kind="threshold", monitor=monitor,
                text=f"{len(clean)} clean window(s) came within {100 * (1 - NEAR):.0f}% of the "
                     f"warning threshold ({warning:g}; closest {worst['value']:.4g}): the "
                     "threshold sits close to the noise — consider raising it or a larger window.",
                evidence={"windows": [p["end"] for p in clean]}))
    if flapped > 1:
        out.append(Suggestion(
            kind="hysteresis", monitor=monitor,
            text=f"this monitor and segment opened {flapped} incidents in the span: raise "
                 "detection.resolve_after (or open_after) so one problem is one incident.",
            evidence={"incidents": flapped}))
    return out


def reporting(h: IncidentHistory, deadlines: Sequence[tuple[float, str]], now: float,
              fields: Mapping[str, Any]) -> ReportingClock | None:
    """The reporting clock of a regulatory incident and the report fields still empty."""
    if h.first["data"]["triage"]["impact"] != "regulatory":
        return None
    start = opened_at(h)
    return ReportingClock(
        assumption=ASSUMPTION, starts=iso(start),
        deadlines=[Deadline(days=days, label=label, due=iso(start + days * 86400),
                            remaining_seconds=start + days * 86400 - now)
                   for days, label in deadlines],
        empty_fields=sorted(k for k, v in fields.items() if v in (None, "", [], {})))


def first_breach(h: IncidentHistory, series: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The first window of the breach streak that opened the incident (the opened one if the
    series does not show earlier breaching windows right before it)."""
    opened = dict(h.first["data"]["window"])
    ends = [str(p["end"]) for p in series]
    if opened["end"] not in ends:
        return opened
    i = ends.index(opened["end"])
    while i > 0 and (series[i - 1].get("level") or 0) >= 1:
        i -= 1
    p = series[i]
    return {"start": p["start"], "end": p["end"], "kind": opened.get("kind", "time")}


def seconds_between(a: str | None, b: str | None) -> float | None:
    if a is None or b is None:
        return None
    ta, tb = parse_timestamp(a), parse_timestamp(b)
    if ta is None or tb is None or not (math.isfinite(ta) and math.isfinite(tb)):
        return None
    return tb - ta


def escalations(h: IncidentHistory) -> list[str]:
    return [e["time"] for e in h.detection if kind_of(e) == "escalated"]
