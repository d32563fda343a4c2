"""check-config as the engine's judge: build what ``replay`` and ``run`` would build, and say
every problem with its key path — before a stream is read, not after.

Pydantic checks each value; this checks how they fit together, with the engine's own
functions (so they can never disagree): the window and hop arithmetic of the global and of
every monitor's window (``make_group``), each monitor against the events' schema (detector
vs signal kind, detector params, segment keys: ``compile_monitor``), and thresholds in the
order the detector's direction needs. With a sample of events, the schema is the one the
engine would infer from them, and the sample is decoded as ``replay`` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from driftline.config import Config, MonitorConfig, WindowSpec
from driftline.decode.schema import Schema
from driftline.detectors import REGISTRY
from driftline.errors import ConfigError
from driftline.monitors import Monitor, compile_monitor, params_problem
from driftline.windows.groups import DEFAULT, make_group


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check(config: Config, sample: list[bytes] | None = None) -> Report:
    """Every problem of ``config`` (key path first), and notes on what was not checkable."""
    report = Report()
    global_kind = _windows(config, report)
    for i, m in enumerate(config.monitors):
        where = f"monitors.{i} ({m.name})"
        if m.window is not None:
            _window(f"{where}.window", m.name, m.window.size, m.window.hop, global_kind, report)
        _thresholds_sane(where, m, report)
    if sample is not None:
        check_sample(config, sample, report)
    elif config.monitors:
        _monitors_without_sample(config, report)
    return report


def _windows(config: Config, report: Report) -> str | None:
    w = config.window
    if w.size == "auto":
        if w.hop is not None:
            report.notes.append("window.hop with an auto window: the size is chosen from the "
                                "events and must then be a multiple of the hop")
        return None
    return _window("window", DEFAULT, w.size, w.hop, None, report)


def _window(where: str, key: str, size: str | int, hop: str | int | None,
            kind: str | None, report: Report) -> str | None:
    try:
        spec = WindowSpec.parse(size)
        make_group(key, spec, hop)
    except ConfigError as exc:
        report.problems.append(f"{where}: {exc}")
        return None
    if kind is not None and spec.kind != kind:
        report.problems.append(f"{where}: a {spec.kind} window beside a {kind} global window "
                               "(they must be of the same kind)")
    return spec.kind


def _thresholds_sane(where: str, m: MonitorConfig, report: Report) -> None:
    """Thresholds in the order of the detector's direction ("above": warning < critical)."""
    if m.thresholds is None:
        return
    direction = next(iter(REGISTRY[m.detector].values())).direction
    w, c = m.thresholds.warning, m.thresholds.critical
    ok = {"above": w < c, "below": w > c, "both": abs(w) < abs(c)}[direction]
    if not ok:
        worse = {"above": "larger", "below": "smaller", "both": "further from 0"}[direction]
        report.problems.append(
            f"{where}.thresholds: warning {w} is not before critical {c} for {m.detector} "
            f"({worse} is worse)")


def _monitors_without_sample(config: Config, report: Report) -> None:
    """Each monitor against the features the config declares; the others' kinds need events."""
    i = config.input
    declared = i.numeric_features is not None or i.categorical_features is not None
    schema = Schema(tuple(i.numeric_features or ()), tuple(i.categorical_features or ()),
                    tuple(i.segment_keys) if i.segment_keys is not None
                    else tuple({m.segment_by for m in config.monitors if m.segment_by}),
                    i.fields, config.labels.enabled)
    unchecked = []
    for n, m in enumerate(config.monitors):
        feature = m.signal.removeprefix("feature:") if m.signal.startswith("feature:") else None
        if feature is not None and feature not in schema.numeric + schema.categorical:
            if declared:
                report.problems.append(
                    f"monitors.{n} ({m.name}).signal: {feature!r} is not a declared feature "
                    f"(input.numeric_features / input.categorical_features)")
                continue
            unchecked.append(m.name)
            _params_only(n, m, report)
            continue
        compiled(n, m, schema, config, report)
    if unchecked:
        report.notes.append(f"features are inferred from the events: the signal kind of "
                            f"{', '.join(unchecked)} is checked with --sample FILE")


def compiled(n: int, m: MonitorConfig, schema: Schema, config: Config,
             report: Report) -> Monitor | None:
    try:
        return compile_monitor(m, schema, config.detection)
    except ConfigError as exc:
        report.problems.append(f"monitors.{n} ({m.name}): "
                               f"{str(exc).removeprefix(f'monitor {m.name}: ')}")
        return None


def _params_only(n: int, m: MonitorConfig, report: Report) -> None:
    """The params alone, when the signal's kind (so the detector class) needs the events."""
    cls = next(iter(REGISTRY[m.detector].values()))
    try:
        cls(**m.params)
    except (TypeError, ValueError) as exc:
        report.problems.append(f"monitors.{n} ({m.name}).params: "
                               f"{params_problem(cls, m.params, exc)}")


def check_sample(config: Config, sample: list[bytes], report: Report) -> None:
    """The monitors against the schema the engine infers from ``sample``; then the sample
    through the engine, as ``replay`` reads it: what is valid, what the preset would watch."""
    from driftline.engine import Engine
    from driftline.errors import DriftlineError
    from driftline.startup import resolve_schema

    schema = resolve_schema(config, None, sample).schema
    for n, m in enumerate(config.monitors):
        compiled(n, m, schema, config, report)
    if report.problems:
        return
    engine = Engine(config)
    try:
        engine.process(sample)
        engine.finish()
    except DriftlineError as exc:
        report.problems.append(f"sample: {exc}")
        return
    t = engine.totals
    if not t.valid:
        report.problems.append(f"sample: no valid event in {t.read:,}; the commonest reasons: "
                               f"{t.why_invalid()}")
        return
    invalid = sum(n for _, n, _ in t.top_invalid(100))
    report.notes.append(f"sample: {t.read:,} events, {t.valid:,} valid"
                        + (f", invalid: {t.why_invalid()}" if invalid else ""))
    report.notes.append(f"schema: numeric {list(schema.numeric)}, categorical "
                        f"{list(schema.categorical)}, segment keys {list(schema.segments)}")
    which = "the config's" if config.monitors else "the zero-config preset's"
    report.notes.append(f"{len(engine.monitors)} monitors ({which}): "
                        + ", ".join(m.name for m in engine.monitors))
