"""The labels topic, read for the performance layer: every partition assigned (no group),
each from where the store stands, into ``labels/topic.py``'s ``LabelTopic``.

Kafka only: what a label means, when it is late and what the watermark is, is the
``LabelTopic``'s. It looks at the topic every few seconds — for a topic that appears or
grows — and says what it cannot read: a topic that does not exist, labels lost to the
topic's retention, partitions added that hold the labels' watermark back.
"""

from __future__ import annotations

import time
from collections import Counter

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from driftline.io.kafka_settings import client_settings
from driftline.io.kafka_source import rdkafka_logger
from driftline.labels.topic import LabelTopic
from driftline.metrics import Metrics
from driftline.runtime.loop import Runtime

TOPIC_CHECK_EVERY = 5.0  # seconds between looks at the labels topic's partitions


class LabelsReader:
    """The labels topic's consumer, for one performance runtime."""

    def __init__(self, rt: Runtime, labels: LabelTopic, exported: Metrics) -> None:
        self.rt, self.labels, self.exported = rt, labels, exported
        self.log = rt.log
        self.consumer: Consumer | None = None
        self.eof: set[int] = set()  # partitions read to their end (until a new label)
        self.missing = False  # the last look found no labels topic
        self._shown: Counter[str] = Counter()  # label counts already on the metrics
        self._next_check = 0.0

    def poll(self) -> bool:
        """Read what the labels topic has now into the store; whether anything came."""
        self._look()
        if self.consumer is None:
            return False
        by_part: dict[int, tuple[list[int], list[bytes]]] = {}
        for msg in self.consumer.consume(num_messages=self.rt.batch_size, timeout=0):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self.eof.add(msg.partition() or 0)
                else:
                    self.rt.client_error(err)
                continue
            p = msg.partition() or 0
            self.eof.discard(p)
            offsets, values = by_part.setdefault(p, ([], []))
            offsets.append(int(msg.offset() or 0))
            values.append(msg.value() or b"")
        for p, (offsets, values) in by_part.items():
            self.labels.add(p, offsets, values)
        self._show()
        return bool(by_part)

    def caught_up(self) -> bool:
        """Every partition read to its end (the labels have ended, for until_idle):
        librdkafka's end-of-partition event, which also comes at a transaction's last
        stable offset, past compacted or expired records. A labels topic that does not
        exist has nothing more to give either (its warning said so every few seconds; the
        performance monitors go blind, and coverage-labels says that)."""
        if self.consumer is None:
            return self.missing
        return bool(self.labels.partitions) and self.labels.partitions <= self.eof

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()

    def _look(self) -> None:
        """Assign the partitions not read yet, each from what the store holds."""
        now = time.monotonic()
        if now < self._next_check or self.rt.admin is None:
            return
        self._next_check = now + TOPIC_CHECK_EVERY
        topic = self.labels.topic
        try:
            meta = self.rt.admin.list_topics(topic, timeout=3.0).topics.get(topic)
            self.missing = meta is None or meta.error is not None or not meta.partitions
            if self.missing:
                if self.consumer is None:
                    self.log.warning("labels topic does not exist (yet): the performance "
                                     "layer waits", topic=topic)
                return
            new = sorted(set(meta.partitions) - self.labels.partitions)
            if new:
                self._assign(new)
        except KafkaException as exc:  # retried at the next look
            self.log.warning("labels topic unavailable", topic=topic, error=str(exc))

    def _assign(self, parts: list[int]) -> None:
        topic = self.labels.topic
        if self.consumer is None:
            settings = client_settings(self.rt.kcfg, "changelog",
                                       **{"group.id": f"{self.rt.group}.labels-reader"})
            self.consumer = Consumer(dict(settings, logger=rdkafka_logger(self.log, "labels")))
        starts = []
        for p in parts:
            start = self.labels.start_offset(p)
            low, _ = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5.0)
            if start < low:
                self.log.error("labels lost to the labels topic's retention: the store holds "
                               "this partition up to an offset the topic no longer has",
                               topic=topic, partition=p, store_offset=start, log_start=low)
                self.exported.labels.labels("lost").inc(low - start)
                self.labels.skip_to(p, low)
            starts.append(TopicPartition(topic, p, max(start, low)))
        self.consumer.incremental_assign(starts)
        grew = bool(self.labels.partitions)
        self.labels.partitions |= set(parts)
        (self.log.warning if grew else self.log.info)(
            "labels topic partitions added: they hold the labels' watermark until they carry "
            "a label" if grew else "labels topic", topic=topic, partitions=parts,
            store=str(self.labels.join.store.path),
            from_offsets={tp.partition: tp.offset for tp in starts})

    def _show(self) -> None:
        """The labels' counts, watermark and silent partitions on the metrics."""
        join = self.labels.join
        now = Counter({"late_arrival": self.labels.counts["late_arrival"],
                       "ahead": self.labels.counts["ahead"],
                       "invalid": join.counts["invalid"], "duplicate": join.counts["duplicate"]})
        for outcome, n in now.items():
            if n > self._shown[outcome]:
                self.exported.labels.labels(outcome).inc(n - self._shown[outcome])
        self._shown = now
        self.exported.labels_watermark.set(self.labels.watermark())
        self.exported.labels_silent_partitions.set(len(self.labels.silent()))
