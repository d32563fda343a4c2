"""replay's exit codes: a backtest that could not see says why and exits non-zero."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from synth import T0, per_window, stream

from driftline.cli import main
from driftline.cli.outcome import EXIT_BLIND, EXIT_NO_VALID, EXIT_OK


def write(path: Path, messages: list[bytes]) -> str:
    path.write_bytes(b"\n".join(messages) + b"\n")
    return str(path)


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["replay", *args, "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("csv", b"model_id,timestamp,x\nm,2026-02-13T06:00:00Z,1.5\n", "malformed_json"),
    ("array", b'[{"model_id": "m", "timestamp": 1770962400, "features": {"x": 1}}]\n',
     "not_an_object"),
    ("no-offset", b'{"model_id": "m", "timestamp": "2026-02-13T06:00:00", "features": '
     b'{"x": 1}, "prediction": 0.5}\n' * 3, "bad_timestamp"),
])
def test_no_valid_event_exits_3_with_the_reasons_and_an_example(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes,
        reason: str) -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(content)
    code, err = replay(capsys, "--input", str(path))
    assert code == EXIT_NO_VALID == 3
    assert "no valid event" in err and reason in err
    # an example line, without --dead-letter-out
    assert ("model_id,timestamp" if name == "csv" else '"timestamp"') in err


def test_an_empty_input_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    code, err = replay(capsys, "--input", str(path))
    assert code == EXIT_NO_VALID and "no event" in err


def test_an_input_shorter_than_the_warm_up_exits_4(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "short.jsonl", stream(per_window(1, 500), seed=1))
    code, err = replay(capsys, "--input", path, "--window", "1m")
    assert code == EXIT_BLIND == 4
    assert "no window closed" in err and "warm-up" in err


def test_a_reference_of_another_model_exits_4_naming_both(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = write(tmp_path / "ref.jsonl", stream(per_window(2, 1000), seed=2))
    other = [m.replace(b'"model_id":"m"', b'"model_id":"fraud-v2"')
             for m in stream(per_window(6, 1000, start=T0 + 600), seed=3)]
    path = write(tmp_path / "events.jsonl", other)
    summary = tmp_path / "summary.json"
    code, err = replay(capsys, "--input", path, "--reference", ref, "--window", "1m",
                       "--summary-out", str(summary))
    assert code == EXIT_BLIND
    assert "['fraud-v2'] are not in the reference" in err and "['m']" in err
    cov = json.loads(summary.read_text())["coverage"]
    assert cov["models_without_reference"] == {"fraud-v2": 6000}
    assert all(row["evaluated"] == 0 for row in cov["monitors"].values())


def test_windows_too_small_for_every_monitor_exit_4_and_say_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A slow stream in a window far too short: every window holds 20 events."""
    path = write(tmp_path / "slow.jsonl", stream(per_window(12, 20), seed=4))
    code, err = replay(capsys, "--input", path, "--window", "1m")
    assert code == EXIT_BLIND
    assert "insufficient" in err and "min_samples (200)" in err


def test_a_monitor_blind_for_most_windows_is_a_warning_not_a_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """400 events a window: the per-region rate (100 per region) is never judged; the others
    are. Exit 0, a warning that names the monitor."""
    path = write(tmp_path / "events.jsonl", stream(per_window(8, 400), seed=5))
    code, err = replay(capsys, "--input", path, "--window", "1m")
    assert code == EXIT_OK
    assert re.search(r"warning: monitor rate-\w+-by-region was evaluated in 0 of 7 windows "
                     r"\(insufficient 7\)", err)
