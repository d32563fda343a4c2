"""Small synthetic prediction streams for unit tests: seeded, contract-shaped, fast to build.

Not a test module: imported by the tests beside it (``from synth import ...``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import orjson

from driftline.incidents import Finding

T0 = 1_770_962_400.0  # 2026-02-13T06:00:00Z, the demo's start
REGIONS = ("north", "south", "east", "west")


def event(t: float | str, *, x: float = 0.0, model: str = "m", prediction: float = 0.5,
          region: str | None = "north", decision: str | None = None, **extra: Any) -> bytes:
    """One encoded prediction event."""
    body: dict[str, Any] = {"model_id": model, "timestamp": t, "features": {"x": x},
                            "prediction": prediction}
    if region is not None:
        body["segments"] = {"region": region}
    if decision is not None:
        body["decision"] = decision
    body.update(extra)
    return orjson.dumps(body)


def stream(times: Iterable[float], seed: int = 0, *, shift: float = 0.0,
           shift_region: str | None = None) -> list[bytes]:
    """Events at ``times``: x ~ N(0, 1) (+ ``shift`` for ``shift_region``, or for all if None)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in times:
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        x = float(rng.normal())
        if shift and (shift_region is None or region == shift_region):
            x += shift
        p = float(1 / (1 + np.exp(-x)))
        out.append(event(float(t), x=x, region=region, prediction=p,
                         decision="prioritize" if p >= 0.5 else "standard"))
    return out


def per_window(windows: int, n: int, size: float = 60.0, start: float = T0) -> list[float]:
    """``n`` evenly spaced event times in each of ``windows`` consecutive windows of ``size``."""
    return [start + w * size + (j + 0.5) * size / n for w in range(windows) for j in range(n)]


def split(items: Sequence[Any], cuts: Iterable[int]) -> list[list[Any]]:
    """``items`` cut at the given indices into consecutive non-empty batches."""
    edges = [0, *sorted(set(c for c in cuts if 0 < c < len(items))), len(items)]
    return [list(items[a:b]) for a, b in itertools.pairwise(edges) if b > a]


def record_findings(engine: Any, coverage: bool = False) -> list[Finding]:
    """Every finding the engine judges from now on (all windows and segments, clean ones too),
    coverage findings left out (``coverage=True`` keeps only those).

    The engine is switched to a finding per segment (``every_finding``): by default a
    segmented monitor's clean segments without an incident are judged as columns only.
    """
    engine.detection.every_finding = True
    seen: list[Finding] = []
    observe: Callable[[Finding], list[dict[str, Any]]] = engine.incidents.observe

    def spy(finding: Finding) -> list[dict[str, Any]]:
        if (finding.evaluation.detector == "coverage") == coverage:
            seen.append(finding)
        return observe(finding)

    engine.incidents.observe = spy
    return seen


def run_engine(engine: Any, batches: Iterable[list[bytes]]) -> list[dict[str, Any]]:
    """Feed batches with stream-wide positions (as sources do), finish, return incident events."""
    events: list[dict[str, Any]] = []
    offset = 0
    for batch in batches:
        events += engine.process(batch, np.arange(offset, offset + len(batch))).incidents
        offset += len(batch)
    events += engine.finish().incidents
    return events


def rounded(value: Any) -> Any:
    """Incident events with floats to 9 significant digits (summation order aside)."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.9g}")
    return value
