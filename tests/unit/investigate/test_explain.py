"""explain: the recomputed numbers are the engine's; differences and missing events are told apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from demo_files import Run, context, engine_value

from driftline.investigate import explain
from driftline.investigate.history import window_end
from driftline.investigate.sources import EventsGone

MONITORS = ("region-priority-rate", "region-disparate-impact", "tier-priority-rate",
            "parcel-weight-psi")


@pytest.mark.parametrize("monitor", MONITORS)
def test_every_window_of_the_series_equals_the_engines_finding(warmup_run: Run,
                                                               monitor: str) -> None:
    """Cited windows and the windows around them: value, q-value, level and count as the engine judged."""
    h = warmup_run.opened(monitor)
    ex = explain.explain(h, context(warmup_run, h))
    assert ex.outcome == "reproduced", ex.reason
    assert len(ex.series) >= 3
    for p in ex.series:
        f = engine_value(warmup_run, monitor, h.first["data"]["segment"],
                         window_end({"end": p.end}))
        assert f is not None, f"the engine judged no window ending {p.end}"
        assert (p.value, p.q_value, p.level, p.n_current) == (
            f.evaluation.value, f.q_value, f.level, f.evaluation.n_current), p.end


def test_every_lifecycle_event_is_checked_and_reproduced(warmup_run: Run) -> None:
    """Each detection event of the incident gets its value, counts, p, q and judgement checked."""
    h = warmup_run.opened("region-priority-rate")
    ex = explain.explain(h, context(warmup_run, h))
    checked = {c.event_id for c in ex.checks}
    assert checked == {e["id"] for e in h.detection}
    assert {c.quantity for c in ex.checks} >= {"value", "n_current", "n_reference", "p_value",
                                                "q_value", "judged", "reference_id", "config_hash"}
    assert all(c.ok for c in ex.checks) and ex.reproduced
    assert ex.value_recomputed == ex.value_cited == h.first["data"]["value"]
    assert ex.inputs.reference_used == h.first["data"]["evidence"]["reference_id"]


def test_count_windows_are_recomputed_by_event_index(count_run: Run) -> None:
    """In count windows the cited range's valid events are the window: the value is reproduced."""
    h = next(iter(count_run.histories().values()))
    assert h.first["data"]["window"]["kind"] == "count"
    ex = explain.explain(h, context(count_run, h))
    assert ex.outcome == "reproduced", ex.reason
    for p in ex.series:
        f = engine_value(count_run, ex.monitor, ex.segment, float(p.end))
        assert f is not None and p.value == f.evaluation.value


def test_a_reference_file_is_used_as_replay_used_it(reference_run: Run) -> None:
    """With reference events (replay --reference), the same reference id and the same values."""
    h = reference_run.opened("parcel-weight-psi")
    ex = explain.explain(h, context(reference_run, h))
    assert ex.outcome == "reproduced", ex.reason
    assert ex.inputs.reference_how is not None and "reference events" in ex.inputs.reference_how


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_a_changed_event_inside_the_window_is_not_reproduced(
        warmup_run: Run, copy_of: Callable[[Path], Path]) -> None:
    """Flip decisions of the cited window: recomputed, different, and the difference is stated."""
    h = warmup_run.opened("region-priority-rate")
    pos = h.first["data"]["source_positions"][0]
    path = copy_of(warmup_run.events)
    lines = _lines(path)
    for i in range(pos["first_offset"] + 10, pos["first_offset"] + 1500):
        lines[i - 1] = lines[i - 1].replace(b'"decision":"standard"', b'"decision":"prioritize"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    ex = explain.explain(h, context(warmup_run, h, events=path))
    assert ex.outcome == "differs" and not ex.reproduced
    bad = [c for c in ex.checks if not c.ok]
    assert any(c.quantity == "value" and c.event_type == "opened" for c in bad)
    assert ex.reason is not None and "value of the opened window" in ex.reason


def test_a_shorter_file_means_the_events_are_gone(warmup_run: Run,
                                                  copy_of: Callable[[Path], Path]) -> None:
    """A file that ends before the last cited line is 'gone', never 'not reproduced'."""
    h = warmup_run.opened("region-priority-rate")
    path = copy_of(warmup_run.events)
    lines = _lines(path)
    last = max(e["data"]["source_positions"][0]["last_offset"] for e in h.detection)
    path.write_bytes(b"\n".join(lines[: last - 5]) + b"\n")
    ctx = context(warmup_run, h, events=path)
    with pytest.raises(EventsGone, match="lines up to"):
        explain.explain(h, ctx)


def test_a_cited_boundary_that_is_no_event_of_its_window_means_the_file_changed(
        warmup_run: Run, copy_of: Callable[[Path], Path]) -> None:
    """The first cited line replaced: that position no longer holds an event of the window."""
    h = warmup_run.opened("parcel-weight-psi")
    pos = h.first["data"]["source_positions"][0]
    path = copy_of(warmup_run.events)
    lines = _lines(path)
    lines[pos["first_offset"] - 1] = b"{not an event"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(EventsGone, match="changed since"):
        explain.explain(h, context(warmup_run, h, events=path))


def test_another_reference_is_not_reproduced_for_that_stated_reason(
        warmup_run: Run, reference_run: Run) -> None:
    """The warm-up incident explained against another reference: the reference id is the reason."""
    h = warmup_run.opened("parcel-weight-psi")
    other = Run(warmup_run.events, warmup_run.incidents, [], warmup_run.config,
                reference=reference_run.reference)
    ex = explain.explain(h, context(other, h))
    assert ex.outcome == "differs"
    assert any(c.quantity == "reference_id" and not c.ok for c in ex.checks)
    assert ex.reason is not None and "--reference" in ex.reason


def test_gone_keeps_the_incidents_own_account(warmup_run: Run) -> None:
    """Without events, the report still has the cited series, and nothing recomputed."""
    h = warmup_run.opened("region-priority-rate")
    ex = explain.gone(h, "retention", context(warmup_run, h).inputs)
    assert ex.outcome == "events_gone" and not ex.reproduced and ex.value_recomputed is None
    assert [p.value for p in ex.series] == [e["data"]["value"] for e in h.detection]
    assert "cannot be read back" in ex.summary


def test_a_sequential_detectors_judgement_is_the_incidents_for_cited_windows_only(
        creep_run: Run) -> None:
    """Gradual drift: values recomputed everywhere; levels only where the incident cites a window."""
    h = creep_run.opened("score-creep")
    ex = explain.explain(h, context(creep_run, h))
    assert ex.outcome == "reproduced", ex.reason and ex.notes
    for p in ex.series:
        f = engine_value(creep_run, "score-creep", {}, window_end({"end": p.end}))
        assert f is not None and p.value == f.evaluation.value
        if p.cited:
            assert p.level == (0 if p.cited == ["resolved"] else f.level)
        else:
            assert p.level is None
    assert not any(c.quantity == "judged" for c in ex.checks)
