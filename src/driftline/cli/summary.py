"""The replay summary (``--summary-out``): what was read, judged and raised, and how fast."""

from __future__ import annotations

from typing import Any

from driftline.engine import Engine


def summarize(engine: Engine, elapsed: float) -> dict[str, Any]:
    t = engine.totals
    return {
        "events": t.events_summary(),
        "window": str(engine.spec) if engine.spec else None,
        "time": engine.time.summary(engine.spec),
        "windows_closed": t.windows,
        "incidents": t.incidents_summary(),
        "coverage": engine.detection.coverage.summary(),
        "reference_id": engine.reference.id if engine.reference else None,
        "config_hash": engine.config_hash,
        "elapsed_seconds": round(elapsed, 3),
        "events_per_second": round(t.read / elapsed, 1) if elapsed > 0 else None,
        **({"labels": engine.labels.summary()} if engine.labels is not None else {}),
    }
