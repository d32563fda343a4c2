"""``driftline replay --labels``: the labels joined, a ``labels`` block in the summary, and a
loud warning when labels are given but none joins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labelled import classification

from driftline.cli import main


def write(tmp_path: Path, *, label_id: str = "event_id") -> dict[str, Path]:
    ref = classification(1, 8000, seed=1, size=3600, prefix="r", start=1_770_962_400.0 - 86_400)
    cur = classification(4, 1500, seed=2)
    files = {"ref": tmp_path / "ref.jsonl", "cur": tmp_path / "cur.jsonl",
             "labels": tmp_path / "labels.jsonl", "summary": tmp_path / "summary.json",
             "config": tmp_path / "c.yaml"}
    files["ref"].write_bytes(b"\n".join(ref.events) + b"\n")
    files["cur"].write_bytes(b"\n".join(cur.events) + b"\n")
    labels = [x.replace(b'"event_id"', f'"{label_id}"'.encode()) for x in ref.labels + cur.labels]
    files["labels"].write_bytes(b"\n".join(labels) + b"\n")
    files["config"].write_text("window: {size: 1m}\nlabels: {ttl: 1h}\n")
    return files


def replay(f: dict[str, Path]) -> int:
    return main(["replay", "--input", str(f["cur"]), "--reference", str(f["ref"]), "--labels",
                 str(f["labels"]), "--config", str(f["config"]), "--summary-out",
                 str(f["summary"]), "--quiet"])


def test_replay_joins_the_labels_and_summarises_them(tmp_path: Path) -> None:
    """Every prediction labelled within the TTL; the summary's labels block says so."""
    f = write(tmp_path)
    assert replay(f) == 0
    s = json.loads(f["summary"].read_text())
    labels = s["labels"]
    assert labels["predictions"] == 6000
    assert labels["joined"] + labels["late"] == 6000 and labels["late"] > 0  # delays > 1h
    assert labels["labelled_share"] == round(labels["joined"] / 6000, 6)
    assert labels["orphan"] == 0 and labels["stored"] == 14_000 and labels["ttl_seconds"] == 3600
    assert set(labels["delay_seconds"]) == {"p50", "p90", "p99"}
    assert [w["start"][11:16] for w in labels["by_window"]] == ["06:00", "06:01", "06:02", "06:03"]
    assert sum(w["labelled"] for w in labels["by_window"]) == labels["joined"]
    assert s["coverage"]["monitors"]["error-rate"]["evaluated"] == 4


def test_labels_that_never_join_are_a_warning_on_stderr_and_in_the_summary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Labels under another id field: a warning on stderr; the summary shows none labelled."""
    f = write(tmp_path, label_id="id")
    replay(f)
    err = capsys.readouterr().err
    assert "labels were given but none joined" in err
    s = json.loads(f["summary"].read_text())
    assert s["labels"]["labelled"] == 0 and s["labels"]["invalid_by_reason"] == {
        "missing_field": 14_000}


def test_an_unreadable_labels_file_is_a_usage_error(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """--labels naming no file: a non-zero exit code and a message, no traceback."""
    f = write(tmp_path)
    f["labels"] = tmp_path / "missing.jsonl"
    assert replay(f) != 0
    assert "--labels" in capsys.readouterr().err
