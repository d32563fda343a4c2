"""check-config judges a config as the engine would build it: every problem, with its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from synth import per_window, stream

from driftline.cli import main
from driftline.config import Config
from driftline.configcheck import check

BASE: dict[str, Any] = {"input": {"numeric_features": ["x"], "categorical_features": ["c"],
                                  "segment_keys": ["region"]}}


def config(**kw: Any) -> Config:
    return Config.model_validate({**BASE, **kw})


def monitor(**kw: Any) -> dict[str, Any]:
    return {"name": "m1", "signal": "feature:x", "detector": "psi", **kw}


@pytest.mark.parametrize(("cfg", "expected"), [
    (config(window={"size": "5m", "hop": "2m"}), "window: window default: size 5m must be a multiple"),
    (config(monitors=[monitor(params={"binz": 10})]),
     "monitors.0 (m1): params: unknown 'binz' for psi; it takes bins"),
    (config(monitors=[monitor(signal="feature:c", detector="ks")]),
     "monitors.0 (m1): detector ks does not take a categorical signal"),
    (config(monitors=[monitor(detector="ks", thresholds={"warning": 0.3, "critical": 0.1})]),
     "monitors.0 (m1).thresholds: warning 0.3 is not before critical 0.1 for ks"),
    (config(monitors=[{"name": "di", "signal": "decision=yes", "detector": "disparate_impact",
                       "segment_by": "region", "thresholds": {"warning": 0.5, "critical": 0.8}}]),
     "monitors.0 (di).thresholds: warning 0.5 is not before critical 0.8 for disparate_impact "
     "(smaller is worse)"),
    (config(monitors=[monitor(window={"size": "1d", "hop": "7h"})]),
     "monitors.0 (m1).window: window m1: size 1d must be a multiple of its hop"),
    (config(window={"size": 5000}, monitors=[monitor(window={"size": "1h"})]),
     "monitors.0 (m1).window: a time window beside a count global window"),
    (config(monitors=[monitor(signal="feature:nope")]),
     "monitors.0 (m1).signal: 'nope' is not a declared feature"),
    (config(monitors=[monitor(segment_by="tier")]),
     "monitors.0 (m1): segment_by 'tier' is not a segment key"),
])
def test_each_problem_is_named_with_its_path(cfg: Config, expected: str) -> None:
    problems = check(cfg).problems
    assert any(p.startswith(expected) for p in problems), problems


def test_a_sound_config_has_no_problem() -> None:
    cfg = config(window={"size": "10m", "hop": "5m"}, monitors=[
        monitor(thresholds={"warning": 0.1, "critical": 0.25}),
        {"name": "di", "signal": "decision=yes", "detector": "disparate_impact",
         "segment_by": "region"},
        monitor(name="day", window={"size": "1d", "hop": "6h"})])
    assert check(cfg).problems == []


def test_every_problem_is_reported_at_once() -> None:
    cfg = config(window={"size": "5m", "hop": "2m"},
                 monitors=[monitor(params={"binz": 1}), monitor(name="m2", detector="ks",
                                                                 signal="feature:c")])
    assert len(check(cfg).problems) == 3


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_the_cli_exits_1_and_prints_what_replay_would_reject(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "c.yaml", "window: {size: 5m, hop: 2m}\n")
    assert main(["check-config", path]) == 1
    assert "size 5m must be a multiple of its hop" in capsys.readouterr().err
    events = tmp_path / "e.jsonl"
    events.write_bytes(b"\n".join(stream(per_window(3, 100))) + b"\n")
    assert main(["replay", "--config", path, "--input", str(events), "--quiet"]) == 1


def test_a_sample_checks_inferred_features_and_lists_the_monitors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(b"\n".join(stream(per_window(3, 100))) + b"\n")
    bad = write(tmp_path / "bad.yaml", "monitors:\n  - {name: x-chi2, signal: 'feature:x', "
                "detector: chi_square}\n")
    assert main(["check-config", bad]) == 0  # the kind of 'x' needs the events
    assert main(["check-config", bad, "--sample", str(events)]) == 1
    assert "detector chi_square does not take a numeric signal" in capsys.readouterr().err
    empty = write(tmp_path / "zero.yaml", "{}\n")
    assert main(["check-config", empty, "--sample", str(events)]) == 0
    out = capsys.readouterr().out
    assert "sample: 300 events, 300 valid" in out and "the zero-config preset's" in out
    assert "ks-x" in out and "volume-by-region" in out


def test_a_sample_of_other_field_names_is_a_problem(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(b'{"model": "m", "ts": 1770962400, "x": 1}\n' * 5)
    cfg = write(tmp_path / "zero.yaml", "{}\n")
    assert main(["check-config", cfg, "--sample", str(events)]) == 1
    assert "no valid event" in capsys.readouterr().err
