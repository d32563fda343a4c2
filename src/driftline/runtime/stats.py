"""What a run counts and reports: the counters of this process, the exit summary, and the
consumer lag and position gauges."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftline.io.kafka_source import KafkaSource
from driftline.metrics import Metrics
from driftline.runtime.part import Part
from driftline.totals import Totals


@dataclass
class Stats:
    """This process's counters: the ``kafka`` part of the summary (a restart starts at 0)."""

    consumed: int = 0
    commits: int = 0
    failed_commits: int = 0
    incidents_published: int = 0
    dead_letters_published: int = 0
    restored: int = 0
    checkpoint_invalid: Counter[str] = field(default_factory=Counter)
    input_resets: Counter[str] = field(default_factory=Counter)
    first_message: float | None = None
    started: float = field(default_factory=time.monotonic)


def summary(stats: Stats, held: Mapping[int, Part], *, group_id: str, input_topic: str,
            transactional_id: str, producer_recreated: int,
            placement: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Totals over the partitions ``held`` (restored state included) and this run's counters."""
    total = Totals()
    per_partition = {}
    for p, part in sorted(held.items()):
        t = part.engine.totals
        total = total + t
        per_partition[str(p)] = {"read": t.read, "valid": t.valid, "windows": t.windows,
                                 "next_offset": part.next_offset}
    s = stats
    elapsed = time.monotonic() - (s.first_message or s.started)
    return {
        "events": total.events_summary(),
        "windows_closed": total.windows,
        "incidents": total.incidents_summary(),
        "partitions": per_partition,
        "kafka": {"group_id": group_id, "input_topic": input_topic,
                  "transactional_id": transactional_id,
                  "consumed_this_run": s.consumed, "commits": s.commits,
                  "failed_commits": s.failed_commits,
                  "incidents_published": s.incidents_published,
                  "dead_letters_published": s.dead_letters_published,
                  "partitions_restored": s.restored,
                  "checkpoint_invalid": dict(s.checkpoint_invalid),
                  "input_resets": dict(s.input_resets),
                  "producer_recreated": producer_recreated,
                  "placement": dict(placement or {})},
        "elapsed_seconds": round(elapsed, 3),
    }


def update_lag(metrics: Metrics, source: KafkaSource, parts: Mapping[int, Part]) -> None:
    """Each held partition's position, and its lag behind the high watermark last fetched."""
    for p, part in parts.items():
        pos = part.position
        if pos is None:
            continue
        metrics.consumer_position.labels(source.topic, str(p)).set(pos)
        hi = source.high_watermark(p)
        if hi is not None:
            metrics.consumer_lag.labels(source.topic, str(p)).set(max(0, hi - pos))


def forget_lag(metrics: Metrics, topic: str, p: int) -> None:
    """A partition no longer held leaves no stale lag or position series behind."""
    for gauge in (metrics.consumer_lag, metrics.consumer_position):
        with contextlib.suppress(KeyError):
            gauge.remove(topic, str(p))
