"""A short demo stream replayed as `driftline replay` does, with every finding the engine judged.

Not a test module: the investigation tests import it (``from demo_files import ...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from synth import record_findings

from driftline import demo
from driftline.config import Config, load_config
from driftline.engine import Engine
from driftline.incidents import Finding
from driftline.investigate import explain, history, rebuild, recompute, sources
from driftline.investigate.models import Inputs
from driftline.io.files import JsonLinesSink, file_origin, read_batches

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "configs" / "demo.yaml"
SCENARIO = demo.Scenario(windows=12, warmup=4, region_start=5, region_ramp=2, region_end=9,
                         unit_start=9, unit_end=11, creep_start=40)

# the creep alone: PageHinkley needs a dozen clean windows before it to open an incident
CREEP = demo.Scenario(windows=28, warmup=4, region_start=99, region_end=99, unit_start=99,
                      unit_end=99, creep_start=16)


@dataclass
class Run:
    """One replay: its input, incident file, the engine's findings and what explain needs."""

    events: Path
    incidents: Path
    findings: list[Finding]
    config: Config
    window: str | int | None = None
    reference: Path | None = None

    def histories(self) -> dict[str, history.IncidentHistory]:
        return history.fold(orjson.loads(x) for x in self.incidents.read_bytes().splitlines())

    def opened(self, monitor: str) -> history.IncidentHistory:
        return next(h for h in self.histories().values() if h.first["data"]["monitor"] == monitor)


def write_stream(path: Path, windows: list[list[bytes]]) -> Path:
    path.write_bytes(b"\n".join(m for w in windows for m in w) + b"\n")
    return path


def demo_windows() -> list[list[bytes]]:
    return [ms for _, ms in demo.stream(7, SCENARIO)]


def replay(events: Path, out: Path, *, window: str | int | None = None,
           reference: Path | None = None) -> Run:
    """What `driftline replay` does (batches of 10,000 lines), recording every finding."""
    config = load_config(CONFIG)
    ref, ref_events = (None, None)
    if reference is not None:
        from driftline.reference import load_reference

        ref, ref_events = load_reference(reference)
    engine = Engine(config, reference=ref, reference_events=ref_events, window=window,
                    origin=file_origin(events))
    found = record_findings(engine)
    sink = JsonLinesSink(out)
    for lines, numbers in read_batches(events, 10_000):
        sink.write(engine.process(lines, numbers).incidents)
    sink.write(engine.finish().incidents)
    sink.close()
    return Run(events, out, found, config, window, reference)


def context(run: Run, h: history.IncidentHistory, *, events: Path | None = None,
            context_windows: int = 2) -> explain.Context:
    """explain's Context for an incident of ``run``, the reference obtained as the CLI does."""
    path = events or run.events
    data = h.first["data"]
    if run.reference is not None:
        rebuilt = rebuild.from_file(run.config, str(run.reference))
    else:
        batches = (sources.Events(lines, numbers) for lines, numbers in read_batches(path, 10_000))
        from driftline.investigate.wiring import window_arg

        rebuilt = rebuild.from_warmup(run.config, window_arg(run.config, data), batches,
                                      file_origin(path), str(path))
    setup = recompute.Setup.of(run.config, rebuilt.reference)

    def read(lo: int, hi: int, cited: tuple[int, int]) -> sources.Events:
        return sources.file_lines(path, max(lo, 1), hi, cited[1])

    inputs = Inputs(incidents=str(run.incidents), events={"source": "file", "path": str(path)},
                    reference_cited=data["evidence"]["reference_id"],
                    reference_used=rebuilt.reference.id, reference_how=rebuilt.how,
                    config=str(CONFIG), config_hash_cited=data["evidence"]["config_hash"],
                    config_hash_used=setup.config_hash, driftline_version="test")
    return explain.Context(setup, read, file_origin(path), inputs, context_windows, rebuilt.cut)


def engine_value(run: Run, monitor: str, segment: dict[str, str], end: float) -> Any:
    """The finding the engine judged for (monitor, segment) in the window ending at ``end``."""
    for f in run.findings:
        if f.monitor.name == monitor and f.segment == segment and f.window.end == end:
            return f
    return None
