"""The performance layer on Kafka: predictions judged once their labels are final.

``driftline run --labels-topic T`` runs two runtimes over the input topic. The behaviour
layer (every monitor the events feed by themselves) is the usual ``Runtime``; this one is the
performance layer's: a consumer group of its own (``<group_id>.performance``), its own
transactions, changelog and checkpoints, engines with the performance monitors only
(``Engine(layer="performance")``, a Benjamini–Hochberg family and a coverage incident of their
own). It reads the labels topic into a durable store (``labels/topic.py``) and feeds a
prediction to its engine only once the labels' watermark has passed the prediction's time +
``labels.ttl``: by then every label that counts for it is in the store, so the join gives what
a replay that knew every label gives — and exactly once, by the same checkpoint transaction as
the behaviour layer's. The predictions read but not yet judged are held (their partition
paused: memory stays bounded by what one fetch brings).

Its engines count events on a registry of their own (the behaviour layer counts them, once);
their gauges, the labels' counts and the labels' watermark are exported.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import numpy as np
from confluent_kafka import Consumer, KafkaException, TopicPartition

from driftline.config import Config, parse_duration
from driftline.decode.times import EventTimes
from driftline.engine import Engine
from driftline.io.kafka_source import PartitionBatch
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader
from driftline.labels.store import LabelStore
from driftline.labels.topic import LabelTopic, ready
from driftline.metrics import Metrics
from driftline.runtime.labels_reader import LabelsReader
from driftline.runtime.loop import Runtime
from driftline.runtime.part import Part

SUFFIX = ".performance"
WAIT_LOG_EVERY = 60.0  # seconds between "waiting for labels" lines
EXPIRE_EVERY = 60.0  # seconds between expiries of the labels store
OFFSETS_TIMEOUT = 5.0  # seconds to wait for the group's committed offsets
FLOOR_KEY = "driftline.accepts_from="  # the committed offsets' metadata: the state's floor


def floor_of(metadata: str | None) -> float | None:
    """The floor a committed offset's metadata carries (None: none, or not ours)."""
    if not metadata or not metadata.startswith(FLOOR_KEY):
        return None
    try:
        value = float(metadata[len(FLOOR_KEY):])
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def accepts_from(engine: Engine) -> float | None:
    """The earliest event time ``engine`` may still accept (None: not known — no reference
    yet, or count windows): an event whose window has closed in any group is late, and the
    default window closes once the watermark passes its end, so an accepted event is younger
    than the watermark − one window; two, to be safe with hops."""
    spec, clock = engine.spec, engine.time.clock
    if engine.reference is None or spec is None or spec.kind != "time" or clock is None:
        return None
    mark = clock.mark
    return float(mark) - 2 * float(spec.size) if np.isfinite(mark) else None


def performance_config(config: Config) -> Config:
    """The performance layer's Kafka identity: its group, transactions and changelog."""
    k = config.kafka
    update: dict[str, Any] = {"group_id": k.group_id + SUFFIX}
    if k.transactional_id:
        update["transactional_id"] = k.transactional_id + SUFFIX
    if k.changelog_topic:
        update["changelog_topic"] = k.changelog_topic + SUFFIX
    return config.model_copy(update={"kafka": k.model_copy(update=update)})


#: what the performance engines and runtime show on the exported metrics: their monitors'
#: statistics, thresholds, incidents and coverage (disjoint from the behaviour layer's), the
#: labels, and the runtime's resets and skipped checkpoints. The rest — events, dead letters,
#: watermarks and lag per partition — is the behaviour layer's to count, once.
EXPORTED = frozenset({
    "threshold", "incident_events", "windows_closed", "monitor_windows", "blind_windows",
    "labels", "label_delay", "labelled_ratio", "checkpoint_invalid", "input_resets",
    "declare_thresholds", "declare_monitor", "count_labels", "statistic_label",
    "segment_label"})


class LayerMetrics:
    """The performance layer's view of the metrics: ``EXPORTED`` names from the served
    registry, everything else from a private one."""

    def __init__(self, exported: Metrics, hidden: Metrics) -> None:
        self._exported, self._hidden = exported, hidden

    def __getattr__(self, name: str) -> Any:
        return getattr(self._exported if name in EXPORTED else self._hidden, name)


class PerformanceRuntime(Runtime):
    """The performance layer's consume → hold until labelled → detect → commit loop."""

    def __init__(self, config: Config, *, labels_topic: str, store: str | Path,
                 metrics: Metrics, **kwargs: Any) -> None:
        labels = config.labels
        join = LabelJoin(LabelStore(store, durable=True), labels.ttl_seconds,
                         {"source": "kafka", "topic": labels_topic})
        hidden = Metrics(segment_cardinality=config.limits.metric_segment_cardinality)
        view = cast(Metrics, LayerMetrics(metrics, hidden))
        super().__init__(performance_config(config), metrics=view, layer="performance",
                         label_join=join, **kwargs)
        self.exported, self.join, self.ttl = metrics, join, join.ttl
        self.labels = LabelTopic(join, LabelReader(labels.fields, config.input.floor,
                                                   config.input.max_message_bytes),
                                 labels_topic, labels.lateness_seconds,
                                 parse_duration(config.window.max_ahead))
        self.reader = LabelsReader(self, self.labels, metrics)
        if join.store.rebuilt:
            self.log.warning("labels store of an older layout emptied: read again from the "
                             "labels topic's beginning", store=str(store))
        self.held: dict[int, PartitionBatch] = {}
        self.held_times: dict[int, np.ndarray] = {}
        self.paused: set[int] = set()
        self.ended = False  # the input and the labels have ended (until_idle): judge the rest
        self.draining = False  # until_idle, the labels read to their end: fetch all input
        #: each message's event time (NaN: unreadable — a dead letter, no label matters). No
        #: time is capped: a prediction stamped far ahead holds its partition until the labels
        #: pass it (the waiting line and ``driftline_performance_held_events`` say so), since a
        #: cap that guessed which events the engine refuses could judge one too early
        self._times = EventTimes(config.input.fields.path("timestamp"), config.input.floor,
                                 config.input.max_message_bytes)
        self._next_wait_log = time.monotonic() + WAIT_LOG_EVERY
        self._next_expiry = time.monotonic() + EXPIRE_EVERY

    def _input_ended(self) -> bool:
        """Every input partition fetched to its end: the consumer's position (past any
        transaction marker; none yet: the log start) at the high watermark."""
        try:
            for p in self.parts:
                at = self.source.c.position([TopicPartition(self.topic, p)])[0].offset
                low, high = self.source.watermarks(p)
                if max(at, low) < high:
                    return False
        except KafkaException:
            return False
        return True

    # -- the loop ----------------------------------------------------------------------------
    def offset_metadata(self, part: Part) -> str | None:
        """The earliest time the committed state may still accept, with its offset: what
        lets any instance of the group know which labels no partition can use any more."""
        floor = accepts_from(part.engine)
        return None if floor is None else f"{FLOOR_KEY}{floor!r}"

    def committed_floors(self) -> list[float] | None:
        """Per input partition, the earliest time its committed state may still accept, as
        its committed offset says — whoever holds it (None: not known for every partition:
        one not committed yet, in its warm-up, or committed by an older driftline)."""
        if not self.input_partitions:
            return None
        tps = [TopicPartition(self.topic, p) for p in range(self.input_partitions)]
        try:
            got = self.source.c.committed(tps, timeout=OFFSETS_TIMEOUT)
        except KafkaException as exc:
            self.log.debug("committed offsets unavailable: no expiry now", error=str(exc))
            return None
        floors = [floor_of(tp.metadata) if tp.error is None and tp.offset >= 0 else None
                  for tp in got]
        return None if None in floors else [f for f in floors if f is not None]

    def _expire(self) -> None:
        """Drop the labels no prediction still to come can use: stamped more than a TTL
        before the earliest time any committed state of the input may still accept — every
        partition's, held here or by another instance (their committed offsets say it)."""
        now = time.monotonic()
        if now < self._next_expiry:
            return
        self._next_expiry = now + EXPIRE_EVERY
        floors = self.committed_floors()
        if not floors:
            return
        before = min(floors) - self.ttl
        n = self.join.store.expire(before)
        if n:
            self.join.counts["expired"] += n
            self.exported.labels.labels("expired").inc(n)
            self.log.info("labels expired", count=n, stamped_before=before)

    def _step(self) -> None:
        if self.reader.poll():
            self.last_activity = time.monotonic()
        super()._step()
        self._expire()
        for p in list(self.held):
            self._release(p)
        self.exported.performance_held.set(sum(len(b) for b in self.held.values()))
        self._say_waiting()

    def _accept(self, p: int, pb: PartitionBatch) -> None:
        """Hold the batch until its predictions' labels are final, then feed what may be."""
        part = self.parts.get(p)
        if part is None or not len(pb):
            return
        held, times = self.held.get(p), self.held_times.get(p)
        if held is not None and times is not None and pb.offsets[0] <= held.offsets[-1]:
            # a rewind reads again what is held: the held messages before it stay
            keep = int(np.searchsorted(held.offsets, pb.offsets[0]))
            held, times = (held.until(keep), times[:keep]) if keep else (None, None)
        new = self._times(pb.values)
        self.held[p] = pb if held is None else PartitionBatch.concat([held, pb])
        self.held_times[p] = new if times is None else np.concatenate([times, new])
        self._release(p)

    def _release(self, p: int) -> None:
        held, times = self.held.get(p), self.held_times.get(p)
        if held is None or times is None:
            return
        wm = self.labels.watermark()
        n = len(held) if self.ended else ready(times, wm, self.ttl)
        if n and not self.ended:
            self.labels.released(wm)
        if n:
            super()._accept(p, held.until(n))
        if n >= len(held):
            del self.held[p], self.held_times[p]
            self._pause(p, False)
        else:
            self.held[p] = held.after(int(held.offsets[n]))
            self.held_times[p] = times[n:]
            self._pause(p, True)

    def _pause(self, p: int, on: bool) -> None:
        if on == (p in self.paused) or (on and self.draining):
            return
        tp = [TopicPartition(self.topic, p)]
        try:
            (self.source.c.pause if on else self.source.c.resume)(tp)
        except KafkaException as exc:  # a partition no longer ours: nothing to pause
            self.log.debug("pause/resume failed", partition=p, error=str(exc))
        (self.paused.add if on else self.paused.discard)(p)

    def _say_waiting(self) -> None:
        now = time.monotonic()
        if not self.held or now < self._next_wait_log:
            return
        self._next_wait_log = now + WAIT_LOG_EVERY
        wm = self.labels.watermark()
        self.log.info("performance layer waiting for labels", held_events=sum(
            len(b) for b in self.held.values()), labels_watermark=None if not np.isfinite(wm)
            else wm, silent_label_partitions=self.labels.silent(), ttl_seconds=self.ttl)

    def _drain(self) -> bool:
        """Idle exit: once the labels topic is read to its end too, the input has ended —
        every held prediction is judged now (no label can still come), then as usual."""
        if not self.ended:
            if not self.reader.caught_up():
                return False
            if not self.draining:  # read the rest of the input, paused or not
                self.draining = True
                for p in list(self.paused):
                    self._pause(p, False)
                return False
            if not self._input_ended():
                return False
            self.ended = True
            self.log.info("input and labels ended: judging the held predictions",
                          held_events=sum(len(b) for b in self.held.values()))
        if self.held:
            for p in list(self.held):
                self._release(p)
            return False
        return super()._drain()

    def _collect(self, part: Any, out: Any, pb: PartitionBatch | None) -> None:
        out.dead_letters = []  # the behaviour layer publishes them, once
        super()._collect(part, out, pb)

    def _on_revoke(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        self._drop_held([tp.partition for tp in tps if tp.topic == self.topic])
        super()._on_revoke(consumer, tps)

    def _on_lost(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        self._drop_held([tp.partition for tp in tps if tp.topic == self.topic])
        super()._on_lost(consumer, tps)

    def _on_assign(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        super()._on_assign(consumer, tps)
        # librdkafka keeps an application's pause across a revoke and an assign: resume
        mine = [tp for tp in tps if tp.topic == self.topic]
        if mine:
            try:
                consumer.resume(mine)
            except KafkaException as exc:
                self.log.warning("resume of assigned partitions failed", error=str(exc))

    def _drop_held(self, gone: list[int]) -> None:
        """Held predictions of partitions going away: never judged here, so never committed;
        whoever gets the partition reads them again."""
        for p in gone:
            self.forget_unread(p)

    def forget_unread(self, partition: int) -> None:
        """A rewind or a reset moves the partition back: what it held is read again."""
        self.held.pop(partition, None)
        self.held_times.pop(partition, None)
        self._pause(partition, False)

    def _close(self) -> None:
        super()._close()
        self.reader.close()

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        wm = self.labels.watermark()
        out["labels"] = {**self.join.summary(), "topic": self.labels.topic,
                         "read": self.labels.counts["read"],
                         "late_arrival": self.labels.counts["late_arrival"],
                         "ahead": self.labels.counts["ahead"],
                         "watermark": wm if np.isfinite(wm) else None,
                         "held_events": sum(len(b) for b in self.held.values()),
                         "store": str(self.join.store.path)}
        return out
