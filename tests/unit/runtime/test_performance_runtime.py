"""The performance layer's runtime without a broker: what it holds until the labels are
final, and what a rewind does to it (a failed transaction must not skip what was held)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
from kafka_fakes import FakeSink

from driftline.config import Config, KafkaConfig, LabelsConfig
from driftline.engine import Engine
from driftline.io.checkpoint import Checkpoint, encode
from driftline.io.kafka_sink import TransactionError
from driftline.io.kafka_source import PartitionBatch
from driftline.metrics import Metrics
from driftline.runtime import Part
from driftline.runtime.performance import PerformanceRuntime
from driftline.runtime.rewind import rewind

T0 = 1_770_962_400.0


class Source:
    """The consumer calls the performance runtime makes, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.c = SimpleNamespace(
            pause=lambda tps: self.calls.append(("pause", tps[0].partition)),
            resume=lambda tps: self.calls.append(("resume", tps[0].partition)),
            consumer_group_metadata=lambda: None)
        self.settings: dict[str, Any] = {}

    def seek(self, p: int, offset: int) -> None:
        self.calls.append(("seek", p, offset))


def batch(lo: int, hi: int) -> PartitionBatch:
    values = [orjson.dumps({"model_id": "m", "timestamp": T0 + i, "features": {"x": 1.0},
                            "prediction": 0.5, "event_id": f"e{i}"}) for i in range(lo, hi)]
    return PartitionBatch(0, values, np.arange(lo, hi, dtype=np.int64),
                          [SimpleNamespace(key=lambda: b"k")] * (hi - lo))


def runtime(tmp_path: Path) -> tuple[PerformanceRuntime, Source, Part]:
    cfg = Config(kafka=KafkaConfig(), labels=LabelsConfig(enabled=True, ttl="60s",
                                                          lateness="60s"))
    rt = PerformanceRuntime(cfg, labels_topic="labels", store=tmp_path / "s.sqlite",
                            metrics=Metrics())
    src = Source()
    rt.source = src  # type: ignore[assignment]
    rt.sink = FakeSink(TransactionError("abortable", "boom"))  # type: ignore[assignment]
    part = rt.parts[0] = Part(0, Engine(rt.config, layer="performance"), 0, None, None)
    rt.labels.partitions = {0}
    return rt, src, part


def test_predictions_wait_for_the_labels_watermark(tmp_path: Path) -> None:
    """Labels' watermark at T0 + 110.5 (latest label T0 + 170.5, lateness 60 s): with a TTL
    of 60 s the predictions stamped below T0 + 50.5 are fed, the rest held, the partition
    paused; labels that move on release the rest and resume it."""
    rt, src, part = runtime(tmp_path)
    rt.labels.positions[0] = (10, T0 + 170.5)
    rt._accept(0, batch(0, 100))
    assert part.next_offset == 51 and rt.held[0].offsets[0] == 51
    assert ("pause", 0) in src.calls
    rt.labels.positions[0] = (10, T0 + 1000)
    rt._release(0)
    assert part.next_offset == 100 and 0 not in rt.held and src.calls[-1] == ("resume", 0)


def test_a_rewind_drops_what_was_held_so_nothing_is_skipped(tmp_path: Path) -> None:
    """Fed up to 51, held 51..99, then a failed transaction rewinds to the checkpoint at 20:
    the held messages are dropped and the partition resumed, so the re-delivery from 20 feeds
    all 80 events (held ones fed onto the state at 20 would skip 20..50)."""
    rt, src, part = runtime(tmp_path)
    rt.labels.positions[0] = (10, T0 + 170.5)
    rt._accept(0, batch(0, 100))
    part.base_offset, part.base_blob = 20, encode(Checkpoint(
        20, Engine(rt.config, layer="performance").snapshot(),
        {"group": rt.group, "topic": rt.topic, "partition": 0}))
    rewind(rt)
    assert 0 not in rt.held and ("seek", 0, 20) in src.calls and src.calls[-2:] == [
        ("resume", 0), ("seek", 0, 20)]
    rt.labels.positions[0] = (10, T0 + 1000)
    rt._accept(0, batch(20, 100))
    assert part.next_offset == 100 and part.engine.totals.read == 80
