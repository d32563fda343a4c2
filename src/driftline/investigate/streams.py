"""The incident stream, read and appended to: a JSON-lines file or a Kafka topic.

Files are appended to under an exclusive ``flock``, the lock ``replay`` takes when it rewrites
the detection events of the file (``io.files.IncidentFileSink``), so an action recorded while a
replay starts is never lost. Topics are read ``read_committed`` (the sidecar publishes in
transactions) to their end, and actions are produced keyed by incident id, like detection's
events, so an incident's events stay in one partition, in order.
"""

from __future__ import annotations

import fcntl
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from driftline.config import KafkaConfig
from driftline.errors import SinkError, SourceError
from driftline.investigate.history import HistoryError, validate

CLOUDEVENTS_JSON = b"application/cloudevents+json"


def parse_lines(data: bytes, where: str) -> list[dict[str, Any]]:
    """Every non-blank line of an incident file, validated; one ``HistoryError`` names the line."""
    out = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise HistoryError(f"{where}:{number}: not JSON ({exc})") from exc
        out.append(validate(obj, f"{where}:{number}"))
    return out


def read_file(path: str | Path) -> list[dict[str, Any]]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the incidents: {exc.strerror}") from exc
    return parse_lines(data, str(path))


def append_file(path: str | Path, event: dict[str, Any]) -> None:
    """One event appended as a line, under the file's lock."""
    with open(path, "ab") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.write(orjson.dumps(event) + b"\n")
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def reader_settings(kcfg: KafkaConfig) -> dict[str, Any]:
    """A throw-away reader: read_committed, never commits, its own group id."""
    from driftline.io.kafka_settings import client_settings

    return client_settings(kcfg, "changelog",
                           **{"group.id": f"driftline-investigate-{uuid.uuid4().hex[:8]}"})


def read_topic(kcfg: KafkaConfig, topic: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every incident CloudEvent of ``topic`` up to its end (read_committed)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer(reader_settings(kcfg))
    out: list[dict[str, Any]] = []
    try:
        md = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None or not md.partitions:
            raise SourceError(f"topic {topic}: not found on {kcfg.bootstrap}")
        parts = sorted(md.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        pending, deadline = set(parts), time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise SourceError(f"topic {topic}: end not reached within {timeout:.0f}s")
            for m in consumer.consume(num_messages=1000, timeout=0.5):
                err = m.error()
                if err is None:
                    where = f"{topic}[{m.partition()}]@{m.offset()}"
                    try:
                        obj = orjson.loads(m.value() or b"")
                    except orjson.JSONDecodeError as exc:
                        raise HistoryError(f"{where}: not JSON ({exc})") from exc
                    out.append(validate(obj, where))
                elif err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(m.partition())
                else:
                    raise SourceError(f"topic {topic}: {err}")
    finally:
        consumer.close()
    return out


def produce(kcfg: KafkaConfig, topic: str, event: dict[str, Any], timeout: float = 30.0) -> None:
    """One action produced (idempotent producer), keyed by its incident id; waits for delivery."""
    from confluent_kafka import KafkaError, Producer

    from driftline.io.kafka_settings import client_settings

    errors: list[KafkaError] = []
    producer = Producer(client_settings(kcfg, "producer"))
    producer.produce(topic, orjson.dumps(event), str(event["subject"]).encode(),
                     headers=[("content-type", CLOUDEVENTS_JSON)],
                     on_delivery=lambda err, _m: errors.append(err) if err else None)
    left = producer.flush(timeout)
    if left or errors:
        raise SinkError(f"topic {topic}: the action was not delivered "
                          f"({errors[0] if errors else f'timeout after {timeout:.0f}s'})")
