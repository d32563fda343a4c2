"""The command line: replay (file and stdin), reference build, schemas — files in, files out, exit codes.

A shortened demo stream (region drift early, unit change after it) is written as
JSON lines: the first four windows as reference events, the rest as the replay input
with bad lines planted at known line numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from driftline import demo
from driftline.cli import main

ROOT = Path(__file__).parents[3]
CONFIG = str(ROOT / "configs" / "demo.yaml")
SCENARIO = demo.Scenario(windows=12, warmup=4, region_start=5, region_ramp=2, region_end=9,
                         unit_start=9, unit_end=11, creep_start=40)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """reference.jsonl (windows 0–3), current.jsonl (4–11, bad lines planted), full.jsonl (all)."""
    d = tmp_path_factory.mktemp("cli")
    windows = [ms for _, ms in demo.stream(7, SCENARIO)]
    reference = [m for ms in windows[:4] for m in ms]
    current = [m for ms in windows[4:] for m in ms]
    old = orjson.loads(windows[1][0])
    future = orjson.loads(windows[6][0])
    future["timestamp"] += 10 * 86400
    planted = {  # 1-based line number in the output file → (line, reason)
        3: (b"{not json", "malformed_json"),
        10: (b"", "malformed_json"),
        500: (b'{"model_id": "routing", "timestamp": 1770964000, "features": {}, '
              b'"prediction": NaN}', "non_finite"),
        2_000: (b'{"model_id": "routing", "features": {}, "prediction": 0.5}', "missing_field"),
        9_000: (b"[1, 2]", "not_an_object"),
        20_000: (orjson.dumps(old), "late"),
        25_000: (orjson.dumps(future), "bad_timestamp"),
        30_000: (orjson.dumps({**old, "model_id": "mystery", "timestamp": future["timestamp"]
                               - 10 * 86400}), "unknown_model"),
    }
    out = list(current)
    for number in sorted(planted):
        out.insert(number - 1, planted[number][0])
    (d / "reference.jsonl").write_bytes(b"\n".join(reference) + b"\n")
    (d / "current.jsonl").write_bytes(b"\n".join(out) + b"\n")
    (d / "full.jsonl").write_bytes(b"\n".join([*reference, *current]) + b"\n")
    return {"dir": d, "planted": planted, "n_current": len(out)}


def replay(files: dict[str, Any], name: str, *extra: str) -> tuple[int, Path]:
    out = files["dir"] / name
    out.mkdir(exist_ok=True)
    code = main(["replay", "--input", str(files["dir"] / "current.jsonl"), "--config", CONFIG,
                 "--incidents-out", str(out / "incidents.jsonl"),
                 "--summary-out", str(out / "summary.json"),
                 "--dead-letter-out", str(out / "dead.jsonl"), "--quiet", *extra])
    return code, out


def test_replay_with_bad_lines_exits_0_and_writes_incidents_summary_dead_letters(
        files: dict[str, Any]) -> None:
    """Bad lines do not stop a replay: it exits 0, dead-letters each with its line, and reports."""
    code, out = replay(files, "plain", "--reference", str(files["dir"] / "reference.jsonl"))
    assert code == 0
    incidents = lines(out / "incidents.jsonl")
    assert incidents and all(e["specversion"] == "1.0" for e in incidents)
    dead = lines(out / "dead.jsonl")
    planted = files["planted"]
    assert {d["position"]: d["reason"] for d in dead} == {n: r for n, (_, r) in planted.items()}
    for d in dead:
        assert d["raw"]["text"].encode() == planted[d["position"]][0]
        assert d["source"] == "file" and d["detail"]


def test_the_summary_accounts_for_every_line(files: dict[str, Any]) -> None:
    """The summary names read/valid/invalid (by reason)/late/windows/incidents/timing, and adds up."""
    _, out = replay(files, "summary", "--reference", str(files["dir"] / "reference.jsonl"))
    s = json.loads((out / "summary.json").read_text())
    ev = s["events"]
    assert ev["read"] == files["n_current"]
    assert ev["read"] == ev["valid"] + ev["invalid"] + ev["late"]
    assert ev["late"] == 1 and ev["invalid"] == len(files["planted"]) - 1
    assert ev["invalid_by_reason"] == Counter(r for _, r in files["planted"].values())
    assert s["windows_closed"] >= 7
    assert s["incidents"]["opened"]
    assert sum(s["incidents"]["opened"].values()) == sum(
        1 for e in lines(out / "incidents.jsonl") if e["type"].endswith(".opened"))
    assert s["elapsed_seconds"] > 0 and s["events_per_second"] > 0
    assert s["reference_id"].startswith("sha256:") and s["config_hash"].startswith("sha256:")


def test_replay_from_stdin_equals_replay_from_the_file(files: dict[str, Any],
                                                      tmp_path: Path) -> None:
    """`--input -` reads the same lines from stdin and writes the same incidents and dead letters."""
    _, by_file = replay(files, "file", "--reference", str(files["dir"] / "reference.jsonl"))
    data = (files["dir"] / "current.jsonl").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "driftline.cli", "replay", "--input", "-", "--config", CONFIG,
         "--reference", str(files["dir"] / "reference.jsonl"),
         "--incidents-out", str(tmp_path / "incidents.jsonl"),
         "--dead-letter-out", str(tmp_path / "dead.jsonl"), "--summary-out",
         str(tmp_path / "summary.json")],
        input=data, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    from_stdin, from_file = lines(tmp_path / "incidents.jsonl"), lines(by_file / "incidents.jsonl")
    cited = [p for e in from_stdin for p in e["data"]["source_positions"]]
    assert cited and all(p["source"] == "stdin" and p["path"] is None for p in cited)
    for e in from_stdin:  # the same events, cited as stdin rather than as the file
        e["data"]["source_positions"] = [
            dict(p, source="file", path=str(files["dir"] / "current.jsonl"))
            for p in e["data"]["source_positions"]]
    assert from_stdin == from_file
    assert (tmp_path / "dead.jsonl").read_bytes() == (by_file / "dead.jsonl").read_bytes()
    summary = json.loads(done.stderr.decode()[done.stderr.decode().index("{"):])
    assert summary["events"]["read"] == files["n_current"]


def test_reference_profile_and_reference_events_give_the_same_incidents(
        files: dict[str, Any]) -> None:
    """`reference build` then `replay --reference profile.json` equals `replay --reference events`."""
    profile = files["dir"] / "profile.json"
    assert main(["reference", "build", "--input", str(files["dir"] / "reference.jsonl"),
                 "--config", CONFIG, "--out", str(profile)]) == 0
    code_a, a = replay(files, "with-profile", "--reference", str(profile))
    code_b, b = replay(files, "with-events", "--reference", str(files["dir"] / "reference.jsonl"))
    assert code_a == code_b == 0
    incidents = (a / "incidents.jsonl").read_bytes()
    assert incidents and incidents == (b / "incidents.jsonl").read_bytes()
    ref_id = json.loads(profile.read_text())["id"]
    assert {e["data"]["evidence"]["reference_id"] for e in lines(a / "incidents.jsonl")} == {ref_id}


def test_replay_without_a_reference_warms_up_and_detects_the_injected_drifts(
        files: dict[str, Any], tmp_path: Path) -> None:
    """With no reference, the first windows are the warm-up and the planted drifts are found."""
    code = main(["replay", "--input", str(files["dir"] / "full.jsonl"), "--config", CONFIG,
                 "--incidents-out", str(tmp_path / "i.jsonl"), "--quiet"])
    assert code == 0
    opened = {(e["data"]["monitor"], tuple(e["data"]["segment"].items()))
              for e in lines(tmp_path / "i.jsonl") if e["type"].endswith(".opened")}
    assert ("region-priority-rate", (("region", "south"),)) in opened
    assert {("parcel-weight-psi", ()), ("parcel-weight-ks", ())} <= opened


def test_a_count_window_from_the_command_line(files: dict[str, Any], tmp_path: Path) -> None:
    """`--window 5000` replays in count windows: incident windows are named by event counts."""
    code = main(["replay", "--input", str(files["dir"] / "full.jsonl"), "--config", CONFIG,
                 "--window", "5000", "--incidents-out", str(tmp_path / "i.jsonl"),
                 "--summary-out", str(tmp_path / "s.json"), "--quiet"])
    assert code == 0
    assert json.loads((tmp_path / "s.json").read_text())["window"] == "5000 events"
    for e in lines(tmp_path / "i.jsonl"):
        w = e["data"]["window"]
        assert w["kind"] == "count" and int(w["end"]) - int(w["start"]) == 5000


def test_a_replay_incident_cites_the_file_lines_that_reproduce_its_statistic(
        files: dict[str, Any], tmp_path: Path) -> None:
    """Positions name the file and line range; replaying those lines gives the same statistic."""
    current = files["dir"] / "current.jsonl"
    _, out = replay(files, "cited", "--reference", str(files["dir"] / "reference.jsonl"))
    opened = [e for e in lines(out / "incidents.jsonl") if e["type"].endswith(".opened")
              and e["data"]["monitor"] == "parcel-weight-psi"]
    assert opened, "the unit change must open parcel-weight-psi"
    data = opened[0]["data"]
    (pos,) = data["source_positions"]
    assert pos["source"] == "file" and pos["path"] == str(current)
    assert 1 <= pos["first_offset"] < pos["last_offset"]
    cited = current.read_bytes().splitlines()[pos["first_offset"] - 1:pos["last_offset"]]
    end = datetime.fromisoformat(data["window"]["end"]).timestamp()
    # a block of events past the window's end, so that the re-read window closes: the input
    # ends there, and only where the bulk of the stream has passed does a window close
    closer = orjson.loads(cited[-1])
    closer["timestamp"] = end + 60
    only = tmp_path / "cited.jsonl"
    only.write_bytes(b"\n".join([*cited, *[orjson.dumps(closer)] * 64]) + b"\n")
    config = yaml.safe_load(Path(CONFIG).read_text())
    config["monitors"] = [m for m in config["monitors"] if m["name"] == "parcel-weight-psi"]
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(config))
    again = tmp_path / "again.jsonl"
    assert main(["replay", "--input", str(only), "--config", str(tmp_path / "one.yaml"),
                 "--reference", str(files["dir"] / "reference.jsonl"), "--window", "5m",
                 "--incidents-out", str(again), "--quiet"]) == 0
    same = [e["data"] for e in lines(again)
            if e["data"]["window"] == data["window"] and e["type"].endswith(".opened")]
    assert same and same[0]["value"] == pytest.approx(data["value"], rel=1e-12)
    assert same[0]["counts"] == data["counts"]


@pytest.mark.parametrize(("content", "says"), [
    (b'{"format": "driftline.reference/2", "models": {', "invalid JSON"),
    (b'{"format": "driftline.reference/2"}', "not a valid reference profile"),
    (b'{"format": "driftline.reference/2", "models": [], "n_events": 0, "decoder": {}}',
     "not a valid reference profile"),
], ids=["truncated", "no-models", "wrong-shape"])
def test_a_corrupt_reference_profile_is_one_clear_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str) -> None:
    """A truncated or malformed profile ends in one error line naming the file, no traceback."""
    (tmp_path / "ref.json").write_bytes(content)
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["replay", "--input", str(tmp_path / "empty.jsonl"),
                 "--reference", str(tmp_path / "ref.json")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("driftline: error: ")]
    assert str(tmp_path / "ref.json") in line and says in line


@pytest.mark.parametrize("args", [
    ["replay", "--input", "{tmp}/empty.jsonl", "--config", "{tmp}/bad.yaml"],
    ["replay", "--input", "{tmp}/missing.jsonl"],
    ["replay", "--input", "{tmp}/empty.jsonl", "--reference", "{tmp}/missing.json"],
    ["replay", "--input", "{tmp}/empty.jsonl", "--incidents-out", "{tmp}/empty.jsonl/x"],
    ["reference", "build", "--input", "{tmp}/missing.jsonl", "--out", "{tmp}/p.json"],
], ids=["bad-config", "missing-input", "missing-reference", "unwritable-output",
        "missing-reference-input"])
def test_errors_the_user_can_fix_exit_1_with_a_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    """A bad config or a missing/unwritable file exits 1 with 'driftline: error:', not a traceback."""
    (tmp_path / "bad.yaml").write_text("window: {size: soon}\n")
    (tmp_path / "empty.jsonl").write_text("")
    assert main([a.format(tmp=tmp_path) for a in args]) == 1
    assert "driftline: error: " in capsys.readouterr().err


# -- schemas --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schemas")
    assert main(["schemas", "--out", str(out)]) == 0
    return out


def test_schemas_writes_valid_json_schemas(schemas: Path) -> None:
    """`schemas --out DIR` writes every contract, each a valid JSON Schema (2020-12)."""
    names = sorted(p.name for p in schemas.iterdir())
    assert names == ["action-event.schema.json", "config.schema.json", "explain.schema.json",
                     "incident-event.schema.json", "period-review.schema.json",
                     "prediction-event.schema.json", "review.schema.json"]
    for name in names:
        jsonschema.Draft202012Validator.check_schema(json.loads((schemas / name).read_text()))


def test_every_demo_incident_validates_against_the_incident_schema(
        schemas: Path, tmp_path: Path) -> None:
    """Each CloudEvent the demo emits is valid for incident-event.schema.json."""
    out = tmp_path / "demo.jsonl"
    assert main(["demo", "--fast", "--metrics-port", "0", "--incidents-out", str(out)]) == 0
    events = lines(out)
    assert len(events) >= 6
    validator = jsonschema.Draft202012Validator(
        json.loads((schemas / "incident-event.schema.json").read_text()))
    for e in events:
        errors = [f"{list(err.path)}: {err.message}" for err in validator.iter_errors(e)]
        assert not errors, errors


def test_demo_events_validate_against_the_prediction_schema(schemas: Path) -> None:
    """The events the demo generates are valid for prediction-event.schema.json."""
    validator = jsonschema.Draft202012Validator(
        json.loads((schemas / "prediction-event.schema.json").read_text()))
    _, messages = next(demo.stream(7, SCENARIO))
    for m in messages[:500]:
        assert not list(validator.iter_errors(orjson.loads(m)))


def test_the_shipped_configs_validate_against_the_config_schema(schemas: Path) -> None:
    """configs/*.yaml are valid for config.schema.json (what editors use to check them)."""
    validator = jsonschema.Draft202012Validator(
        json.loads((schemas / "config.schema.json").read_text()))
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        errors = [f"{list(e.path)}: {e.message}"
                  for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, (path.name, errors)


@pytest.mark.parametrize("choice", ["python", "auto"])
def test_version_names_the_decoder(choice: str, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``driftline --version`` says which decoder runs: the native one where it is installed."""
    from driftline.decode import native

    monkeypatch.setenv("DRIFTLINE_DECODER", choice)
    with pytest.raises(SystemExit):
        main(["--version"])
    want = "python" if choice == "python" or not native.available() else "native"
    assert capsys.readouterr().out.strip() == f"driftline 0.1.0 (decoder: {want})"


def test_python_dash_m_driftline_is_the_command_line() -> None:
    """`python -m driftline` runs the CLI, as `driftline` and `python -m driftline.cli` do."""
    import os
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[3] / "src"
    out = subprocess.run([sys.executable, "-m", "driftline", "--version"], check=True,
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(src)})
    assert out.stdout.startswith("driftline ")
