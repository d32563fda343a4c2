"""explain, incident and review on the command line: files in, files out, exit codes, one-line errors.

A short demo stream is replayed once (`driftline replay`, the warm-up as reference); each test
works on a copy of its incident file.
"""

from __future__ import annotations

import functools
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from driftline import demo
from driftline.cli import main
from driftline.logging import configure

ROOT = Path(__file__).parents[3]
CONFIG = str(ROOT / "configs" / "demo.yaml")
SCENARIO = dict(windows=12, warmup=4, region_start=5, region_ramp=2, region_end=9, unit_start=9,
                unit_end=11, creep_start=40)


@pytest.fixture(autouse=True)
def _logs_to_the_real_stderr() -> Iterator[None]:
    """main() points structlog at sys.stderr, here capsys's: point it back once that is closed."""
    yield
    configure("info")


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("investigate-cli")
    events = d / "events.jsonl"
    events.write_bytes(b"\n".join(m for _, ms in demo.stream(7, demo.Scenario(**SCENARIO))
                                  for m in ms) + b"\n")
    assert main(["replay", "--input", str(events), "--config", CONFIG, "--incidents-out",
                 str(d / "incidents.jsonl"), "--quiet"]) == 0
    return {"events": events, "incidents": d / "incidents.jsonl"}


@pytest.fixture
def incidents(replayed: dict[str, Path], tmp_path: Path) -> Path:
    out = tmp_path / "incidents.jsonl"
    out.write_bytes(replayed["incidents"].read_bytes())
    return out


def opened(path: Path, monitor: str) -> dict[str, Any]:
    for line in path.read_text().splitlines():
        ev = json.loads(line)
        if ev["type"].endswith(".opened") and ev["data"]["monitor"] == monitor:
            return dict(ev)
    raise AssertionError(monitor)


def explain(incident: str, incidents: Path, events: Path, out: Path, *extra: str) -> int:
    return main(["explain", incident, "--incidents", str(incidents), "--input", str(events),
                 "--config", CONFIG, "--out", str(out), *extra])


def test_explain_exits_0_and_writes_a_valid_json_and_a_self_contained_page(
        replayed: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reproduced: exit 0, explain.json valid against its schema, figures inline in index.html."""
    inc = opened(replayed["incidents"], "region-priority-rate")["subject"]
    assert explain(inc[:14], replayed["incidents"], replayed["events"], tmp_path / "x") == 0
    assert "reproduced" in capsys.readouterr().out
    data = json.loads((tmp_path / "x" / "explain.json").read_text())
    jsonschema.validate(data, json.loads((ROOT / "docs/schemas/explain.schema.json").read_text()))
    assert data["reproduced"] is True and data["incident_id"] == inc
    page = (tmp_path / "x" / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3
    assert "http://" not in page.replace('href="http', "") and "<script" not in page


def test_explain_tells_a_difference_from_events_that_are_gone(
        replayed: dict[str, Path], incidents: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A changed window exits 3 with the difference; a truncated file exits 4."""
    ev = opened(incidents, "region-priority-rate")
    pos = ev["data"]["source_positions"][0]
    lines = replayed["events"].read_bytes().splitlines()
    changed = list(lines)
    for i in range(pos["first_offset"], pos["first_offset"] + 2000):
        changed[i] = changed[i].replace(b'"standard"', b'"prioritize"')
    (tmp_path / "changed.jsonl").write_bytes(b"\n".join(changed) + b"\n")
    assert explain(ev["subject"], incidents, tmp_path / "changed.jsonl", tmp_path / "a") == 3
    err = capsys.readouterr().err
    assert "not reproduced" in err and "value of the opened window" in err
    (tmp_path / "short.jsonl").write_bytes(b"\n".join(lines[: pos["last_offset"] - 1]) + b"\n")
    assert explain(ev["subject"], incidents, tmp_path / "short.jsonl", tmp_path / "b") == 4
    assert "events gone" in capsys.readouterr().err
    gone = json.loads((tmp_path / "b" / "explain.json").read_text())
    assert gone["outcome"] == "events_gone" and (tmp_path / "b" / "index.html").exists()


@pytest.mark.parametrize("argv,code,text", [
    (["--input", "/nonexistent.jsonl"], 1, "cannot read the events"),
    ([], 2, "pass that file (--input)"),
])
def test_explain_errors_are_one_line(incidents: Path, tmp_path: Path, argv: list[str], code: int,
                                     text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing events file is an error (1), a missing --input a usage error (2): one line each."""
    inc = opened(incidents, "parcel-weight-psi")["subject"]
    assert main(["explain", inc, "--incidents", str(incidents), "--config", CONFIG, "--out",
                 str(tmp_path / "o"), *argv]) == code
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if ": error: " in x and x.startswith("driftline")]
    assert text in line and "Traceback" not in err


@pytest.mark.parametrize("content,text", [(None, "cannot read the incidents"),
                                          (b'{"broken\n', "incidents.jsonl:1: not JSON"),
                                          (b'{"type": "x"}\n', "not a driftline incident")])
def test_a_missing_or_corrupt_incident_file_is_one_error_line(
        tmp_path: Path, content: bytes | None, text: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every command reading incidents says what is wrong with the file in one line, exit 1."""
    path = tmp_path / "incidents.jsonl"
    if content is not None:
        path.write_bytes(content)
    for argv in (["incident", "list"], ["incident", "ack", "inc-1", "--by", "a"],
                 ["review", "inc-1", "--out", str(tmp_path / "r")]):
        assert main([*argv, "--incidents", str(path)]) == 1
        err = capsys.readouterr().err
        (line,) = [x for x in err.splitlines() if x.startswith("driftline: error: ")]
        assert text in line and "Traceback" not in err


def state(incidents: Path, inc: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["incident", "show", inc, "--incidents", str(incidents), "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_ack_note_close_round_trip_through_the_file(incidents: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Each action is appended and read back: status, who, what was said; list shows it."""
    inc = opened(incidents, "parcel-weight-psi")["subject"]
    assert state(incidents, inc, capsys)["status"] == "open"
    assert main(["incident", "ack", inc, "--incidents", str(incidents), "--by", "alice"]) == 0
    s = state(incidents, inc, capsys)
    assert s["status"] == "acknowledged" and s["acknowledged"]["by"] == "alice"
    assert s["acknowledged"]["principal"]["kind"] == "os_user"
    assert main(["incident", "note", inc, "--incidents", str(incidents), "--by", "bob",
                 "--note", "lb instead of kg"]) == 0
    assert main(["incident", "close", inc, "--incidents", str(incidents), "--by", "alice",
                 "--root-cause", "unit change upstream", "--actions", "fixed the unit",
                 "reprocessed"]) == 0
    s = state(incidents, inc, capsys)
    assert (s["status"], s["detection_status"]) == ("closed", "open")
    assert s["notes"][0]["note"] == "lb instead of kg"
    assert s["closed"]["root_cause"] == "unit change upstream"
    assert s["closed"]["actions"] == ["fixed the unit", "reprocessed"]
    assert main(["incident", "list", "--incidents", str(incidents), "--json"]) == 0
    listed = {json.loads(x)["incident_id"]: json.loads(x)["status"]
              for x in capsys.readouterr().out.splitlines()}
    assert listed[inc] == "closed" and "open" in listed.values()
    assert main(["incident", "ack", inc, "--incidents", str(incidents), "--by", "carol"]) == 1
    assert "was closed by alice" in capsys.readouterr().err


def test_the_same_action_at_the_same_time_is_recorded_once(
        incidents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A retried `incident ack … --at T` exits 0 and adds no second line."""
    inc = opened(incidents, "parcel-weight-psi")["subject"]
    argv = ["incident", "ack", inc, "--incidents", str(incidents), "--by", "alice", "--at",
            "2026-02-13T07:00:00Z"]
    before = len(incidents.read_text().splitlines())
    assert main(argv) == 0 and main(argv) == 0
    assert "already recorded" in capsys.readouterr().out
    assert len(incidents.read_text().splitlines()) == before + 1


def test_replay_keeps_the_actions_and_rewrites_the_detection_events(
        replayed: dict[str, Path], incidents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A replay into the same file: detection events once (not twice), every action still there."""
    inc = opened(incidents, "parcel-weight-psi")["subject"]
    detection = replayed["incidents"].read_bytes()
    assert main(["incident", "ack", inc, "--incidents", str(incidents), "--by", "alice"]) == 0
    assert main(["incident", "note", inc, "--incidents", str(incidents), "--by", "alice",
                 "--note", "looking"]) == 0
    actions = [x for x in incidents.read_bytes().splitlines(keepends=True)
               if x not in detection.splitlines(keepends=True)]
    assert len(actions) == 2
    assert main(["replay", "--input", str(replayed["events"]), "--config", CONFIG,
                 "--incidents-out", str(incidents), "--quiet"]) == 0
    assert incidents.read_bytes() == b"".join(actions) + detection
    assert state(incidents, inc, capsys)["status"] == "acknowledged"


def test_review_writes_markdown_and_schema_valid_json(
        replayed: dict[str, Path], incidents: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """review with --explain: review.json valid, reproduced read from explain.json; --period too."""
    inc = opened(incidents, "region-priority-rate")["subject"]
    assert explain(inc, incidents, replayed["events"], tmp_path / "ex") == 0
    assert main(["review", inc, "--incidents", str(incidents), "--explain", str(tmp_path / "ex"),
                 "--out", str(tmp_path / "rv"), "--now", "2026-02-14T00:00:00Z"]) == 0
    data = json.loads((tmp_path / "rv" / "review.json").read_text())
    jsonschema.validate(data, json.loads((ROOT / "docs/schemas/review.schema.json").read_text()))
    assert data["evidence"]["explain_reproduced"] is True
    assert "## Learning" in (tmp_path / "rv" / "review.md").read_text()
    assert main(["review", "--period", "30d", "--incidents", str(incidents), "--now",
                 "2026-02-14T00:00:00Z", "--out", str(tmp_path / "p")]) == 0
    period = json.loads((tmp_path / "p" / "period-review.json").read_text())
    n_opened = sum(1 for x in incidents.read_text().splitlines() if '.incident.opened"' in x)
    assert period["incidents"] == n_opened
    assert main(["review", "--out", str(tmp_path / "q"), "--incidents", str(incidents)]) == 2


def test_the_demo_prints_an_explain_command_that_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`demo --events-out --labels-out` ends with a `driftline explain` line that joins the
    demo's labels; run as printed, it exits 0. Without the labels file (or the events) the
    demo says which files explain needs."""
    monkeypatch.setattr(demo, "Scenario", functools.partial(demo.Scenario, **SCENARIO))
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--fast", "--metrics-port", "0", "--incidents-out", "inc.jsonl",
                 "--events-out", "events.jsonl", "--labels-out", "labels.jsonl"]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("explain the first incident: ")]
    argv = shlex.split(line.split(": ", 1)[1])
    assert argv[:2] == ["driftline", "explain"] and argv[argv.index("--labels") + 1] == \
        "labels.jsonl"
    assert main(argv[1:]) == 0
    assert main(["demo", "--fast", "--metrics-port", "0", "--incidents-out", "inc.jsonl",
                 "--events-out", "events.jsonl"]) == 0
    assert "run the demo with --incidents-out FILE --events-out FILE --labels-out FILE" in \
        capsys.readouterr().out
    assert main(["demo", "--fast", "--metrics-port", "0", "--incidents-out", "inc.jsonl",
                 "--config", CONFIG]) == 0  # demo.yaml: no labels layer, no labels file asked
    out = capsys.readouterr().out
    assert "run the demo with --incidents-out FILE --events-out FILE:" in out
