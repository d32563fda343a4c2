"""What the runtime's modules share: the settings, the Kafka clients, the partitions held and
the counters. ``Runtime`` (loop.py) is a Context with the loop on top; partitions.py,
commit.py, rewind.py and resets.py are functions of one, so none of them needs the loop."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from driftline.config import Config
from driftline.engine import Engine
from driftline.errors import SinkError
from driftline.io.checkpoint import Invalid
from driftline.io.kafka_sink import TransactionalSink, topic_id_of
from driftline.io.kafka_source import ChangelogReader, KafkaSource
from driftline.labels.join import LabelJoin
from driftline.logging import get_logger
from driftline.metrics import Metrics
from driftline.runtime.part import Part
from driftline.runtime.placement import Placement
from driftline.runtime.stats import Stats
from driftline.runtime.stop import Stop

DEAD_LETTER_HEADROOM = 64 * 1024  # room for a dead letter's key, headers and batch overhead


class Context:
    """The shared state of one ``driftline run`` process. Builds no connection: the clients
    connect when the loop starts."""

    def __init__(self, config: Config, *, reference: Any = None,
                 reference_events: list[bytes] | None = None, window: str | None = None,
                 metrics: Metrics | None = None, instance_id: str | None = None,
                 shutdown_timeout: float = 30.0, layer: str | None = None,
                 label_join: LabelJoin | None = None) -> None:
        self.config = config
        #: the monitors' layer this runtime judges (None: all) and the labels its engines join
        self.layer, self.label_join = layer, label_join
        k = self.kcfg = config.kafka
        self.log = get_logger("driftline.run")
        self.metrics = metrics if metrics is not None else Metrics(
            segment_cardinality=config.limits.metric_segment_cardinality)
        self.reference, self.reference_events, self.window = reference, reference_events, window
        self.topic = k.input_topic
        self.group = k.group_id
        self.source = KafkaSource(k, self.log, error_cb=self.client_error)
        # the consumer's resolved settings: a static member id given as {env: POD_NAME}
        # (shared or in the nested consumer map) is each replica's own value, not the raw map
        static_id = self.source.settings.get("group.instance.id")
        self.instance_id = instance_id or (str(static_id) if static_id else config.instance)
        self.transactional_id = k.transactional_id or f"driftline-{self.group}-{self.instance_id}"
        self.stop = Stop(shutdown_timeout, self.log)
        self.parts: dict[int, Part] = {}
        self.parked: dict[int, Part] = {}  # committed on revoke, reused if they come back
        self.admin: Any = None  # created when the loop starts
        self.topic_id: str | None = None
        self.stats = Stats()
        self.placement = Placement(self.metrics, self.log)
        self.input_partitions = 0  # the input topic's partition count, once known
        self.changelog_partitions = 1
        self.fatal: KafkaError | None = None  # the consumer cannot continue
        self.fenced: list[float] = []  # when the producer was fenced lately
        self.broken = False  # a commit failed beyond repair: never commit again
        self.revoking = False  # inside on_revoke: the partitions are going away anyway
        self.last_activity = time.monotonic()
        self._quiet: dict[int, float] = {}
        self.sink = TransactionalSink(k, self.transactional_id, self.log,
                                      error_cb=self.producer_error)
        # one changelog per group by default: a changelog partition shared with other groups
        # holds their open transactions too, which read_committed restores wait for
        self.changelog_topic = k.changelog_topic or f"{self.group}.changelog"
        self.changelog = ChangelogReader(k, self.changelog_topic, self.log)
        # dead letters are cut to fit the producer's message.max.bytes: an oversize input can
        # be any size the input topic accepts, and one that cannot be published would fail
        # every transaction carrying it (abort, rewind, the same message again, forever)
        producer_max = int(self.sink.settings.get("message.max.bytes", 1_000_000))
        self.dead_letter_max = max(1024, producer_max - DEAD_LETTER_HEADROOM)
        # open incidents and statistics: read at scrape time from the engines held now
        self.metrics.watch(lambda: [p.engine.gauges for p in list(self.parts.values())])

    def engine(self, state: dict[str, Any] | None) -> Engine:
        """A partition's engine: new, or restored from a checkpoint's state."""
        engine = Engine(self.config, reference=self.reference,
                        reference_events=self.reference_events, window=self.window,
                        metrics=self.metrics, origin={"source": "kafka", "topic": self.topic},
                        labels=self.label_join, layer=self.layer)
        if state is not None:
            engine.restore(state)
        return engine

    def offset_metadata(self, part: Part) -> str | None:
        """What the committed offset of ``part`` carries besides the offset (None: nothing).
        Any member of the group can read it; the performance layer says there how old a
        label its committed state may still need."""
        return None

    def forget_unread(self, partition: int) -> None:
        """The partition's position moves back (a rewind, a reset): whatever was read past
        it and not processed yet is read again. Nothing is held here; a runtime that holds
        messages before processing them (the performance layer) drops them."""

    def refresh_topic_id(self) -> str | None:
        """The input topic's id now (it changes when the topic is deleted and created again)."""
        if self.admin is None:
            return self.topic_id
        try:
            self.topic_id = topic_id_of(self.admin, self.topic) or self.topic_id
        except (KafkaException, SinkError) as exc:
            self.log.warning("topic id unavailable", topic=self.topic, error=str(exc))
        return self.topic_id

    def invalid(self, bad: Invalid) -> None:
        """A changelog record that was skipped: logged and counted."""
        self.log.error("changelog record skipped", reason=bad.reason, key=bad.key,
                       detail=bad.detail, changelog=self.changelog_topic)
        self.metrics.checkpoint_invalid.labels(bad.reason).inc()
        self.stats.checkpoint_invalid[bad.reason] += 1

    def count_reset(self, reason: str) -> None:
        """An input reset (its ``input reset`` log line is the caller's: it knows the detail)."""
        self.metrics.input_resets.labels(reason).inc()
        self.stats.input_resets[reason] += 1

    def producer_error(self, err: KafkaError) -> None:
        """A fatal producer error fails the next transaction, which replaces the producer."""
        if err.fatal():
            self.log.warning("producer fatal error", error=str(err))
            return
        self.client_error(err)

    def client_error(self, err: KafkaError) -> None:
        if err.fatal():  # the consumer cannot continue (e.g. its static member id fenced)
            self.fatal = err
            self.log.error("kafka client fatal error", error=str(err))
            return
        now = time.monotonic()
        code = err.code()
        if code in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
                    KafkaError._RESOLVE, KafkaError._TIMED_OUT):
            self.last_activity = now  # unreachable brokers: not idle, just cut off
        if now - self._quiet.get(code, -1e9) >= 10.0:  # one line per error kind per 10 s
            self._quiet[code] = now
            self.log.warning("kafka client error", error=str(err))
