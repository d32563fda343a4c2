"""What a newcomer reads: each error once and clearly, usage errors, human durations.

Every test captures what the command line prints (stderr and stdout) and checks its text.
"""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path

import pytest

from driftline.cli import LOG_LEVELS, main
from driftline.config import duration_text, parse_duration


def drifting_stream(path: Path, n: int = 6000, shift_at: int = 3000) -> Path:
    """Events one minute apart; feature ``x`` shifts by 2 sd at ``shift_at`` (PSI and KS open)."""
    rng = random.Random(3)
    with path.open("w") as fh:
        for i in range(n):
            x = rng.gauss(2.0 if i >= shift_at else 0.0, 1.0)
            fh.write(json.dumps({"event_id": str(i), "model_id": "m",
                                 "timestamp": 1_767_225_600 + 60 * i,
                                 "features": {"x": x}, "prediction": rng.random()}) + "\n")
    return path


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


# -- 1. an error is printed once ------------------------------------------------------------------
def test_an_error_is_printed_once_not_as_a_log_line_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--input", str(tmp_path / "missing.jsonl")]) == 1
    err = capsys.readouterr().err
    (line,) = error_lines(err)  # before: a JSON log line {"event": "failed", …} and this one
    assert line.startswith("driftline: error: ") and "missing.jsonl" in line


def test_a_config_error_with_several_problems_is_one_prefixed_line_per_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("window: {size: soon, lateness: never}\n")
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["replay", "--input", str(tmp_path / "empty.jsonl"),
                 "--config", str(tmp_path / "bad.yaml")]) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 2
    assert all(x.startswith("driftline: error: window.") for x in lines)


# -- 2. --log-level -------------------------------------------------------------------------------
def test_an_unknown_log_level_is_a_usage_error_listing_the_valid_ones(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--log-level", "verbose", "schemas", "--out", "unused"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "'verbose'" in err
    assert all(f"'{level}'" in err for level in LOG_LEVELS)


@pytest.mark.parametrize("level", ["debug", "WARNING", "Error"])
def test_the_valid_log_levels_in_any_case_are_accepted(tmp_path: Path, level: str) -> None:
    assert main(["--log-level", level, "schemas", "--out", str(tmp_path)]) == 0


# -- 3. the metrics port --------------------------------------------------------------------------
def test_a_metrics_port_in_use_names_the_address_and_port_and_suggests_port_0(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--fast", "--metrics-port", str(port)]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert f"127.0.0.1:{port}" in line and "address already in use" in line
    assert "--metrics-port" in line and "0 picks a free one" in line


# -- 4. environment overrides ---------------------------------------------------------------------
def test_an_invalid_environment_override_names_the_variable_not_the_file(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRIFTLINE_WINDOW__SIZE", "abc")
    config = str(Path(__file__).parents[3] / "configs" / "demo.yaml")
    assert main(["check-config", config]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("environment variable DRIFTLINE_WINDOW__SIZE: window.size: ")
    assert "demo.yaml" not in line and "'abc'" in line


def test_an_invalid_environment_override_in_replay_names_the_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("driftline_detection__fdr_alpha", "2")  # read case-insensitively
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["replay", "--input", str(tmp_path / "empty.jsonl")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("driftline: error: environment variable "
                           "driftline_detection__fdr_alpha: detection.fdr_alpha: ")


def test_a_problem_of_the_file_is_still_the_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRIFTLINE_WINDOW__SIZE", "15m")  # valid: not blamed
    (tmp_path / "bad.yaml").write_text("window: {lateness: never}\n")
    assert main(["check-config", str(tmp_path / "bad.yaml")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"{tmp_path / 'bad.yaml'}: window.lateness: ")


# -- 5. durations ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("seconds", "text"), [
    (2_592_000, "30d"), (3600, "1h"), (300, "5m"), (90, "90s"), (0.5, "0.5s"),
    (1.5, "1.5s"), (2_592_000.5, "2592000.5s"), (1e-4, "0.0001s")])
def test_durations_are_spelled_as_window_accepts_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_the_summary_of_a_30_day_window_says_30d(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = drifting_stream(tmp_path / "events.jsonl", n=600)
    assert main(["replay", "--input", str(stream), "--window", "30d",
                 "--summary-out", str(tmp_path / "s.json")]) in (0, 4)
    out = capsys.readouterr()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["window"] == "30d" and summary["time"]["window"] == "30d"
    assert "e+0" not in out.err + out.out


def test_explain_rebuilds_a_30_day_window_with_a_duration_replay_accepts() -> None:
    from driftline.config import Config
    from driftline.investigate.wiring import window_arg

    data = {"monitor": "m", "window": {"kind": "time", "start": "2026-01-01T00:00:00Z",
                                       "end": "2026-01-31T00:00:00Z"}}
    assert window_arg(Config(), data) == "30d"  # was '2.592e+06s', which --window refuses


# -- 6. --incidents-out and the console -----------------------------------------------------------
@pytest.fixture(scope="module")
def drifting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return drifting_stream(tmp_path_factory.mktemp("drift") / "events.jsonl")


def test_replay_prints_incident_lines_also_with_incidents_out(
        drifting: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "incidents.jsonl"
    assert main(["replay", "--input", str(drifting), "--window", "1000",
                 "--incidents-out", str(out_file)]) == 0
    console = [x for x in capsys.readouterr().out.splitlines() if " OPENED " in x]
    written = [json.loads(x) for x in out_file.read_text().splitlines()]
    opened = [e for e in written if e["type"].endswith(".opened")]
    assert opened and len(console) == len(opened)


def test_quiet_silences_the_console_but_writes_the_file(
        drifting: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "incidents.jsonl"
    assert main(["replay", "--input", str(drifting), "--window", "1000", "--quiet",
                 "--incidents-out", str(out_file)]) == 0
    assert capsys.readouterr().out == ""
    assert out_file.read_text().strip()


def test_replay_help_says_what_incidents_out_and_quiet_do(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "written as well as the console's incident lines" in text
    assert "--quiet no incident lines" in text


# -- 7. a corrupt reference profile ---------------------------------------------------------------
@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory, drifting: Path) -> Path:
    out = tmp_path_factory.mktemp("profile") / "ref.json"
    assert main(["reference", "build", "--input", str(drifting), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(("cut", "says"), [
    (0.1, "invalid JSON"), (0.5, "invalid JSON"), (0.99, "invalid JSON"),
    ("v1", "format driftline.reference/1, this driftline reads driftline.reference/2"),
    ("no-models", "models: Field required"),
    ("bad-sketch", "not a valid reference profile"),
])
def test_a_corrupt_or_truncated_profile_is_one_line_naming_the_file(
        profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: float | str,
        says: str) -> None:
    data = profile.read_bytes()
    bad = tmp_path / "ref.json"
    if isinstance(cut, float):
        bad.write_bytes(data[:int(len(data) * cut)])
    elif cut == "v1":
        bad.write_text('{"format": "driftline.reference/1"}')
    elif cut == "no-models":
        bad.write_text('{"format": "driftline.reference/2"}')
    else:
        obj = json.loads(data)
        obj.pop("id")
        model = next(iter(obj["models"].values()))
        next(iter(model.values()))["counts"] = "many"
        bad.write_text(json.dumps(obj))
    capsys.readouterr()
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["replay", "--input", str(tmp_path / "empty.jsonl"),
                 "--reference", str(bad)]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"driftline: error: {bad}: ") and says in line
