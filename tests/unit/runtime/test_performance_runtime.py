"""The performance layer's runtime without a broker: what it holds until the labels are
final, and what a rewind does to it (a failed transaction must not skip what was held)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
from confluent_kafka import KafkaException, TopicPartition
from kafka_fakes import FakeSink

from driftline.config import Config, KafkaConfig, LabelsConfig
from driftline.engine import Engine
from driftline.io.checkpoint import Checkpoint, encode
from driftline.io.kafka_sink import TransactionError
from driftline.io.kafka_source import PartitionBatch
from driftline.metrics import Metrics
from driftline.runtime import Part
from driftline.runtime.performance import FLOOR_KEY, PerformanceRuntime, floor_of
from driftline.runtime.rewind import rewind
from driftline.windows.watermark import Watermark

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


def at_mark(rt: PerformanceRuntime, mark: float) -> None:
    """The labels partition 0's watermark at ``mark`` (as its labels would have moved it)."""
    clock = rt.labels.clocks.setdefault(0, Watermark(rt.labels.lateness))
    clock.mark = mark


def test_predictions_wait_for_the_labels_watermark(tmp_path: Path) -> None:
    """Labels' watermark at T0 + 110.5: with a TTL of 60 s the predictions stamped below
    T0 + 50.5 are fed, the rest held, the partition paused; labels that move on release the
    rest and resume it."""
    rt, src, part = runtime(tmp_path)
    at_mark(rt, T0 + 110.5)
    rt._accept(0, batch(0, 100))
    assert part.next_offset == 51 and rt.held[0].offsets[0] == 51
    assert ("pause", 0) in src.calls
    at_mark(rt, T0 + 940.0)
    rt._release(0)
    assert part.next_offset == 100 and 0 not in rt.held and src.calls[-1] == ("resume", 0)


def test_a_rewind_drops_what_was_held_so_nothing_is_skipped(tmp_path: Path) -> None:
    """Fed up to 51, held 51..99, then a failed transaction rewinds to the checkpoint at 20:
    the held messages are dropped and the partition resumed, so the re-delivery from 20 feeds
    all 80 events (held ones fed onto the state at 20 would skip 20..50)."""
    rt, src, part = runtime(tmp_path)
    at_mark(rt, T0 + 110.5)
    rt._accept(0, batch(0, 100))
    part.base_offset, part.base_blob = 20, encode(Checkpoint(
        20, Engine(rt.config, layer="performance").snapshot(),
        {"group": rt.group, "topic": rt.topic, "partition": 0}))
    rewind(rt)
    assert 0 not in rt.held and ("seek", 0, 20) in src.calls and src.calls[-2:] == [
        ("resume", 0), ("seek", 0, 20)]
    at_mark(rt, T0 + 940.0)
    rt._accept(0, batch(20, 100))
    assert part.next_offset == 100 and part.engine.totals.read == 80


def test_the_store_expires_only_what_no_prediction_to_come_can_use(tmp_path: Path) -> None:
    """Labels stamped a TTL (60 s) before the earliest time any committed state still
    accepts go — that time read from the group's committed offsets, so a partition another
    instance holds counts too; none go while a partition has no such offset (not committed
    yet, or by an older driftline), nor when the offsets cannot be read."""
    rt, src, _ = runtime(tmp_path)
    def line(eid: str, ts: float) -> bytes:
        return orjson.dumps({"event_id": eid, "label": "a", "timestamp": ts})

    rt.labels.add(0, [0, 1, 2, 3], [line("old", T0), line("edge", T0 + 40),
                                    line("new", T0 + 41), line("later", T0 + 300)])
    committed: dict[int, tuple[int, str | None]] = {}

    def offsets(tps: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        if not committed:
            raise KafkaException("coordinator not available")
        out = []
        for tp in tps:
            offset, said = committed.get(tp.partition, (-1001, None))  # -1001: none committed
            out.append(TopicPartition(tp.topic, tp.partition, offset, *([said] if said else [])))
        return out

    src.c.committed = offsets
    rt.input_partitions = 2

    def expire() -> int:
        rt._next_expiry = 0.0
        rt._expire()
        return len(rt.join.store)

    assert expire() == 4  # the offsets cannot be read
    committed[0] = (10, f"{FLOOR_KEY}{T0 + 100!r}")
    assert expire() == 4  # partition 1 has no committed offset: it might need them all
    committed[1] = (7, None)
    assert expire() == 4  # committed without a floor (an older driftline)
    committed[1] = (7, f"{FLOOR_KEY}{T0 + 400!r}")  # held by another instance
    # stamped before min(T0 + 100, T0 + 400) − 60 s: "old" only ("edge" is at T0 + 40)
    assert expire() == 3 and rt.join.counts["expired"] == 1


def test_a_committed_offset_carries_the_floor_of_its_state(tmp_path: Path) -> None:
    """What ``offset_metadata`` writes is what ``committed_floors`` reads back, exactly;
    a state with no floor yet (no reference) writes nothing, and foreign text is no floor."""
    rt, _, part = runtime(tmp_path)
    assert rt.offset_metadata(part) is None
    assert floor_of("something else") is None and floor_of(f"{FLOOR_KEY}nan") is None
    assert floor_of(f"{FLOOR_KEY}{T0 + 0.1!r}") == T0 + 0.1


def test_an_engine_accepts_nothing_older_than_its_watermark_minus_a_window() -> None:
    """What ``accepts_from`` promises: after the engine's watermark moved, an event stamped
    before watermark − 2 windows is late (dead-lettered); one past the watermark is not."""
    from driftline.runtime.performance import accepts_from

    cfg = Config(window={"size": "60s"}, reference={"warmup_windows": 1})
    engine = Engine(cfg)
    events = [orjson.dumps({"model_id": "m", "timestamp": T0 + i * 0.1, "features": {"x": i % 7},
                            "prediction": 0.5}) for i in range(6000)]
    for i in range(0, len(events), 1000):
        engine.process(events[i:i + 1000])
    floor = accepts_from(engine)
    assert floor is not None and floor < T0 + 600
    assert engine.time.clock is not None
    mark = engine.time.clock.mark
    assert floor == mark - 120.0
    probe = [orjson.dumps({"model_id": "m", "timestamp": t, "features": {"x": 1},
                           "prediction": 0.5}) for t in (floor - 1.0, floor - 500.0, mark + 1)]
    out = engine.process(probe)
    assert [d.reason for d in out.dead_letters] == ["late", "late"]
    assert engine.totals.late == 2


def test_the_input_has_ended_when_every_partition_is_fetched_to_its_end(tmp_path: Path) -> None:
    """until_idle's test of the input: a partition never fetched counts from its log start,
    so an empty one has ended and one with messages left has not."""
    rt, src, _ = runtime(tmp_path)
    rt.parts[1] = Part(1, Engine(rt.config, layer="performance"), None, None, None)
    marks = {0: (0, 100), 1: (0, 0)}
    at = {0: 100, 1: -1001}  # librdkafka's position before any fetch: OFFSET_INVALID
    src.c.position = lambda tps: [SimpleNamespace(offset=at[tps[0].partition])]
    src.watermarks = lambda p: marks[p]  # type: ignore[attr-defined]
    assert rt._input_ended()
    marks[1] = (0, 5)
    assert not rt._input_ended()


def test_a_labels_topic_that_does_not_exist_has_ended_for_until_idle(tmp_path: Path) -> None:
    """Nothing to wait for: the drain goes on (the performance monitors go blind, said by
    coverage-labels); a topic that exists but is not read to its end has not ended."""
    rt, _, _ = runtime(tmp_path)
    topics: dict[str, Any] = {}
    rt.admin = SimpleNamespace(list_topics=lambda topic, timeout: SimpleNamespace(topics=topics))
    assert not rt.reader.caught_up()  # not looked yet
    rt.reader._look()
    assert rt.reader.caught_up()
