"""The Kafka sidecar's commit/rewind logic against fake clients (no broker)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from driftline.config import Config, KafkaConfig
from driftline.decode import DeadLetter
from driftline.engine import Engine, Output
from driftline.errors import SinkError, SourceError
from driftline.io.checkpoint import Assembler, Checkpoint, changelog_key, encode, to_records
from driftline.io.kafka_sink import TransactionError, dead_letter_record
from driftline.sidecar import Part, Sidecar


def sidecar(**kafka: object) -> Sidecar:
    return Sidecar(Config(kafka=KafkaConfig(**kafka)))  # type: ignore[arg-type]


@pytest.mark.parametrize("settings", [
    {"group.instance.id": {"env": "POD_NAME"}},
    {"consumer": {"group.instance.id": {"env": "POD_NAME"}}},
])
def test_static_member_id_from_env_gives_each_replica_its_transactional_id(
        settings: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """{env: POD_NAME} is resolved: two pods get two transactional ids, not the raw map."""
    monkeypatch.setenv("POD_NAME", "driftline-0")
    a = sidecar(group_id="g", settings=settings)
    monkeypatch.setenv("POD_NAME", "driftline-1")
    b = sidecar(group_id="g", settings=settings)
    assert a.transactional_id == "driftline-g-driftline-0"
    assert b.transactional_id == "driftline-g-driftline-1"


def test_dead_letter_record_is_capped_with_truncation_headers() -> None:
    """A value over max_bytes keeps its first max_bytes bytes and says how long it was."""
    d = DeadLetter(b"x" * 2_000_000, "oversize", "too big", 7, 1)
    r = dead_letter_record("dl", d, "in", b"k", max_bytes=65536)
    assert len(r.value) == 65536 and r.value == d.raw[:65536]
    headers = dict(r.headers)
    assert headers["truncated"] == b"1" and headers["original.size"] == b"2000000"
    small = dead_letter_record("dl", DeadLetter(b"{bad", "malformed_json", "", 1, 0), "in",
                               None, max_bytes=65536)
    assert small.value == b"{bad" and "truncated" not in dict(small.headers)


def test_an_oversize_input_becomes_a_publishable_dead_letter() -> None:
    """A 1.5 MB input message must not become a 1.5 MB dead letter (over message.max.bytes:
    every transaction would fail on it and its partition would be retried forever)."""
    s = sidecar()
    part = Part(0, Engine(s.config), 0, None, 0)
    raw = b"{" + b"x" * 1_500_000 + b"}"
    s._collect(part, Output(dead_letters=[DeadLetter(raw, "oversize", "big", 5, 0)]), None)
    (r,) = part.dead
    assert len(r.value) <= 1_000_000 - 64 * 1024  # under the producer's message.max.bytes
    assert r.value == raw[:len(r.value)]
    assert dict(r.headers)["original.size"] == str(len(raw)).encode()


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


def checkpoint(s: Sidecar, offset: int) -> bytes:
    return encode(Checkpoint(offset, Engine(s.config).snapshot(),
                             {"group": s.group, "topic": s.topic, "partition": 0}))


class FakeChangelog:
    """Each read returns the next of the given changelog contents (the last one repeats)."""

    def __init__(self, s: Sidecar, *offsets: int) -> None:
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
              base: int = 100) -> tuple[Sidecar, Part, FakeSource, FakeChangelog]:
    clock = [0.0]  # sleeping advances a fake clock: bounded waits end at once
    monkeypatch.setattr("driftline.sidecar.time", SimpleNamespace(
        monotonic=lambda: clock[0], sleep=lambda d: clock.__setitem__(0, clock[0] + d)))
    s = sidecar()
    source, log = FakeSource({0: committed}), FakeChangelog(s, *changelog)
    s.source, s.changelog = source, log  # type: ignore[assignment]
    blob = checkpoint(s, base)
    part = Part(0, Engine(s.config), base, blob, base + 20, dirty=True)
    s.parts = {0: part}
    return s, part, source, log


def test_reload_never_moves_back_to_an_older_checkpoint(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Outcome unknown, and the changelog (held back) shows a checkpoint older than the
    committed state: keep the committed state, do not rewind behind it."""
    s, part, source, _ = reloading(monkeypatch, 100, 50)
    s._reload()
    assert part.base_offset == 100 and source.seeks == [(0, 100)]
    assert part.next_offset == 100 and not part.dirty


def test_reload_waits_for_the_checkpoint_of_the_committed_offsets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The unknown transaction did commit (offsets at 120): wait until the changelog shows
    its checkpoint rather than taking the older one read first."""
    s, part, source, log = reloading(monkeypatch, 120, 100, 120)
    s._reload()
    assert log.reads == 2
    assert part.base_offset == 120 and source.seeks == [(0, 120)]


def test_reload_takes_a_newer_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    s, part, source, _ = reloading(monkeypatch, 120, 120)
    s._reload()
    assert part.base_offset == 120 and source.seeks == [(0, 120)]


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
               ) -> tuple[Sidecar, Part, FakeSource]:
    s, part, source, _ = reloading(monkeypatch, 100, 100)
    source.c = SimpleNamespace(consumer_group_metadata=lambda: None)
    s.sink = sink  # type: ignore[assignment]
    return s, part, source


def test_a_producer_that_cannot_be_replaced_stops_all_commits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """recreate() failing inside sink.commit: the error propagates, and the revoke that
    closing the consumer runs must not commit the same output again."""
    sink = FakeSink(SinkError("init_transactions failed: fenced"))
    s, _part, _ = committing(monkeypatch, sink)
    with pytest.raises(SinkError):
        s.commit()
    assert s.commit() is False
    s._on_revoke(None, [TopicPartition(s.topic, 0)])  # type: ignore[arg-type]
    assert sink.commits == 1 and s.stats.failed_commits == 1 and s.parked == {}


def test_giving_up_after_fencing_rewinds_first_and_stops_committing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fenced once too often: the failed transaction's state is rewound before the error
    is raised, and nothing is committed afterwards."""
    fenced = [TransactionError("fatal", KafkaError(KafkaError._FENCED)) for _ in range(4)]
    sink = FakeSink(*fenced)
    s, part, source = committing(monkeypatch, sink)
    s._fenced = [0.0, 0.0, 0.0]  # three recent fencings already
    with pytest.raises(SinkError, match="fenced 4 times"):
        s.commit()
    assert source.seeks == [(0, 100)] and not part.dirty and part.next_offset == 100
    s._on_revoke(None, [TopicPartition(s.topic, 0)])  # type: ignore[arg-type]
    assert sink.commits == 1


class FailingSeek(FakeSource):
    def __init__(self, owned: list[int]) -> None:
        super().__init__({0: 100})
        self.owned = owned

    def seek(self, partition: int, offset: int) -> None:
        raise KafkaException(KafkaError(KafkaError._STATE, "seek failed"))

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("predictions", p) for p in self.owned]


@pytest.mark.parametrize("owned", [[0], []])
def test_a_failed_seek_back_on_an_owned_partition_is_fatal(
        monkeypatch: pytest.MonkeyPatch, owned: list[int]) -> None:
    """A rewind that cannot seek a partition it still owns would skip the failed
    transaction's input: exit (restart resumes from the committed state). A partition no
    longer owned is only logged."""
    s, part, _, _ = reloading(monkeypatch, 100, 100)
    source = FailingSeek(owned)
    source.c = source  # type: ignore[assignment]
    s.source = source  # type: ignore[assignment]
    if owned:
        with pytest.raises(SourceError, match="cannot seek back"):
            s._rewind()
        assert s.commit() is False
    else:
        s._rewind()
    assert part.next_offset == 100 and not part.dirty


def test_the_changelog_is_one_per_group_unless_named() -> None:
    """Two groups with default settings must not share changelog partitions."""
    assert sidecar(group_id="fraud").changelog_topic == "fraud.changelog"
    assert sidecar(group_id="eta").changelog.topic == "eta.changelog"
    assert sidecar(group_id="g", changelog_topic="shared").changelog_topic == "shared"
