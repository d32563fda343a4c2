"""Re-reading what an incident cites: lines of a file, offsets of a Kafka partition.

An incident's ``source_positions`` name where its window's events are: for a file, 1-based line
numbers (``first_offset``…``last_offset``); for Kafka, a topic, a partition and offsets. What
cannot be read back any more is ``EventsGone`` — a file now shorter than the lines cited, a
partition whose log starts after the first cited offset (retention) or ends before the last
(the topic was recreated). "Gone" is not "not reproduced": it says nothing about the statistic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from driftline.config import KafkaConfig
from driftline.errors import DriftlineError, SourceError
from driftline.io.files import MAX_LINE, bounded_lines


class EventsGone(DriftlineError):
    """The events an incident cites can no longer be read as they were."""


@dataclass(frozen=True)
class Events:
    """Raw messages re-read, with their positions (line numbers or offsets) and partition."""

    messages: list[bytes]
    positions: np.ndarray
    partition: int = -1  # -1: a file

    @property
    def partitions(self) -> np.ndarray:
        return np.full(len(self.messages), self.partition, np.int64)

    @property
    def span(self) -> tuple[int, int] | None:
        if not self.messages:
            return None
        return int(self.positions[0]), int(self.positions[-1])


def file_lines(path: str | Path, lo: int, hi: int, cited_last: int,
               max_bytes: int = MAX_LINE) -> Events:
    """Lines ``lo``…``hi`` (1-based, inclusive) of a file; ``EventsGone`` if it ends before ``cited_last``."""
    lines: list[bytes] = []
    number = 0
    try:
        with open(path, "rb") as fh:
            for number, line in enumerate(bounded_lines(fh, max_bytes), start=1):
                if number > hi:
                    break
                if number >= lo:
                    lines.append(line)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the events: {exc.strerror}") from exc
    if number < cited_last:
        raise EventsGone(f"{path} has {number} lines; the incident cites lines up to "
                         f"{cited_last}: the file is not the one the incident was raised on")
    first = max(lo, 1)
    return Events(lines, np.arange(first, first + len(lines), dtype=np.int64))


def _consumer(kcfg: KafkaConfig) -> Consumer:
    from driftline.investigate.streams import reader_settings

    return Consumer(reader_settings(kcfg))


def watermarks(consumer: Consumer, topic: str, partition: int) -> tuple[int, int]:
    try:
        lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10,
                                                cached=False)
    except KafkaException as exc:
        raise SourceError(f"{topic}[{partition}]: cannot read its offsets: {exc}") from exc
    return int(lo), int(hi)


def kafka_offsets(kcfg: KafkaConfig, topic: str, partition: int, lo: int, hi: int,
                  cited: tuple[int, int], timeout: float = 60.0) -> Events:
    """Offsets ``lo``…``hi`` of a partition; ``EventsGone`` if the cited ones are past its log."""
    consumer = _consumer(kcfg)
    try:
        low, high = watermarks(consumer, topic, partition)
        if cited[0] < low:
            raise EventsGone(f"{topic}[{partition}] starts at offset {low} now; the incident cites "
                             f"offsets from {cited[0]}: retention has removed them")
        if cited[1] >= high:
            raise EventsGone(f"{topic}[{partition}] ends at offset {high}; the incident cites "
                             f"offsets up to {cited[1]}: the topic is not the one it was raised on")
        return _read(consumer, topic, partition, max(lo, low), min(hi, high - 1), timeout)
    finally:
        consumer.close()


def _read(consumer: Consumer, topic: str, partition: int, lo: int, hi: int,
          timeout: float) -> Events:
    """Offsets ``lo``…``hi`` (fewer where transactions left control records, or at the end)."""
    consumer.assign([TopicPartition(topic, partition, lo)])
    messages: list[bytes] = []
    offsets: list[int] = []
    deadline = time.monotonic() + timeout
    seen = lo - 1
    while seen < hi:
        if time.monotonic() > deadline:
            raise SourceError(f"{topic}[{partition}]: offsets {lo}–{hi} not read within "
                              f"{timeout:.0f}s")
        for m in consumer.consume(num_messages=5000, timeout=0.5):
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    return Events(messages, np.asarray(offsets, np.int64), partition)
                raise SourceError(f"{topic}[{partition}]: {err}")
            offset = m.offset()
            if offset is None:
                continue
            seen = max(seen, offset)
            if offset <= hi:
                messages.append(m.value() or b"")
                offsets.append(offset)
    return Events(messages, np.asarray(offsets, np.int64), partition)


def kafka_beginning(kcfg: KafkaConfig, topic: str, partition: int, batch: int,
                    ) -> Iterator[Events]:
    """A partition from the start of its log, in batches (for the warm-up rebuild)."""
    consumer = _consumer(kcfg)
    try:
        low, high = watermarks(consumer, topic, partition)
        at = low
        while at < high:
            chunk = _read(consumer, topic, partition, at, min(at + batch, high) - 1, 60.0)
            if not chunk.messages:  # only transaction markers in this range
                at = min(at + batch, high)
                continue
            at = int(chunk.positions[-1]) + 1
            yield chunk
    finally:
        consumer.close()
