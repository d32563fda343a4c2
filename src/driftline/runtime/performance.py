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
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from driftline.config import Config
from driftline.decode.contract import MISSING, lookup
from driftline.io.kafka_settings import client_settings
from driftline.io.kafka_source import PartitionBatch, rdkafka_logger
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader
from driftline.labels.store import LabelStore
from driftline.labels.topic import LabelTopic, ready
from driftline.metrics import Metrics
from driftline.runtime.loop import Runtime
from driftline.timestamps import parse_timestamp

SUFFIX = ".performance"
WAIT_LOG_EVERY = 60.0  # seconds between "waiting for labels" lines
TOPIC_CHECK_EVERY = 5.0  # seconds between looks for the labels topic's partitions


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
        join = LabelJoin(LabelStore(store, durable=True), labels.ttl_seconds)
        hidden = Metrics(segment_cardinality=config.limits.metric_segment_cardinality)
        view = cast(Metrics, LayerMetrics(metrics, hidden))
        super().__init__(performance_config(config), metrics=view, layer="performance",
                         label_join=join, **kwargs)
        self.exported, self.join, self.ttl = metrics, join, join.ttl
        self.labels = LabelTopic(join, LabelReader(labels.fields, config.input.floor,
                                                   config.input.max_message_bytes),
                                 labels_topic, labels.lateness_seconds)
        self.labels_consumer: Consumer | None = None
        self.held: dict[int, PartitionBatch] = {}
        self.held_times: dict[int, np.ndarray] = {}
        self.paused: set[int] = set()
        self.ended = False  # the input and the labels have ended (until_idle): judge the rest
        self.draining = False  # until_idle, the labels read to their end: fetch all input
        self._ts_path = config.input.fields.path("timestamp")
        self._floor = config.input.floor
        self._next_topic_check = 0.0
        self._next_wait_log = time.monotonic() + WAIT_LOG_EVERY
        self._shown: Counter[str] = Counter()  # label counts already on the metrics
        self.eof: set[int] = set()  # labels partitions read to their end (until new ones)

    # -- the labels topic ------------------------------------------------------------------
    def _open_labels(self) -> None:
        """Assign every partition of the labels topic, each from what the store holds; look
        again every few seconds, for a topic that appears or grows."""
        now = time.monotonic()
        if now < self._next_topic_check or self.admin is None:
            return
        self._next_topic_check = now + TOPIC_CHECK_EVERY
        topic = self.labels.topic
        try:
            meta = self.admin.list_topics(topic, timeout=3.0).topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                if self.labels_consumer is None:
                    self.log.warning("labels topic does not exist (yet): the performance "
                                     "layer waits", topic=topic)
                return
            new = sorted(set(meta.partitions) - self.labels.partitions)
            if new:
                self._assign_labels(new)
        except KafkaException as exc:  # retried at the next look
            self.log.warning("labels topic unavailable", topic=topic, error=str(exc))

    def _assign_labels(self, parts: list[int]) -> None:
        topic = self.labels.topic
        if self.labels_consumer is None:
            settings = client_settings(self.kcfg, "changelog",
                                       **{"group.id": f"{self.group}.labels-reader"})
            self.labels_consumer = Consumer(dict(settings,
                                                 logger=rdkafka_logger(self.log, "labels")))
        consumer = self.labels_consumer
        starts = []
        for p in parts:
            start = self.labels.start_offset(p)
            low, _ = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5.0)
            if start < low:
                self.log.error("labels lost to the labels topic's retention: the store holds "
                               "this partition up to an offset the topic no longer has",
                               topic=topic, partition=p, store_offset=start, log_start=low)
                self.exported.labels.labels("lost").inc(low - start)
                self.labels.skip_to(p, low)
            starts.append(TopicPartition(topic, p, max(start, low)))
        consumer.incremental_assign(starts)
        grew = bool(self.labels.partitions)
        self.labels.partitions |= set(parts)
        (self.log.warning if grew else self.log.info)(
            "labels topic partitions added: they hold the labels' watermark until they carry "
            "a label" if grew else "labels topic", topic=topic, partitions=parts,
            store=str(self.join.store.path),
            from_offsets={tp.partition: tp.offset for tp in starts})

    def _poll_labels(self) -> None:
        self._open_labels()
        if self.labels_consumer is None:
            return
        by_part: dict[int, tuple[list[int], list[bytes]]] = {}
        for msg in self.labels_consumer.consume(num_messages=self.batch_size, timeout=0):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self.eof.add(msg.partition() or 0)
                else:
                    self.client_error(err)
                continue
            p = msg.partition() or 0
            self.eof.discard(p)
            offsets, values = by_part.setdefault(p, ([], []))
            offsets.append(int(msg.offset() or 0))
            values.append(msg.value() or b"")
        for p, (offsets, values) in by_part.items():
            self.labels.add(p, offsets, values)
        if by_part:
            self.last_activity = time.monotonic()
        self._show_label_counts()
        self.exported.labels_watermark.set(self.labels.watermark())
        self.exported.labels_silent_partitions.set(len(self.labels.silent()))

    def _show_label_counts(self) -> None:
        """The labels topic's counts on the metrics: read ones late, invalid, duplicate."""
        now = Counter({"late_arrival": self.labels.counts["late_arrival"],
                       "invalid": self.join.counts["invalid"],
                       "duplicate": self.join.counts["duplicate"]})
        for outcome, n in now.items():
            if n > self._shown[outcome]:
                self.exported.labels.labels(outcome).inc(n - self._shown[outcome])
        self._shown = now

    def _labels_caught_up(self) -> bool:
        """Every labels partition read to its end (the labels have ended, for until_idle):
        librdkafka's end-of-partition event, which also comes at a transaction's last
        stable offset, past compacted or expired records."""
        return self.labels_consumer is not None and bool(self.labels.partitions) \
            and self.labels.partitions <= self.eof

    def _input_ended(self) -> bool:
        """Every input partition fetched to its end: the consumer's position (past any
        transaction marker) at the high watermark."""
        try:
            for p in self.parts:
                at = self.source.c.position([TopicPartition(self.topic, p)])[0].offset
                _, high = self.source.watermarks(p)
                if at < high:
                    return False
        except KafkaException:
            return False
        return True

    # -- the loop ----------------------------------------------------------------------------
    def _step(self) -> None:
        self._poll_labels()
        super()._step()
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

    def _times(self, values: Iterable[bytes]) -> np.ndarray:
        """Each message's event time (NaN: unreadable — a dead letter, no label matters).

        No time is capped: a prediction stamped far ahead holds its partition until the
        labels pass it (the waiting line and ``driftline_performance_held_events`` say so),
        since a cap that guessed which events the engine refuses could judge one too early.
        """
        out = []
        for raw in values:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                out.append(np.nan)
                continue
            v = lookup(obj, self._ts_path) if isinstance(obj, dict) else MISSING
            ts = None if v is MISSING or v is None else parse_timestamp(v, self._floor)
            out.append(np.nan if ts is None else ts)
        return np.asarray(out, np.float64)

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
            if not self._labels_caught_up():
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
        if self.labels_consumer is not None:
            self.labels_consumer.close()

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        wm = self.labels.watermark()
        out["labels"] = {**self.join.summary(), "topic": self.labels.topic,
                         "read": self.labels.counts["read"],
                         "late_arrival": self.labels.counts["late_arrival"],
                         "watermark": wm if np.isfinite(wm) else None,
                         "held_events": sum(len(b) for b in self.held.values()),
                         "store": str(self.join.store.path)}
        return out
