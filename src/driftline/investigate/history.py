"""Incident histories: detection lifecycle events and human actions, folded per incident.

The incident stream (a JSON-lines file or a topic) holds two kinds of CloudEvents: detection's
lifecycle (``opened``, ``updated``, ``escalated``, ``resolved``, written by the engine) and
people's actions (``acknowledged``, ``annotated``, ``closed``). Actions change an incident's
status, never detection's lifecycle: a closed incident that still breaches keeps its detection
status ``open``. Everything here is pure; reading files and topics is in ``streams``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from driftline.errors import DriftlineError
from driftline.events import ActionEvent, IncidentEvent
from driftline.timestamps import parse_timestamp

DETECTION = ("opened", "updated", "escalated", "resolved")
ACTIONS = ("acknowledged", "annotated", "closed")
PREFIX = "io.driftline.incident."


class HistoryError(DriftlineError):
    """The incident stream holds something that is not a driftline incident CloudEvent."""


def kind_of(event: dict[str, Any]) -> str:
    """'opened', 'acknowledged', … — the last part of the CloudEvent type."""
    return str(event.get("type", "")).rsplit(".", 1)[-1]


def is_action(event: dict[str, Any]) -> bool:
    return kind_of(event) in ACTIONS


def validate(obj: Any, where: str) -> dict[str, Any]:
    """``obj`` checked against the detection or the action contract; ``HistoryError`` names ``where``."""
    if not isinstance(obj, dict) or not str(obj.get("type", "")).startswith(PREFIX):
        raise HistoryError(f"{where}: not a driftline incident CloudEvent")
    model = ActionEvent if is_action(obj) else IncidentEvent
    try:
        model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise HistoryError(f"{where}: not a valid {kind_of(obj)} event ({loc}: {first['msg']})"
                           ) from exc
    return obj


def window_end(window: Mapping[str, Any]) -> float:
    """A window's end as a number: epoch seconds (time windows) or the event index (count)."""
    if window.get("kind") == "count":
        return float(window["end"])
    t = parse_timestamp(window["end"])
    return float("nan") if t is None else t


def window_start(window: Mapping[str, Any]) -> float:
    if window.get("kind") == "count":
        return float(window["start"])
    t = parse_timestamp(window["start"])
    return float("nan") if t is None else t


def event_time(event: dict[str, Any]) -> float:
    """When it happened: the stated time of an action, the window end (event time) of detection."""
    t = parse_timestamp(event["data"]["at"] if is_action(event) else event["time"])
    return 0.0 if t is None else t


@dataclass
class IncidentHistory:
    """Everything the stream says about one incident, in order."""

    incident_id: str
    detection: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """Whether detection's events of this incident are in the stream (not only actions)."""
        return bool(self.detection)

    @property
    def first(self) -> dict[str, Any]:
        """The opening event (or, in a stream that starts mid-incident, its first event)."""
        opened = [e for e in self.detection if kind_of(e) == "opened"]
        return (opened or self.detection)[0]

    @property
    def last(self) -> dict[str, Any]:
        return self.detection[-1]

    @property
    def data(self) -> dict[str, Any]:
        """The latest detection data (severity, value, window)."""
        return dict(self.last["data"])

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [e for e in (*self.detection, *self.actions) if kind_of(e) in kinds]

    def action(self, kind: str) -> dict[str, Any] | None:
        """The first action of ``kind`` (acknowledged, closed), if any."""
        found = [a for a in self.actions if kind_of(a) == kind]
        return found[0] if found else None

    @property
    def detection_status(self) -> str:
        """'open' or 'resolved' as detection last said; 'unknown' without detection events."""
        if not self.detection:
            return "unknown"
        return "resolved" if kind_of(self.last) == "resolved" else "open"

    @property
    def status(self) -> str:
        """closed > resolved > acknowledged > open: what a person needs to know first.

        'unknown': only actions, no detection event (e.g. a replay with another config gave
        the incidents other ids; the actions are kept, their incident is not in the stream).
        """
        if not self.detection:
            return "unknown"
        if self.action("closed") is not None:
            return "closed"
        if self.detection_status == "resolved":
            return "resolved"
        if self.action("acknowledged") is not None:
            return "acknowledged"
        return "open"

    def state(self) -> dict[str, Any]:
        """The incident's current state as plain data (what ``incident show`` prints)."""
        ack, closed = self.action("acknowledged"), self.action("closed")
        out: dict[str, Any] = {"incident_id": self.incident_id, "status": self.status,
                               "detection_status": self.detection_status}
        if self.detection:
            d, first = self.data, self.first
            out.update({
                "severity": d["severity"], "monitor": d["monitor"], "model_id": d["model_id"],
                "segment": d["segment"], "statistic": d["statistic"], "value": d["value"],
                "opened": first["time"], "opened_window": first["data"]["window"],
                "last_event": {"type": kind_of(self.last), "time": self.last["time"]},
                "breaching_windows": d["evidence"]["breaching_windows"]})
        out["acknowledged"] = _who(ack)
        out["closed"] = _who(closed)
        out["notes"] = [_who(a) for a in self.actions if kind_of(a) == "annotated"]
        return out


def _who(action: dict[str, Any] | None) -> dict[str, Any] | None:
    if action is None:
        return None
    d = action["data"]
    out = {"by": d["by"], "principal": d["principal"], "at": d["at"]}
    for key in ("note", "root_cause"):
        if d.get(key):
            out[key] = d[key]
    if d.get("actions"):
        out["actions"] = d["actions"]
    if d.get("false_alarm"):
        out["false_alarm"] = True
    return out


def _detection_order(event: dict[str, Any]) -> tuple[float, int]:
    return window_end(event["data"]["window"]), DETECTION.index(kind_of(event))


def fold(events: Iterable[dict[str, Any]]) -> dict[str, IncidentHistory]:
    """Histories by incident id, in order of first appearance; duplicate CloudEvent ids count once."""
    seen: set[str] = set()
    out: dict[str, IncidentHistory] = {}
    for ev in events:
        if ev["id"] in seen:
            continue
        seen.add(ev["id"])
        incident = str(ev["data"]["incident_id"])
        h = out.setdefault(incident, IncidentHistory(incident))
        (h.actions if is_action(ev) else h.detection).append(ev)
    for h in out.values():
        h.detection.sort(key=_detection_order)
        h.actions.sort(key=event_time)
    return out


def find(histories: dict[str, IncidentHistory], incident_id: str, where: str) -> IncidentHistory:
    """The history of ``incident_id`` (a unique prefix will do); ``HistoryError`` if none."""
    if incident_id in histories:
        return histories[incident_id]
    matches = [k for k in histories if k.startswith(incident_id)]
    if len(matches) == 1:
        return histories[matches[0]]
    if matches:
        raise HistoryError(f"{incident_id!r} is ambiguous in {where}: {sorted(matches)[:5]}")
    raise HistoryError(f"no incident {incident_id!r} in {where}")
