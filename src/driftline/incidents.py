"""Incident lifecycle: opened, updated (rate-limited), escalated, resolved (hysteresis).

The manager receives, for each closed window, one ``Finding`` per monitored
(monitor, model, signal, segment) and turns breaches into CloudEvents:

- ``opened`` after ``open_after`` consecutive breaching windows;
- ``escalated`` when the triage severity rises while open;
- ``updated`` while the breach persists, at most once per ``update_every`` windows;
- ``resolved`` after ``resolve_after`` consecutive clean windows.

Windows with too few events are *insufficient*: they neither breach nor count
as clean. Everything an event carries derives from the data (window bounds,
counts, statistics), never from the wall clock, so the incident id
``hash(monitor, model, signal, segment, opening window)`` and the CloudEvent id
``hash(incident id, type, window)`` are the same in a replay, a retry or a
restart from a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from driftline.config import MonitorConfig
from driftline.detectors.base import Evaluation
from driftline.events import IncidentEvent
from driftline.state import TracksState, validated
from driftline.timestamps import iso
from driftline.triage import SEVERITY_RANK, triage


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class WindowRef:
    """A closed window's identity: bounds in key units and their kind."""

    index: int
    start: float
    end: float
    kind: str = "time"
    #: event time of the window's last event (what a count window's CloudEvent says)
    last_time: float | None = None

    def as_dict(self) -> dict[str, str]:
        if self.kind == "count":
            return {"start": str(int(self.start)), "end": str(int(self.end)), "kind": "count"}
        return {"start": iso(self.start), "end": iso(self.end), "kind": "time"}

    @property
    def time(self) -> str:
        """CloudEvent time: the window's end in event time (a count window: its last event's)."""
        if self.kind == "time":
            return iso(self.end)
        return iso(self.last_time if self.last_time is not None else 0.0)


@dataclass(frozen=True)
class Finding:
    """A judged evaluation: one monitor, model, segment and window."""

    monitor: MonitorConfig
    model: str
    signal: str
    segment: dict[str, str]
    evaluation: Evaluation
    level: int | None  # None: too few events to judge; 0 ok; 1 warning; 2 critical
    threshold: float
    critical: float
    direction: str
    q_value: float | None
    window: WindowRef
    versions: list[str]
    positions: list[dict[str, Any]]
    reference_id: str
    config_hash: str
    #: a performance finding's: where the labels its window's predictions joined were read
    label_positions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        """What the lifecycle tracks: a JSON array, unambiguous whatever the names hold (a
        coverage finding is tracked apart from the drift of the same monitor)."""
        parts: list[Any] = [self.monitor.name, self.model, self.signal,
                            sorted(self.segment.items())]
        if self.evaluation.detector == "coverage":
            parts.append("coverage")
        return json.dumps(parts, ensure_ascii=False)


@dataclass
class Track:
    """What the manager remembers per monitored key."""

    breach_streak: int = 0
    clean_streak: int = 0
    incident_id: str | None = None
    severity: str | None = None
    opened: dict[str, Any] | None = None
    breaching_windows: int = 0
    windows_since_update: int = 0


@dataclass
class IncidentManager:
    source: str = "driftline/driftline"
    open_after: int = 1
    resolve_after: int = 3
    update_every: int = 4
    tracks: dict[str, Track] = field(default_factory=dict)

    def observe(self, finding: Finding) -> list[dict[str, Any]]:
        """Advance the lifecycle with one finding; returns the CloudEvents to publish.

        Only keys with history get a track (an open incident or a breach streak): a clean
        or too-small finding of a key without one changes nothing, which is why the judge
        need not build findings for them (``followed``).
        """
        t = self.tracks.get(finding.key)
        if finding.level is None or (t is None and finding.level == 0):
            return []
        if t is None:
            t = self.tracks[finding.key] = Track()
        if finding.level == 0:
            t.breach_streak = 0
            if t.incident_id is None:
                self._forget_if_idle(finding.key, t)
                return []
            t.clean_streak += 1
            if t.clean_streak < self.resolve_after:
                return []
            event = self._event("resolved", t, finding, t.severity or "low", None)
            self.tracks.pop(finding.key)
            return [event]
        t.clean_streak = 0
        t.breach_streak += 1
        # a coverage finding breaches only once it has waited its own number of windows
        need = 1 if finding.evaluation.detector == "coverage" else self.open_after
        if t.incident_id is None and t.breach_streak < need:
            return []
        t.breaching_windows += 1
        verdict = triage(level=finding.level, value=finding.evaluation.value,
                         critical=finding.critical, direction=finding.direction,
                         impact=finding.monitor.impact,
                         protected=finding.monitor.protected_attribute,
                         windows=t.breaching_windows)
        if t.incident_id is None:
            t.opened = finding.window.as_dict()
            t.incident_id = "inc-" + _hash(finding.key, finding.window.kind, finding.window.start)
            t.severity = verdict.severity
            t.windows_since_update = 0
            return [self._event("opened", t, finding, verdict.severity, verdict)]
        t.windows_since_update += 1
        if SEVERITY_RANK[verdict.severity] > SEVERITY_RANK[t.severity or "low"]:
            t.severity = verdict.severity
            t.windows_since_update = 0
            return [self._event("escalated", t, finding, verdict.severity, verdict)]
        if t.windows_since_update >= self.update_every:
            t.windows_since_update = 0
            return [self._event("updated", t, finding, t.severity or verdict.severity, verdict)]
        return []

    def _forget_if_idle(self, key: str, t: Track) -> None:
        if t.breach_streak == 0 and t.incident_id is None:
            self.tracks.pop(key, None)  # bounded state: only keys with history are kept

    def _event(self, kind: str, t: Track, f: Finding, severity: str, verdict: Any) -> dict[str, Any]:
        ev = f.evaluation
        assert t.incident_id is not None and t.opened is not None
        reason = verdict.reason if verdict is not None else f"clean for {self.resolve_after} windows"
        score = verdict.score if verdict is not None else 0
        data = {
            "incident_id": t.incident_id,
            "status": "resolved" if kind == "resolved" else "open",
            "severity": severity,
            "triage": {"impact": f.monitor.impact, "protected_attribute": f.monitor.protected_attribute,
                       "score": score, "reason": reason},
            "monitor": f.monitor.name, "model_id": f.model, "model_versions": f.versions,
            "detector": ev.detector, "signal": f.signal, "segment": f.segment,
            "statistic": ev.statistic, "value": _num(ev.value), "threshold": f.threshold,
            "direction": f.direction, "p_value": _num(ev.p_value), "q_value": _num(f.q_value),
            "window": f.window.as_dict(), "opened_window": t.opened,
            "counts": {"reference": ev.n_reference, "current": ev.n_current},
            "evidence": {"reference_id": f.reference_id, "config_hash": f.config_hash,
                         "top_contributors": [_plain(dict(c)) for c in ev.top_contributors],
                         "details": _plain(dict(ev.details)),
                         "breaching_windows": t.breaching_windows},
            "source_positions": f.positions,
            "label_positions": f.label_positions,
            "remediation": f.monitor.remediation.model_dump(),
        }
        event = IncidentEvent(
            id="evt-" + _hash(t.incident_id, kind, f.window.kind, f.window.end),
            source=self.source, type=f"io.driftline.incident.{kind}", subject=t.incident_id,
            time=f.window.time, data=data,
        )
        return event.model_dump(mode="json")

    def followed(self) -> dict[tuple[str, str], set[str | None]]:
        """(monitor, model) → the segment values with a track (None: the unsegmented one).

        As many as there are open incidents and pending breach streaks, not segment values.
        """
        out: dict[tuple[str, str], set[str | None]] = {}
        for key in self.tracks:
            monitor, model, _, segment, *_coverage = json.loads(key)
            out.setdefault((monitor, model), set()).add(segment[0][1] if segment else None)
        return out

    def open_incidents(self) -> dict[tuple[str, str], int]:
        """(monitor, severity) → number of open incidents."""
        out: dict[tuple[str, str], int] = {}
        for key, t in self.tracks.items():
            if t.incident_id is not None:
                k = (json.loads(key)[0], t.severity or "low")
                out[k] = out.get(k, 0) + 1
        return out

    def snapshot(self) -> dict[str, Any]:
        return {k: asdict(t) for k, t in self.tracks.items()}

    def restore(self, snap: dict[str, Any]) -> None:
        tracks = validated(TracksState, snap, "incident tracks")
        self.tracks = {k: Track(**t.model_dump()) for k, t in tracks.root.items()}


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        return _num(value)
    return value


def _num(x: float | None) -> float | None:
    """JSON-safe number: NaN/inf become null."""
    if x is None:
        return None
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None
