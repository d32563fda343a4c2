"""Config: every error reported with its path, env overrides, valid shipped configs, no unknown keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from driftline.cli import main
from driftline.config import Config, WindowSpec, duration_text, load_config, parse_duration
from driftline.errors import ConfigError

ROOT = Path(__file__).parents[2]

SEVERAL_ERRORS = """\
instance: demo
window:
  size: 5 minutes
  lateness: soon
bogus_top: 1
detection:
  fdr_alpha: 2
  min_samples: 0
monitors:
  - name: Bad Name
    signal: feature:x
    detector: psi
  - name: rate-on-a-score
    signal: prediction
    detector: segment_rate
  - name: half-thresholds
    signal: prediction
    detector: psi
    thresholds: {warning: 0.1}
    colour: red
"""
EXPECTED_PATHS = ["window.size", "window.lateness", "detection.fdr_alpha",
                  "detection.min_samples", "monitors.0.name", "monitors.1",
                  "monitors.2.thresholds.critical", "monitors.2.colour", "bogus_top"]


@pytest.fixture(autouse=True)
def _no_driftline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from a clean environment: no DRIFTLINE_ variable leaks in."""
    for name in [n for n in os.environ if n.startswith("DRIFTLINE_")]:
        monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_config_prints_every_error_with_its_path(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Nine independent mistakes give nine lines, each naming the file and the field's path."""
    path = write(tmp_path, SEVERAL_ERRORS)
    assert main(["check-config", str(path)]) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(EXPECTED_PATHS)
    for line, loc in zip(lines, EXPECTED_PATHS, strict=True):
        assert line.startswith(f"{path}: {loc}: "), line


def test_check_config_accepts_a_valid_file(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A valid file exits 0 and says ok with its monitor count and config hash."""
    assert main(["check-config", str(ROOT / "configs" / "demo.yaml")]) == 0
    out = capsys.readouterr().out
    assert "ok (13 monitors, config sha256:" in out


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_shipped_configs_validate(name: str) -> None:
    """Every config in configs/ loads and validates."""
    cfg = load_config(ROOT / "configs" / name)
    assert isinstance(cfg, Config)


def test_the_packaged_demo_config_is_the_repository_one() -> None:
    """The demo config inside the package (used by `driftline demo`) equals configs/demo.yaml."""
    packaged = ROOT / "src" / "driftline" / "configs" / "demo.yaml"
    assert packaged.read_text() == (ROOT / "configs" / "demo.yaml").read_text()
    assert load_config(packaged).monitors[0].name == "region-priority-rate"


def test_the_labelled_demo_config_is_demo_yaml_with_the_labels_layer() -> None:
    """demo-labels.yaml (the demo's default) is demo.yaml plus labels and performance
    monitors, nothing else: the two cannot drift apart; its packaged copy is the same."""
    packaged = ROOT / "src" / "driftline" / "configs" / "demo-labels.yaml"
    assert packaged.read_text() == (ROOT / "configs" / "demo-labels.yaml").read_text()
    plain, labelled = load_config(ROOT / "configs" / "demo.yaml"), load_config(packaged)
    assert labelled.labels.enabled and not plain.labels.enabled
    n = len(plain.monitors)
    assert labelled.monitors[:n] == plain.monitors
    assert {m.signal for m in labelled.monitors[n:]} == {"error", "precision", "recall"}
    same = {"labels", "monitors"}
    assert labelled.model_dump(exclude=same) == plain.model_dump(exclude=same)


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """DRIFTLINE_WINDOW__SIZE beats the YAML's window.size; the file's other window keys stay."""
    monkeypatch.setenv("DRIFTLINE_WINDOW__SIZE", "10m")
    cfg = load_config(ROOT / "configs" / "demo.yaml")
    assert cfg.window.size == "10m"
    assert cfg.window.lateness == "30s"
    assert len(cfg.monitors) == 13


def test_environment_overrides_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a file, env variables set nested fields of the defaults."""
    monkeypatch.setenv("DRIFTLINE_WINDOW__SIZE", "5000")
    monkeypatch.setenv("DRIFTLINE_DETECTION__MIN_SAMPLES", "50")
    cfg = load_config()
    assert (cfg.window.size, cfg.detection.min_samples) == ("5000", 50)
    assert WindowSpec.parse(cfg.window.size) == WindowSpec(kind="count", size=5000)


def test_an_invalid_environment_value_is_reported_with_its_path(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad DRIFTLINE_ value fails check-config naming the field it sets."""
    monkeypatch.setenv("DRIFTLINE_WINDOW__SIZE", "bogus")
    assert main(["check-config", str(ROOT / "configs" / "demo.yaml")]) != 0
    assert "window.size: " in capsys.readouterr().err


def test_the_environment_changes_the_config_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest incidents cite covers env overrides, and is stable for equal configs."""
    base = load_config(ROOT / "configs" / "demo.yaml").digest()
    assert load_config(ROOT / "configs" / "demo.yaml").digest() == base
    monkeypatch.setenv("DRIFTLINE_WINDOW__SIZE", "10m")
    assert load_config(ROOT / "configs" / "demo.yaml").digest() != base


@pytest.mark.parametrize("text", [
    "windows:\n  size: 5m\n",
    "window:\n  sise: 5m\n",
    "detection:\n  fdr: 0.05\n",
    "monitors:\n  - {name: a, signal: prediction, detector: psi, treshold: 1}\n",
    "input:\n  fields:\n    time: ts\n",
    "monitors:\n  - {name: a, signal: prediction, detector: psi,"
    " remediation: {playbook: [retrain], pager: x}}\n",
])
def test_unknown_keys_are_rejected_at_every_level(tmp_path: Path, text: str) -> None:
    """A misspelt key anywhere is an error ('Extra inputs are not permitted'), not silently ignored."""
    with pytest.raises(ConfigError, match="Extra inputs are not permitted"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(("text", "message"), [
    ("- just\n- a list\n", "top level must be a mapping"),
    ("window: [unclosed\n", "config.yaml"),
    ("monitors:\n  - {name: a, signal: prediction, detector: psi}\n"
     "  - {name: a, signal: decision, detector: chi_square}\n", "monitor names must be unique"),
    ("monitors:\n  - {name: a, signal: 'feature x', detector: psi}\n", "unknown signal"),
    ("monitors:\n  - {name: a, signal: volume, detector: segment_volume}\n", "needs segment_by"),
    ("monitors:\n  - {name: a, signal: prediction, detector: psi,"
     " thresholds: {warning: 1, critical: 1}}\n", "must differ"),
    ("monitors:\n  - {name: a, signal: score_label, detector: auc,"
     " thresholds: {warning: 0.02, critical: 0.05}}\n", "a drop is negative"),
    ("monitors:\n  - {name: a, signal: prediction, detector: auc}\n", "read signal: score_label"),
    ("monitors:\n  - {name: a, signal: score_label, detector: psi}\n", "read by them only"),
])
def test_invalid_configs_say_why(tmp_path: Path, text: str, message: str) -> None:
    """Malformed YAML, a non-mapping, duplicate names and inconsistent monitors are ConfigErrors."""
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_a_missing_file_is_an_error_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config on a path that does not exist exits non-zero with the path in the message."""
    missing = tmp_path / "nope.yaml"
    assert main(["check-config", str(missing)]) != 0
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("30s", 30.0), ("15m", 900.0), ("1h", 3600.0), ("1.5h", 5400.0),
    ("2d", 172800.0), ("4w", 2419200.0), (" 5m ", 300.0), (90, 90.0)])
def test_durations(text: str | int, seconds: float) -> None:
    """Durations read as seconds: ms, s, m, h, d, w; plain numbers are seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "0.5s"), (30.0, "30s"), (900.0, "15m"), (5400.0, "90m"), (86400.0, "1d"),
    (2419200.0, "28d"), (90.5, "90.5s")])
def test_durations_print_in_the_largest_unit_that_divides_them(seconds: float, text: str) -> None:
    """A window of 28 days reads '28d', not '2.4192e+06s'; the text parses back."""
    assert duration_text(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m5", "", "-5m", "5y"])
def test_invalid_durations(text: str) -> None:
    """Anything else is refused."""
    with pytest.raises(ValueError):
        parse_duration(text)


def test_window_specs() -> None:
    """A digit string or int is an event count, anything else a duration; counts must be positive."""
    assert WindowSpec.parse("5000") == WindowSpec(kind="count", size=5000)
    assert WindowSpec.parse(200) == WindowSpec(kind="count", size=200)
    assert WindowSpec.parse("15m") == WindowSpec(kind="time", size=900)
    assert str(WindowSpec.parse("15m")) == "15m" and str(WindowSpec.parse(5)) == "5 events"
    with pytest.raises(ValueError):
        WindowSpec.parse(0)


def test_direction_narrows_a_two_sided_detector_with_signed_thresholds() -> None:
    """direction: below on a rate difference: a drop of the warning's magnitude breaches, a
    rise never does; on a one-sided detector it is a config error."""
    from driftline.config import DetectionConfig, MonitorConfig
    from driftline.decode import Schema
    from driftline.errors import ConfigError
    from driftline.monitors import compile_monitor

    schema = Schema(("x",), (), ("region",))
    m = compile_monitor(MonitorConfig(name="r", signal="decision=a", detector="segment_rate",
                                      segment_by="region", direction="below",
                                      thresholds={"warning": 0.05, "critical": 0.1}),
                        schema, DetectionConfig())
    assert (m.direction, m.warning, m.critical) == ("below", -0.05, -0.1)
    assert [m.level(v) for v in (0.3, 0.0, -0.05, -0.2)] == [0, 0, 1, 2]
    up = compile_monitor(MonitorConfig(name="u", signal="decision=a", detector="segment_rate",
                                       segment_by="region", direction="above"),
                         schema, DetectionConfig())
    assert up.level(-1.0) == 0 and up.level(1.0) == 2
    with pytest.raises(ConfigError, match="one-sided already"):
        compile_monitor(MonitorConfig(name="v", signal="volume", detector="segment_volume",
                                      segment_by="region", direction="above"),
                        schema, DetectionConfig())
