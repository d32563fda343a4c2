"""Fake Kafka clients for the runtime's unit tests: no broker, every call recorded."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from driftline.config import Config, KafkaConfig
from driftline.engine import Engine
from driftline.io.checkpoint import Assembler, Checkpoint, changelog_key, encode, to_records
from driftline.runtime import Part, Runtime

#: the runtime's modules that wait or read the clock
CLOCKED = ("driftline.runtime.partitions", "driftline.runtime.rewind", "driftline.runtime.commit")


def runtime(**kafka: object) -> Runtime:
    return Runtime(Config(kafka=KafkaConfig(**kafka)))  # type: ignore[arg-type]


class FakeSource:
    """The input consumer: committed offsets on demand, seeks recorded."""

    def __init__(self, committed: dict[int, int | None]) -> None:
        self._committed = committed
        self.seeks: list[tuple[int, int]] = []
        self.c = object()
        self.settings: dict[str, Any] = {}

    def committed(self, _consumer: object, partitions: list[int], **_: Any
                  ) -> dict[int, int | None]:
        return {p: self._committed.get(p) for p in partitions}

    def seek(self, partition: int, offset: int) -> None:
        self.seeks.append((partition, offset))


def checkpoint(s: Runtime, offset: int) -> bytes:
    return encode(Checkpoint(offset, Engine(s.config).snapshot(),
                             {"group": s.group, "topic": s.topic, "partition": 0}))


class FakeChangelog:
    """Each read returns the next of the given changelog contents (the last one repeats)."""

    def __init__(self, s: Runtime, *offsets: int) -> None:
        self.s = s
        self.key = changelog_key(s.group, s.topic, 0, "a")
        self.blobs = [checkpoint(s, o) for o in offsets]
        self.reads = 0

    def read(self, _partitions: object) -> Assembler:
        blob = self.blobs[min(self.reads, len(self.blobs) - 1)]
        self.reads += 1
        asm = Assembler(self.s.group, self.s.topic)
        for key, value, headers in to_records(self.key, blob):
            asm.add(key.encode(), value, headers)
        return asm


def reloading(monkeypatch: pytest.MonkeyPatch, committed: int, *changelog: int,
              base: int = 100) -> tuple[Runtime, Part, FakeSource, FakeChangelog]:
    clock = [0.0]  # sleeping advances a fake clock: bounded waits end at once
    fake = SimpleNamespace(monotonic=lambda: clock[0],
                           sleep=lambda d: clock.__setitem__(0, clock[0] + d))
    for module in CLOCKED:
        monkeypatch.setattr(f"{module}.time", fake)
    s = runtime()
    source, log = FakeSource({0: committed}), FakeChangelog(s, *changelog)
    s.source, s.changelog = source, log  # type: ignore[assignment]
    blob = checkpoint(s, base)
    part = Part(0, Engine(s.config), base, blob, base + 20, dirty=True)
    s.parts = {0: part}
    return s, part, source, log


class FakeSink:
    """The transactional producer: each commit raises the next of ``errors`` (then succeeds)."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.commits = 0
        self.settings: dict[str, Any] = {}

    def commit(self, *_: Any) -> int:
        self.commits += 1
        if self.errors:
            raise self.errors.pop(0)
        return 0


def committing(monkeypatch: pytest.MonkeyPatch, sink: FakeSink
               ) -> tuple[Runtime, Part, FakeSource]:
    s, part, source, _ = reloading(monkeypatch, 100, 100)
    source.c = SimpleNamespace(consumer_group_metadata=lambda: None)
    s.sink = sink  # type: ignore[assignment]
    return s, part, source


class FailingSeek(FakeSource):
    def __init__(self, owned: list[int]) -> None:
        super().__init__({0: 100})
        self.owned = owned

    def seek(self, partition: int, offset: int) -> None:
        raise KafkaException(KafkaError(KafkaError._STATE, "seek failed"))

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("predictions", p) for p in self.owned]
