"""review: timeline durations from the events, impact, learning rules, the regulatory clock, periods."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from demo_files import ROOT, Run, context

from driftline.events import Principal
from driftline.investigate import actions, explain, learning, review
from driftline.investigate.history import IncidentHistory, event_time, fold, kind_of
from driftline.timestamps import parse_timestamp

ME = Principal(kind="os_user", name="tester")
SCHEMAS = ROOT / "docs" / "schemas"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def with_actions(run: Run, monitor: str, *steps: tuple[str, float, dict[str, Any]],
                 ) -> tuple[IncidentHistory, dict[str, IncidentHistory]]:
    """The run's histories plus actions on ``monitor``'s incident, ``seconds`` after it opened."""
    h = run.opened(monitor)
    t0 = event_time(h.first)
    acts = [actions.action_event(h.incident_id, actions.VERBS[verb], by="alice", principal=ME,
                                 at=t0 + dt, **kw) for verb, dt, kw in steps]
    events = [e for x in run.histories().values() for e in x.detection] + acts
    hs = fold(events)
    return hs[h.incident_id], hs


@pytest.fixture(scope="module")
def regulatory(warmup_run: Run) -> tuple[review.Review, IncidentHistory, dict[str, Any]]:
    h, hs = with_actions(warmup_run, "region-priority-rate", ("ack", 600, {}),
                         ("note", 900, {"note": "south scores sink"}),
                         ("close", 7200, {"root_cause": "feature pipeline change",
                                          "actions": ["rolled back the pipeline",
                                                      "added a human review gate"]}))
    ex = explain.explain(h, context(warmup_run, h)).model_dump(mode="json")
    now = event_time(h.first) + 86400
    return review.review(h, hs, review.Options(now=now, version="t", explanation=ex)), h, ex


def test_the_review_validates_against_its_published_schema(
        regulatory: tuple[review.Review, IncidentHistory, dict[str, Any]]) -> None:
    """review.json is an instance of docs/schemas/review.schema.json."""
    r, _, _ = regulatory
    jsonschema.validate(json.loads(r.model_dump_json()), schema("review"))


def test_durations_are_differences_of_the_stated_times(
        regulatory: tuple[review.Review, IncidentHistory, dict[str, Any]]) -> None:
    """Acknowledged 600 s and closed 7200 s after opening; resolved when detection said so."""
    r, h, _ = regulatory
    t = r.timeline
    opened = event_time(h.first)
    resolved = next(event_time(e) for e in h.detection if kind_of(e) == "resolved")
    assert t.time_to_acknowledge_seconds == 600
    assert t.time_to_resolve_seconds == resolved - opened  # detection resolved before the close
    start = parse_timestamp(t.first_breaching_window["start"])
    assert start is not None and t.time_to_detect_seconds == opened - start
    assert [e.event for e in t.entries][:2] == ["first_breach", "opened"]
    assert t.notes[0].detail == "south scores sink" and t.closed is not None


def test_impact_evidence_and_response_come_from_the_incident_and_explain(
        regulatory: tuple[review.Review, IncidentHistory, dict[str, Any]]) -> None:
    """Segment shares from explain.json, its verdict, the playbook against the actions taken."""
    r, h, ex = regulatory
    assert [s.segment for s in r.impact.segments] == [s["segment"] for s in ex["segments"]]
    assert r.impact.impact_class == "regulatory" and r.impact.protected_attribute
    assert r.evidence.explain_reproduced is True and r.evidence.explain_outcome == "reproduced"
    assert r.response.playbook == h.first["data"]["remediation"]["playbook"]
    assert r.response.root_cause == "feature pipeline change"
    # "added a human review gate" mentions human_review_gate; nothing mentions the other step
    assert r.response.playbook_steps_not_mentioned == ["disable_automation_for_segment"]


def test_the_reporting_clock_counts_from_the_opening(
        regulatory: tuple[review.Review, IncidentHistory, dict[str, Any]],
        warmup_run: Run) -> None:
    """Due dates are the opening plus each deadline; custom deadlines replace Art. 73's."""
    r, h, _ = regulatory
    rep = r.learning.reporting
    assert rep is not None and rep.starts == h.first["time"]
    opened = event_time(h.first)
    assert [d.days for d in rep.deadlines] == [d for d, _ in learning.ART73]
    for d in rep.deadlines:
        assert parse_timestamp(d.due) == opened + d.days * 86400
        assert d.remaining_seconds == opened + d.days * 86400 - (opened + 86400)
    assert rep.empty_fields == []
    bare = warmup_run.opened("region-priority-rate")
    custom = review.review(bare, warmup_run.histories(), review.Options(
        now=opened, deadlines=((1.0, "internal SLA"),)))
    assert custom.learning.reporting is not None
    assert [d.label for d in custom.learning.reporting.deadlines] == ["internal SLA"]
    assert {"root_cause", "corrective_actions", "acknowledged_by", "closed",
            "explain_reproduced"} <= set(custom.learning.reporting.empty_fields)
    internal = review.review(warmup_run.opened("parcel-weight-psi"), warmup_run.histories(),
                             review.Options(now=opened))
    assert internal.learning.reporting is None


def test_related_incidents_are_late_by_their_opening_after_the_first(
        regulatory: tuple[review.Review, IncidentHistory, dict[str, Any]],
        warmup_run: Run) -> None:
    """The disparate-impact incident opened one window after the rate incident: late by 300 s."""
    r, h, _ = regulatory
    rel = {x.monitor: x for x in r.learning.related}
    di = warmup_run.opened("region-disparate-impact")
    assert rel["region-disparate-impact"].late_by_seconds == event_time(di.first) - event_time(h.first)
    assert r.learning.this_incident_late_by_seconds == 0
    assert not any(x.flapped for x in rel.values())


def test_a_key_that_opened_twice_flapped_and_asks_for_hysteresis(warmup_run: Run) -> None:
    """A second incident of the same monitor and segment in the span: flapped, hysteresis suggested."""
    h = warmup_run.opened("parcel-weight-psi")
    twin = copy.deepcopy(h.detection)
    for e in twin:
        e["id"] += "-2"
        e["data"]["incident_id"] = e["subject"] = h.incident_id + "-2"
    hs = fold([e for x in warmup_run.histories().values() for e in x.detection] + twin)
    r = review.review(hs[h.incident_id], hs, review.Options(now=event_time(h.last)))
    assert r.learning.this_incident_flapped
    assert [s.kind for s in r.learning.suggestions if s.kind == "hysteresis"] == ["hysteresis"]


def _series(values: list[float], levels: list[int | None]) -> list[dict[str, Any]]:
    return [{"start": f"2026-02-13T06:{5 * i:02d}:00.000Z",
             "end": f"2026-02-13T06:{5 * i + 5:02d}:00.000Z", "value": v, "level": lv}
            for i, (v, lv) in enumerate(zip(values, levels, strict=True))]


def test_window_and_threshold_suggestions_follow_the_series(warmup_run: Run) -> None:
    """Past warning but not judged before the opening → 'window'; clean but near it → 'threshold'."""
    h = warmup_run.opened("region-priority-rate")
    opened_end = h.first["data"]["window"]["end"]
    series = [p for p in _series([-0.045, -0.06, -0.07, 0.0], [0, 0, 1, 0])
              if p["end"] <= opened_end]
    kinds = {s.kind for s in learning.suggestions(
        h, series, {"warning": 0.05, "direction": "both"}, 1)}
    assert kinds == {"window", "threshold"}
    quiet = learning.suggestions(h, _series([0.0, -0.07], [0, 1])[-2:],
                                 {"warning": 0.05, "direction": "both"}, 1)
    assert quiet == []


def test_the_first_breaching_window_walks_back_over_breaching_windows(warmup_run: Run) -> None:
    """With open_after > 1 the breach started earlier than the opened window: found in the series."""
    h = warmup_run.opened("region-priority-rate")
    w = h.first["data"]["window"]
    end = parse_timestamp(w["end"])
    assert end is not None
    series = [{"start": f"t{i}", "end": e, "level": lv} for i, (e, lv) in enumerate(
        [("2026-02-13T06:20:00.000Z", 0), ("2026-02-13T06:25:00.000Z", 1), (w["end"], 1)])]
    assert learning.first_breach(h, series)["end"] == "2026-02-13T06:25:00.000Z"
    assert learning.first_breach(h, [])["start"] == w["start"]


def test_a_period_counts_severities_monitors_false_alarms_and_coverage(warmup_run: Run) -> None:
    """Every incident opened in the period, once; closures marked false alarm; coverage absent."""
    h, hs = with_actions(warmup_run, "tier-priority-rate",
                         ("close", 60, {"false_alarm": True, "root_cause": "none"}))
    times = [event_time(x.first) for x in hs.values()]
    p = review.period(hs, min(times), max(times) + 1)
    jsonschema.validate(json.loads(p.model_dump_json()), schema("period-review"))
    assert p.incidents == len(hs) == sum(p.by_severity.values()) == sum(p.by_monitor.values())
    assert p.false_alarms == [h.incident_id] and p.false_alarm_rate == 1.0
    assert p.coverage_incidents == 0 and "no incident of a coverage detector" in p.coverage_note
    assert review.period(hs, max(times) + 1, max(times) + 2).incidents == 0
    cov = copy.deepcopy(h.detection)
    for e in cov:
        e["id"] += "-cov"
        e["data"]["detector"] = "coverage"
        e["data"]["incident_id"] = e["subject"] = "inc-coverage"
    both = fold([e for x in hs.values() for e in (*x.detection, *x.actions)] + cov)
    assert review.period(both, min(times), max(times) + 1).coverage_incidents == 1


def test_the_markdown_has_every_section(
        regulatory: tuple[review.Review, IncidentHistory, dict[str, Any]], tmp_path: Path) -> None:
    """review.md: timeline, impact, evidence, response, learning, the reporting clock."""
    from driftline.investigate.review_md import render

    text = render(regulatory[0])
    for section in ("## Timeline", "## Impact", "## Evidence", "## Response", "## Learning",
                    "### Reporting clock"):
        assert section in text
    assert "Time to acknowledge: 10 min" in text
