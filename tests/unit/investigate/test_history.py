"""Incident histories: detection and actions folded per incident; status; the contracts they obey."""

from __future__ import annotations

import pytest
from demo_files import Run
from pydantic import ValidationError

from driftline.events import ActionEvent, IncidentEvent, Principal
from driftline.investigate import actions, history

ME = Principal(kind="os_user", name="tester")


def act(h: history.IncidentHistory, verb: str, at: float, **kw: object) -> dict[str, object]:
    return actions.action_event(h.incident_id, actions.VERBS[verb], by="alice", principal=ME,
                                at=at, **kw)  # type: ignore[arg-type]


def test_duplicates_count_once_and_events_sort_by_window(warmup_run: Run) -> None:
    """A stream read twice folds to the same histories; detection events are in window order."""
    events = [e for h in warmup_run.histories().values() for e in h.detection]
    folded = history.fold([*reversed(events), *events])
    assert folded.keys() == warmup_run.histories().keys()
    for h in folded.values():
        ends = [history.window_end(e["data"]["window"]) for e in h.detection]
        assert ends == sorted(ends) and len(set(e["id"] for e in h.detection)) == len(h.detection)


def test_actions_set_the_status_and_leave_detection_alone(warmup_run: Run) -> None:
    """ack → acknowledged; detection's resolution → resolved; close → closed; detection status kept."""
    h = warmup_run.opened("parcel-weight-psi")  # still open at the end of the stream
    assert (h.status, h.detection_status) == ("open", "open")
    t = history.event_time(h.first)
    acked = history.fold([*h.detection, act(h, "ack", t + 60)])[h.incident_id]
    assert (acked.status, acked.detection_status) == ("acknowledged", "open")
    closed = history.fold([*h.detection, act(h, "ack", t + 60), act(h, "close", t + 120)])
    assert (closed[h.incident_id].status, closed[h.incident_id].detection_status) == ("closed",
                                                                                      "open")
    resolved = warmup_run.opened("region-priority-rate")
    assert resolved.status == "resolved"
    both = history.fold([*resolved.detection, act(resolved, "ack", t)])[resolved.incident_id]
    assert both.status == "resolved" and both.state()["acknowledged"]["by"] == "alice"


def test_a_unique_prefix_finds_an_incident(warmup_run: Run) -> None:
    """`inc-ab12` finds the incident whose id starts so; an unknown id is one clear error."""
    hs = warmup_run.histories()
    some = next(iter(hs))
    assert history.find(hs, some[:12], "f").incident_id == some
    with pytest.raises(history.HistoryError, match="no incident"):
        history.find(hs, "inc-nope", "f")


def test_validation_names_the_place_and_tells_detection_from_actions(warmup_run: Run) -> None:
    """A non-CloudEvent or a broken one is refused by where it is; each model keeps its own types."""
    with pytest.raises(history.HistoryError, match="f:3: not a driftline"):
        history.validate({"type": "com.example"}, "f:3")
    ev = dict(warmup_run.histories()[next(iter(warmup_run.histories()))].first)
    with pytest.raises(history.HistoryError, match="f:4: not a valid opened event"):
        history.validate({**ev, "data": {**ev["data"], "severity": "apocalyptic"}}, "f:4")
    h = warmup_run.opened("parcel-weight-psi")
    action = act(h, "close", 0.0)
    with pytest.raises(ValidationError):
        IncidentEvent.model_validate(action)
    with pytest.raises(ValidationError):
        ActionEvent.model_validate({**ev, "type": "io.driftline.incident.closed"})
    IncidentEvent.model_validate(ev)
    ActionEvent.model_validate(action)
