"""The local broker is a real Kafka: idempotence, transactions and durability across restarts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

if TYPE_CHECKING:
    from kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration

TopicFactory = Callable[..., str]


def _producer(bootstrap: str, **extra: object) -> Producer:
    conf: dict[str, object] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "reconnect.backoff.max.ms": 1000,
    }
    conf.update(extra)
    return Producer(conf)


def _produce_all(producer: Producer, topic: str, values: Iterable[str]) -> None:
    """Produce ``values`` (key = value) and fail unless every delivery succeeded."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(err)

    for v in values:
        producer.produce(topic, key=v.encode(), value=v.encode(), on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(30) == 0, "messages still in flight after 30 s"
    assert not errors, errors[:5]


def _text(msg: Message) -> str:
    value = msg.value()
    assert value is not None
    return value.decode()


def _read_all(bootstrap: str, topic: str, partitions: int, *, until: Callable[[list[str]], bool],
              timeout: float = 30.0, extra: dict[str, object] | None = None) -> list[str]:
    """Read ``topic`` from the beginning (manual assignment) until ``until(values)`` or timeout."""
    conf: dict[str, object] = {
        "bootstrap.servers": bootstrap,
        "group.id": f"it-read-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    conf.update(extra or {})
    consumer = Consumer(conf)
    values: list[str] = []
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        deadline = time.monotonic() + timeout
        while not until(values) and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                err = msg.error()
                if err is None:
                    values.append(_text(msg))
                elif err.code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(f"consume error: {err}")
    finally:
        consumer.close()
    return values


def test_idempotent_producer_roundtrip(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    """1000 messages from an idempotent producer come back exactly once through a consumer group."""
    topic = kafka_topic_factory(partitions=3)
    expected = [f"m-{i:04d}" for i in range(1000)]
    producer = _producer(kafka_bootstrap)
    _produce_all(producer, topic, expected)

    consumer = Consumer({
        "bootstrap.servers": kafka_bootstrap,
        "group.id": f"it-group-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    got: list[str] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 45
        while len(got) < len(expected) and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                assert msg.error() is None, msg.error()
                got.append(_text(msg))
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()

    assert len(got) == len(expected), f"got {len(got)} of {len(expected)}"
    assert sorted(got) == expected  # every message, no duplicates


def test_transactions_commit_visible_abort_hidden(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    """A read_committed consumer sees a committed transaction and never an aborted one."""
    topic = kafka_topic_factory(partitions=2)
    producer = _producer(kafka_bootstrap, **{"transactional.id": f"it-tx-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(30)

    committed = [f"committed-{i}" for i in range(20)]
    producer.begin_transaction()
    for v in committed:
        producer.produce(topic, key=v.encode(), value=v.encode())
    producer.commit_transaction(30)

    aborted = [f"aborted-{i}" for i in range(20)]
    producer.begin_transaction()
    for v in aborted:
        producer.produce(topic, key=v.encode(), value=v.encode())
    producer.flush(30)  # really written to the log before the abort
    producer.abort_transaction(30)

    # A final committed sentinel: once it is read, everything before it has been decided.
    producer.begin_transaction()
    producer.produce(topic, key=b"sentinel", value=b"sentinel", partition=0)
    producer.produce(topic, key=b"sentinel", value=b"sentinel", partition=1)
    producer.commit_transaction(30)

    def both_sentinels(vs: list[str]) -> bool:
        return vs.count("sentinel") == 2

    seen = _read_all(kafka_bootstrap, topic, 2, until=both_sentinels,
                     extra={"isolation.level": "read_committed"})
    assert both_sentinels(seen), f"sentinels not reached; read {len(seen)} records"
    assert sorted(v for v in seen if v != "sentinel") == sorted(committed)
    assert not [v for v in seen if v.startswith("aborted-")]

    # The aborted records do exist in the log: read_uncommitted sees them.
    raw = _read_all(kafka_bootstrap, topic, 2, until=both_sentinels,
                    extra={"isolation.level": "read_uncommitted"})
    assert sorted(v for v in raw if v.startswith("aborted-")) == sorted(aborted)


def test_restart_keeps_messages_and_offsets(
    kafka_broker: KafkaBroker, kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    """After a stop/start in the same run dir, earlier messages and committed offsets remain."""
    topic = kafka_topic_factory(partitions=2, config={"cleanup.policy": "compact,delete"})
    before = [f"before-{i:03d}" for i in range(300)]
    producer = _producer(kafka_bootstrap)
    _produce_all(producer, topic, before)

    group = f"it-restart-{uuid.uuid4().hex[:8]}"
    committer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group,
                          "enable.auto.commit": False})
    marks = [TopicPartition(topic, 0, 7), TopicPartition(topic, 1, 11)]
    committer.commit(offsets=marks, asynchronous=False)
    committer.close()

    assert kafka_broker.restart() == kafka_bootstrap  # same port, same data dir

    got = _read_all(kafka_bootstrap, topic, 2, until=lambda vs: len(vs) >= len(before))
    assert sorted(got) == before

    checker = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group,
                        "enable.auto.commit": False})
    try:
        offsets = checker.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)],
                                    timeout=30)
    finally:
        checker.close()
    assert sorted((tp.partition, tp.offset) for tp in offsets) == [(0, 7), (1, 11)]

    # The producer created before the restart reconnects and keeps working.
    after = [f"after-{i:03d}" for i in range(50)]
    _produce_all(producer, topic, after)
    got = _read_all(kafka_bootstrap, topic, 2, until=lambda vs: len(vs) >= len(before) + 50)
    assert sorted(got) == sorted(before + after)
