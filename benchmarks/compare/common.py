"""What every tool adapter returns, and how time and memory are measured.

Time: ``time.perf_counter`` around the tool's own work on input it already
holds in its native form (JSON bytes for driftline "decoding included",
decoded ``Batch`` columns for "decoding excluded", pandas frames for evidently
and NannyML, Python floats for river, numpy arrays for scipy). Events/s is
reported as the median over runs; what a run is depends on the tool (the whole
stream, or one window for the stateless per-window tools) and is recorded.

Memory: ``tracemalloc`` peak of the allocations made during one run, above
what was allocated when it started (inputs built before the run are not
counted). tracemalloc sees Python objects and numpy buffers; it does not see
Arrow's memory pool, which driftline's decoder uses for the parse of one batch
(reported once, separately, as the pool's peak). ``resource``'s max RSS was not
used: in one process running five tools it is the high-water mark of whatever
ran before, dominated by imported libraries.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Cell = tuple[str, int]  # (column, window index) or (column, stream index) for per-event tools


@dataclass
class ToolRun:
    """One tool, in one configuration, over one stream."""

    tool: str
    config: str
    stream: str
    alerts: set[Cell] = field(default_factory=set)
    per_event: bool = False  # alerts are (column, event index), not (column, window)
    columns: list[str] = field(default_factory=list)
    windows: list[int] = field(default_factory=list)
    events: int = 0  # events of the monitored stream this run covered
    rates: list[float] = field(default_factory=list)  # events/s per timing run
    run_unit: str = "stream"
    rates_excluded: list[float] = field(default_factory=list)  # driftline: decoding excluded
    rates_decode: list[float] = field(default_factory=list)  # driftline: decoding alone
    peak_bytes: int | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.tool}/{self.config}"

    @property
    def rate(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None

    @property
    def rate_excluded(self) -> float | None:
        return statistics.median(self.rates_excluded) if self.rates_excluded else None

    @property
    def rate_decode(self) -> float | None:
        return statistics.median(self.rates_decode) if self.rates_decode else None

    def summary(self) -> dict[str, Any]:
        return {
            "tool": self.tool, "config": self.config, "stream": self.stream,
            "error": self.error, "per_event": self.per_event, "columns": self.columns,
            "windows": self.windows, "events": self.events,
            "events_per_s": self.rate, "events_per_s_runs": [round(r, 1) for r in self.rates],
            "run_unit": self.run_unit,
            "events_per_s_decoding_excluded": self.rate_excluded,
            "events_per_s_decoding_excluded_runs": [round(r, 1) for r in self.rates_excluded],
            "events_per_s_decode_only": self.rate_decode,
            "peak_bytes_tracemalloc": self.peak_bytes,
            "alerts": sorted([list(c) for c in self.alerts]),
            **({"extra": self.extra} if self.extra else {}),
        }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def traced_peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    """(peak bytes allocated during the call above its start, result), with tracemalloc."""
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was:
            tracemalloc.stop()
    return max(0, peak - base), out
