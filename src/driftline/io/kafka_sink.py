"""Kafka sinks: the transactional producer, output records, topic creation, the demo producer.

One transaction per commit holds everything a commit publishes (incident CloudEvents, dead
letters, state checkpoints) and the consumer offsets (``send_offsets_to_transaction`` with the
consumer's group metadata, KIP-447). Errors are classified the way librdkafka documents them:

- *retriable* (a timeout while the broker is away): the same call is retried, in the same
  transaction, until the commit's deadline;
- *abortable* (``txn_requires_abort``): the transaction is aborted; the caller rewinds;
- *fatal* (the producer was fenced, or its epoch is gone): the producer is replaced by a new
  one with the same ``transactional.id`` (``init_transactions`` fences any zombie of it); the
  caller rewinds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # where admin's re-export comes from

from driftline.config import KafkaConfig
from driftline.decode import DeadLetter
from driftline.errors import SinkError
from driftline.io.kafka_settings import client_settings
from driftline.io.kafka_source import rdkafka_logger

CLOUDEVENTS_JSON = b"application/cloudevents+json"
#: the changelog is compacted; small segments so the cleaner can keep up with full snapshots
CHANGELOG_CONFIG = {"cleanup.policy": "compact", "segment.bytes": str(64 << 20),
                    "segment.ms": str(10 * 60 * 1000), "min.cleanable.dirty.ratio": "0.2"}


@dataclass(frozen=True)
class Record:
    """One message to publish: topic, key, value, headers, and an explicit partition or -1."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, str | bytes | None]]
    partition: int = -1


def incident_record(topic: str, event: dict[str, Any]) -> Record:
    """An incident CloudEvent (structured JSON mode), keyed by its incident id."""
    return Record(topic, str(event["subject"]).encode(), orjson.dumps(event),
                  [("content-type", CLOUDEVENTS_JSON)])


def dead_letter_record(topic: str, d: DeadLetter, source_topic: str, key: bytes | None,
                       max_bytes: int | None = None) -> Record:
    """The original bytes, with why and where from as headers.

    A value longer than ``max_bytes`` is cut to its first ``max_bytes`` bytes (headers
    ``truncated=1`` and ``original.size``): an oversize input may exceed what the producer or
    the broker accepts, and a dead letter that cannot be published would fail every
    transaction that carries it, stalling its partition for good.
    """
    headers: list[tuple[str, str | bytes | None]] = [
        ("reason", d.reason.encode()), ("detail", d.detail.encode()),
        ("source.topic", source_topic.encode()), ("source.partition", str(d.partition).encode()),
        ("source.offset", str(d.position).encode())]
    value = d.raw
    if max_bytes is not None and len(value) > max_bytes:
        headers += [("truncated", b"1"), ("original.size", str(len(value)).encode())]
        value = value[:max_bytes]
    return Record(topic, key, value, headers)


class TransactionError(SinkError):
    """A transaction did not commit; the producer has been replaced, the caller must rewind."""

    def __init__(self, kind: str, error: KafkaError | str) -> None:
        super().__init__(f"transaction {kind}: {error}")
        self.kind = kind  # "retriable" | "abortable" | "fatal" | "wedged"
        self.error = error
        self.outcome = "aborted"  # or "unknown": commit_transaction was under way

    @property
    def fenced(self) -> bool:
        """Another producer with our transactional.id took over (a twin, not an outage)."""
        return isinstance(self.error, KafkaError) and self.error.code() in (
            KafkaError._FENCED, KafkaError.PRODUCER_FENCED)


def _kafka_error(exc: BaseException) -> KafkaError | None:
    arg = exc.args[0] if exc.args else None
    return arg if isinstance(arg, KafkaError) else None


class TransactionalSink:
    """A transactional, idempotent producer and the commit protocol around it.

    The blocking transactional calls run on a helper thread under a watchdog: librdkafka can
    block in ``send_offsets_to_transaction`` past its timeout after a broker outage
    (confluentinc/librdkafka#5456, #5511). A call still blocked ``WATCHDOG_SLACK`` seconds
    after its own timeout counts as "wedged": the producer is abandoned and replaced.
    """

    API_TIMEOUT = 10.0
    WATCHDOG_SLACK = 20.0

    def __init__(self, cfg: KafkaConfig, transactional_id: str, log: Any,
                 error_cb: Callable[[KafkaError], None] | None = None) -> None:
        self.transactional_id = transactional_id
        self.settings = client_settings(cfg, "producer",
                                        **{"transactional.id": transactional_id})
        self._txn_timeout = float(self.settings.get("transaction.timeout.ms", 60000)) / 1000
        self._log = log
        self._error_cb = error_cb
        self.producer: Producer | None = None
        self.abandoned: list[Producer] = []  # producers with a call stuck in them
        self._busy = False  # a call is running on the helper thread
        self.recreated = 0

    # -- life cycle ----------------------------------------------------------------------
    def start(self, give_up: Callable[[], bool]) -> None:
        """Create the producer and register the transactional id (retried while brokers are away)."""
        conf = dict(self.settings, logger=rdkafka_logger(self._log, "producer"))
        if self._error_cb is not None:
            conf["error_cb"] = self._error_cb
        producer = self.producer = Producer(conf)
        while True:
            try:
                self._api(partial(producer.init_transactions, self.API_TIMEOUT), give_up)
                return
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is not None and err.fatal():
                    raise SinkError(f"init_transactions failed: {err}") from exc
                if give_up():
                    raise SinkError(f"init_transactions did not complete: {exc}") from exc
                self._log.warning("init_transactions waiting for the brokers", error=str(exc))
            except TransactionError as exc:  # wedged
                if give_up():
                    raise SinkError(f"init_transactions did not complete: {exc}") from exc
                self.abandoned.append(producer)
                self._busy = False
                producer = self.producer = Producer(conf)

    def recreate(self, give_up: Callable[[], bool]) -> None:
        """A new producer, same transactional id: its init_transactions aborts whatever the
        old one left open on the coordinator and fences the old one for good."""
        self.recreated += 1
        old, self.producer = self.producer, None
        if old is not None:
            if self._busy:  # a call is stuck in it: keep it alive, never block on it
                self.abandoned.append(old)
                self._busy = False
            else:
                try:
                    old.purge()
                    old.flush(0)
                except (KafkaException, RuntimeError):
                    pass
        self.start(give_up)

    def poll(self) -> None:
        if self.producer is not None and not self._busy:
            self.producer.poll(0)

    def close(self) -> None:
        if self.producer is not None and not self._busy:
            self.producer.flush(5)
        self.producer = None

    @property
    def p(self) -> Producer:
        assert self.producer is not None, "start() first"
        return self.producer

    def _api(self, fn: Callable[[], Any], give_up: Callable[[], bool],
             timeout: float | None = None) -> Any:
        """Run one blocking transactional call on a helper thread, under the watchdog.

        A daemon thread per call (tens of microseconds, a few per commit): one that never
        returns must not keep the process from exiting.
        """
        limit = max(timeout or self.API_TIMEOUT, self._txn_timeout) + self.WATCHDOG_SLACK
        box: list[Any] = []

        def target() -> None:
            try:
                box.append((True, fn()))
            except BaseException as exc:  # handed to the caller below
                box.append((False, exc))

        t0 = time.monotonic()
        self._busy = True
        worker = threading.Thread(target=target, name="driftline-txn", daemon=True)
        worker.start()
        while True:
            worker.join(0.25)
            if box:
                self._busy = False
                ok, value = box[0]
                if ok:
                    return value
                raise value
            if time.monotonic() - t0 > limit or give_up():
                raise TransactionError(
                    "wedged", f"a transactional call blocked {time.monotonic() - t0:.0f}s")

    # -- the transaction -------------------------------------------------------------------
    def commit(self, records: Iterable[Record], offsets: list[TopicPartition],
               group_metadata: Any, deadline: float, give_up: Callable[[], bool]) -> int:
        """Publish ``records`` and commit ``offsets`` atomically; returns the records written.

        Raises ``TransactionError`` after aborting what can be aborted and replacing the
        producer. ``outcome`` says whether the transaction is known not to have committed
        ("aborted": the caller rewinds) or may have ("unknown": ``commit_transaction`` was
        under way when it failed; the new producer's ``init_transactions`` has completed it
        either way, and the caller must look at what reached the changelog).
        """
        p = self.p
        n = 0
        phase = "produce"
        try:
            self._once(p.begin_transaction, give_up)
            for r in records:
                self._produce(p, r, deadline, give_up)
                n += 1
            if offsets:
                self._once(lambda: p.send_offsets_to_transaction(offsets, group_metadata,
                                                                 self.API_TIMEOUT), give_up)
            phase = "commit"
            while True:  # a timed-out commit is retried, never aborted: it may be on its way
                try:
                    self._once(lambda: p.commit_transaction(self.API_TIMEOUT), give_up)
                    return n
                except TransactionError as exc:
                    if exc.kind != "retriable" or time.monotonic() > deadline or give_up():
                        raise
                    self._log.warning("commit_transaction retried", error=str(exc.error))
        except TransactionError as exc:
            exc.outcome = "unknown" if phase == "commit" and exc.kind != "abortable" \
                else "aborted"
            if exc.kind in ("abortable", "retriable") and exc.outcome == "aborted":
                try:  # end it on the coordinator now (the new producer would do it anyway)
                    self._once(lambda: p.abort_transaction(self.API_TIMEOUT), give_up)
                except TransactionError as again:
                    self._log.warning("abort failed", error=str(again))
            # librdkafka may keep a producer in a bad state after an outage (sequence
            # numbers, a stuck coordinator request): always start over with a new one
            self.recreate(give_up)
            raise

    @staticmethod
    def _classify(exc: KafkaException) -> str:
        err = _kafka_error(exc)
        if err is None:
            return "abortable"
        if err.fatal():
            return "fatal"
        if err.txn_requires_abort():
            return "abortable"
        if err.retriable():
            return "retriable"
        # _STATE / _CONFLICT / other: the transaction state is unknown; abort and start over
        return "abortable"

    def _once(self, fn: Callable[[], Any], give_up: Callable[[], bool]) -> Any:
        """One transactional call; its failure as a classified ``TransactionError``."""
        try:
            return self._api(fn, give_up)
        except KafkaException as exc:
            raise TransactionError(self._classify(exc), _kafka_error(exc) or str(exc)) from exc

    def _produce(self, p: Producer, r: Record, deadline: float,
                 give_up: Callable[[], bool]) -> None:
        while True:
            try:
                p.produce(r.topic, r.value, r.key, partition=r.partition, headers=r.headers)
                return
            except BufferError:
                p.poll(0.1)  # the local queue is full (brokers slow or away): wait for room
                if time.monotonic() > deadline or give_up():
                    raise TransactionError("abortable", "local produce queue full") from None
            except KafkaException as exc:
                kind = self._classify(exc)
                raise TransactionError("fatal" if kind == "fatal" else "abortable",
                                       _kafka_error(exc) or str(exc)) from exc


# -- topics ----------------------------------------------------------------------------------
def partitions_of(admin: AdminClient, topic: str, timeout: float = 10.0) -> int | None:
    """The topic's partition count, or None if it does not exist."""
    md = admin.list_topics(topic=topic, timeout=timeout).topics.get(topic)
    if md is None or md.error is not None:
        return None
    return len(md.partitions)


def topic_id_of(admin: AdminClient, topic: str, timeout: float = 10.0) -> str | None:
    """The topic's id (a new one each time a topic of that name is created), if it exists."""
    from confluent_kafka import TopicCollection

    try:
        futures = admin.describe_topics(TopicCollection([topic]), request_timeout=timeout)
        desc = futures[topic].result(timeout=timeout)
    except KafkaException as exc:
        err = _kafka_error(exc)
        if err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            return None
        raise
    except TimeoutError as exc:  # the brokers are away: the caller keeps what it knew
        raise SinkError(f"describe_topics({topic}) timed out after {timeout:.0f}s") from exc
    return str(desc.topic_id) if getattr(desc, "topic_id", None) is not None else None


def ensure_topics(admin: AdminClient, topics: dict[str, tuple[int, dict[str, str]]],
                  log: Any, timeout: float = 30.0) -> None:
    """Create the missing ones of ``{name: (partitions, config)}``; wait until they have leaders."""
    missing = [NewTopic(name, num_partitions=n, replication_factor=-1, config=cfg)
               for name, (n, cfg) in topics.items() if partitions_of(admin, name) is None]
    if missing:
        futures = admin.create_topics(missing, operation_timeout=timeout)
        for name, fut in futures.items():
            try:
                fut.result(timeout=timeout)
                log.info("topic created", topic=name)
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is None or err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise SinkError(f"cannot create topic {name}: {exc}") from exc
    deadline = time.monotonic() + timeout
    for name in topics:
        while True:
            md = admin.list_topics(topic=name, timeout=5).topics.get(name)
            if md is not None and md.error is None and md.partitions and \
                    all(p.leader >= 0 for p in md.partitions.values()):
                break
            if time.monotonic() > deadline:
                raise SinkError(f"topic {name} has no leader after {timeout:.0f}s")
            time.sleep(0.2)


def admin_client(cfg: KafkaConfig, log: Any) -> AdminClient:
    conf: dict[str, Any] = dict(client_settings(cfg, "admin"))
    conf["logger"] = rdkafka_logger(log, "admin")
    return AdminClient(conf)


# -- the demo producer ------------------------------------------------------------------------
def paced(chunks: Iterable[list[tuple[bytes | None, bytes]]], rate: float, step: int = 200,
          ) -> Iterator[list[tuple[bytes | None, bytes]]]:
    """Re-chunk to ``step`` messages, sleeping so at most ``rate`` pass per second (0: no limit)."""
    t0 = time.monotonic()
    sent = 0
    for chunk in chunks:
        for i in range(0, len(chunk), step):
            part = chunk[i:i + step]
            if rate > 0:
                ahead = sent / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            yield part
            sent += len(part)


def produce_all(producer: Producer, topic: str,
                chunks: Iterable[list[tuple[bytes | None, bytes]]], timeout: float = 60.0,
                partition: Callable[[bytes | None], int] | None = None) -> int:
    """Produce every (key, value) (retrying a full local queue); fails unless all were delivered."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    n = 0
    for chunk in chunks:
        for key, value in chunk:
            part = -1 if partition is None else partition(key)
            while True:
                try:
                    producer.produce(topic, value, key, partition=part, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.05)
            n += 1
        producer.poll(0)
        if errors:
            raise SinkError(f"delivery failed: {errors[0]}")
    left = producer.flush(timeout)
    if left or errors:
        raise SinkError(f"{left} messages undelivered, {len(errors)} failed "
                        f"({errors[0] if errors else 'timeout'})")
    return n
