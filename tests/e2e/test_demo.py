"""End to end: `driftline demo` finds the four injected failures, raises no false alarm, replays identically.

The demo runs as a user runs it (a subprocess of the installed command), twice, and once
``--clean``; the checks read the scenario's own schedule (``Scenario().describe()``), not
hard-coded times. The label-only failure (concept drift in the east region) must be opened by
performance monitors, and by them alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from driftline.demo import Scenario
from driftline.events import IncidentEvent
from driftline.timestamps import iso

SCENARIO = Scenario()
WINDOW = 300.0
DETECTION_LAG = 3  # windows an opening may trail its failure's end (ramps, lateness, hysteresis)
PERFORMANCE = {"error", "precision", "recall"}  # the signals of the performance layer


@dataclass(frozen=True)
class Run:
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    incidents: bytes


def command() -> list[str]:
    script = Path(sys.executable).with_name("driftline")
    if script.exists():
        return [str(script)]
    found = shutil.which("driftline")
    return [found] if found else [sys.executable, "-m", "driftline.cli"]


def run_demo(out: Path, *flags: str) -> Run:
    t0 = time.perf_counter()
    done = subprocess.run([*command(), "demo", "--fast", "--metrics-port", "0",
                           "--incidents-out", str(out), *flags],
                          capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - t0
    return Run(done.returncode, seconds, done.stdout, done.stderr,
               out.read_bytes() if out.exists() else b"")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    d = tmp_path_factory.mktemp("demo")
    return run_demo(d / "first.jsonl"), run_demo(d / "second.jsonl")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_demo(tmp_path_factory.mktemp("clean") / "incidents.jsonl", "--clean")


@pytest.fixture(scope="module")
def events(runs: tuple[Run, Run]) -> list[dict[str, Any]]:
    assert runs[0].returncode == 0, runs[0].stderr[-3000:]
    return [json.loads(line) for line in runs[0].incidents.decode().splitlines()]


def opened(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == "io.driftline.incident.opened"]


def failure(name: str) -> tuple[str, str]:
    """[start, end) of an injected failure as ISO times, from the scenario's schedule."""
    (first, end), = [(a, b) for n, a, b in SCENARIO.describe() if n.startswith(name)]
    return iso(SCENARIO.window_start(first)), iso(SCENARIO.window_start(end))


def test_the_demo_exits_0_within_a_minute(runs: tuple[Run, Run]) -> None:
    """`driftline demo --fast --metrics-port 0` exits 0 in under 60 s and says what it did."""
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.seconds < 60
        assert "injected failures:" in run.stdout and "done:" in run.stdout
        assert "metrics: http://127.0.0.1:" in run.stdout


def test_the_labels_come_late_and_most_of_them_join(runs: tuple[Run, Run]) -> None:
    """The demo says its labels are delayed, and at the end how many joined: ~89% of the
    predictions (a tenth never labelled, ~1% later than the 6 h TTL)."""
    out = runs[0].stdout
    assert "labels: a separate stream joined by event_id" in out and "TTL 6.0 h" in out
    (line,) = [x for x in out.splitlines() if x.startswith("labels: ") and "labelled (" in x]
    share = float(line.split("labelled (", 1)[1].split("%", 1)[0])
    late = int(line.split("), ", 1)[1].split(" late", 1)[0])
    assert 85 < share < 92 and late > 0


def test_the_concept_drift_is_opened_by_the_performance_layer_for_east(
        events: list[dict[str, Any]]) -> None:
    """error-rate-by-region opens for region=east in a window of the label-only failure."""
    start, end = failure("concept-drift")
    hits = [d for d in opened(events) if d["monitor"] == "error-rate-by-region"
            and start <= d["window"]["start"] < end]
    assert [d["segment"] for d in hits] == [{"region": "east"}]


def test_only_performance_monitors_open_during_the_concept_drift(
        events: list[dict[str, Any]]) -> None:
    """Inputs, scores and decisions do not change: from the label-only failure's start to
    DETECTION_LAG windows after its end, every opening is a performance monitor's, and none
    of those opens in the other failures' windows for east."""
    start, end = failure("concept-drift")
    until = iso(datetime.fromisoformat(end).timestamp() + DETECTION_LAG * WINDOW)
    during = [d for d in opened(events) if start <= d["window"]["start"] < until]
    assert during and {d["signal"] for d in during} <= PERFORMANCE
    east = [d["window"]["start"] for d in opened(events)
            if d["signal"] in PERFORMANCE and d["segment"] == {"region": "east"}]
    assert east and all(start <= t < until for t in east)


def test_the_clean_demo_with_labels_opens_nothing(clean: Run) -> None:
    """`driftline demo --clean`, labels on: no incident at all, every label joined as usual."""
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert "clean stream: no failure injected" in clean.stdout
    assert "predictions labelled" in clean.stdout
    assert clean.incidents == b""


def test_the_region_failure_is_detected_for_south(events: list[dict[str, Any]]) -> None:
    """region-priority-rate opens for region=south after the region failure starts."""
    start, end = failure("region-deprioritized")
    hits = [d for d in opened(events) if d["monitor"] == "region-priority-rate"]
    assert [d["segment"] for d in hits] == [{"region": "south"}]
    assert start <= hits[0]["window"]["start"] < end


def test_the_unit_change_is_detected_by_psi_and_ks(events: list[dict[str, Any]]) -> None:
    """parcel-weight-psi and parcel-weight-ks both open after the unit change starts."""
    start, end = failure("unit-change")
    hits = {d["monitor"]: d for d in opened(events) if d["signal"] == "feature:parcel_weight"}
    assert set(hits) == {"parcel-weight-psi", "parcel-weight-ks"}
    for d in hits.values():
        assert start <= d["window"]["start"] < end


def test_the_score_creep_is_detected(events: list[dict[str, Any]]) -> None:
    """score-creep opens after the creep starts."""
    start, _ = failure("score-creep")
    hits = [d for d in opened(events) if d["monitor"] == "score-creep"]
    assert hits and all(d["window"]["start"] >= start for d in hits)


def test_no_incident_opens_before_the_first_failure(events: list[dict[str, Any]]) -> None:
    """The clean period before region_start opens nothing."""
    first_failure = iso(SCENARIO.window_start(SCENARIO.region_start))
    early = [(d["monitor"], d["window"]["start"]) for d in opened(events)
             if d["window"]["start"] < first_failure]
    assert early == []


def test_every_opening_belongs_to_an_injected_failure(events: list[dict[str, Any]]) -> None:
    """No false alarm anywhere: each opened window lies within a failure (or just after its end)."""
    spans = [(iso(SCENARIO.window_start(a)), iso(SCENARIO.window_start(b) + DETECTION_LAG * WINDOW))
             for _, a, b in SCENARIO.describe()]
    stray = [(d["monitor"], d["segment"], d["window"]["start"]) for d in opened(events)
             if not any(lo <= d["window"]["start"] < hi for lo, hi in spans)]
    assert stray == []


def test_every_line_is_a_valid_cloudevent(events: list[dict[str, Any]]) -> None:
    """Each line is a CloudEvents 1.0 incident valid for the model and its JSON Schema."""
    validator = jsonschema.Draft202012Validator(IncidentEvent.model_json_schema())
    assert events
    for e in events:
        IncidentEvent.model_validate(e)
        assert not [err.message for err in validator.iter_errors(e)]
        assert e["specversion"] == "1.0" and e["datacontenttype"] == "application/json"
        assert e["source"] == "driftline/demo" and e["subject"] == e["data"]["incident_id"]
    assert len({e["id"] for e in events}) == len(events)


def test_two_runs_write_identical_files(runs: tuple[Run, Run]) -> None:
    """Ids and contents derive from the data, not the clock: a second run is byte-identical."""
    first, second = runs
    assert first.incidents and first.incidents == second.incidents


def test_incident_positions_are_the_generators_running_offsets(events: list[dict[str, Any]],
                                                               ) -> None:
    """Positions cite the generator's stream-wide offsets: later windows, later offsets."""
    from driftline import demo

    per_window = [len(ms) for _, ms in demo.stream(7, SCENARIO)]
    starts = [sum(per_window[:w]) for w in range(len(per_window) + 1)]
    for d in opened(events):
        (pos,) = d["source_positions"]
        assert pos["source"] == "generator" and pos["partition"] is None
        w = int((datetime.fromisoformat(d["window"]["start"]).timestamp() - SCENARIO.window_start(0))
                // WINDOW)
        # the window's events were generated with it (a few, up to 5 s late, with the one before)
        assert starts[w - 1] <= pos["first_offset"] < starts[w] < pos["last_offset"] < starts[w + 1]
