"""The loop: poll → accept → feed the partition's engine → collect its output → commit,
until a stop is requested (signal, ``stop_when``) or the input has been idle long enough."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from driftline.config import Config, parse_duration
from driftline.engine import Output
from driftline.errors import SinkError, SourceError
from driftline.io.kafka_settings import Role, client_settings, overridden, secret_keys
from driftline.io.kafka_sink import (
    CHANGELOG_CONFIG,
    admin_client,
    dead_letter_record,
    ensure_topics,
    partitions_of,
    topic_id_of,
)
from driftline.io.kafka_source import PartitionBatch
from driftline.labels.join import LabelJoin
from driftline.metrics import Metrics
from driftline.redact import redact
from driftline.runtime import commit, partitions, resets, stats
from driftline.runtime.context import Context
from driftline.runtime.part import Part

LAG_EVERY = 5.0  # seconds between consumer lag/position updates
INPUT_CHECK_EVERY = 10.0  # seconds between checks that the input topic is still the same
PENDING_RECORDS_MAX = 50_000  # commit early when this much output is waiting
POLL_TIMEOUT = 0.1


class Runtime(Context):
    """``driftline run``: the consume → detect → transactional commit loop."""

    def __init__(self, config: Config, *, reference: Any = None,
                 reference_events: list[bytes] | None = None, window: str | None = None,
                 metrics: Metrics | None = None, instance_id: str | None = None,
                 until_idle: float | None = None, shutdown_timeout: float = 30.0,
                 stop_when: Callable[[Runtime], bool] | None = None, layer: str | None = None,
                 label_join: LabelJoin | None = None) -> None:
        super().__init__(config, reference=reference, reference_events=reference_events,
                         window=window, metrics=metrics, instance_id=instance_id,
                         shutdown_timeout=shutdown_timeout, layer=layer, label_join=label_join)
        self.batch_size = self.kcfg.batch_size
        self.commit_interval = parse_duration(self.kcfg.commit_interval)
        self.until_idle = until_idle
        self.stop_when = stop_when
        self._joined = False  # idle only counts once the group has given us an assignment

    # -- life cycle ----------------------------------------------------------------------------
    def run(self, install_signals: bool = True) -> dict[str, Any]:
        """Run until stopped (SIGTERM/SIGINT, ``stop_when``) or idle; returns the summary."""
        previous = self.stop.install_signals() if install_signals else {}
        try:
            self._start()
            while not self.stop.requested:
                self._step()
                now = time.monotonic()
                if self.until_idle is not None and self._joined \
                        and now - self.last_activity >= self.until_idle \
                        and self._brokers_reachable():
                    if self._drain():
                        self.log.info("idle: everything committed, exiting",
                                      idle_seconds=self.until_idle)
                        break
                    self.last_activity = now
                if self.stop_when is not None and self.stop_when(self):
                    self.request_stop("stop_when")
            if self.stop.requested:
                self.log.info("stopping", reason=self.stop.reason)
                self.commit(deadline=self.stop.deadline())
        finally:
            self._close()
            self.stop.restore_signals(previous)
        return self.summary()

    def request_stop(self, reason: str) -> None:
        """Finish the batch in hand, commit, close (bounded by ``shutdown_timeout``)."""
        self.stop.request(reason)

    def commit(self, deadline: float | None = None) -> bool:
        """One transaction of output, checkpoints and offsets (commit.py); False if it failed."""
        return commit.commit(self, deadline)

    def summary(self) -> dict[str, Any]:
        """Totals over the partitions this instance holds (restored state included)."""
        held = {**self.parked, **self.parts}  # after close() the last states are parked
        return stats.summary(self.stats, held, group_id=self.group, input_topic=self.topic,
                             transactional_id=self.transactional_id,
                             producer_recreated=self.sink.recreated,
                             placement=self.placement.summary())

    def _start(self) -> None:
        k = self.kcfg
        secrets = secret_keys(k)
        roles: tuple[Role, ...] = ("consumer", "producer")
        for role in roles:
            for key in overridden(k, role):
                self.log.warning("setting overridden: driftline needs it for exactly-once",
                                 setting=key, client=role)
        self.log.info("kafka", input_topic=self.topic, group_id=self.group,
                      changelog_topic=self.changelog_topic,
                      instance_id=self.instance_id, transactional_id=self.transactional_id,
                      consumer=redact(self.source.settings, secrets),
                      producer=redact(self.sink.settings, secrets),
                      admin=redact(client_settings(k, "admin"), secrets))
        self.admin = admin_client(k, self.log)
        if not self._ensure_topics():
            return  # stopped before it started: nothing to commit
        self.sink.start(self.stop.give_up)
        if self.stop.requested:
            return
        self.source.open(self._on_assign, self._on_revoke, self._on_lost)
        self._next_commit = time.monotonic() + self.commit_interval
        self._next_lag = time.monotonic() + LAG_EVERY
        self._next_input_check = time.monotonic() + INPUT_CHECK_EVERY

    def _ensure_topics(self) -> bool:
        """The output topics and the changelog, with the input's partition count (retried
        while the brokers are away); False if a stop came first."""
        k, admin = self.kcfg, self.admin
        while True:
            try:
                n_input = partitions_of(admin, self.topic)
                if n_input is None:
                    self.log.warning("input topic does not exist (yet): output topics get "
                                     "1 partition; consuming starts once it exists",
                                     topic=self.topic)
                n = n_input or 1
                self.input_partitions = n_input or 0
                ensure_topics(admin, {k.incident_topic: (n, {}), k.dead_letter_topic: (n, {}),
                                      self.changelog_topic: (n, CHANGELOG_CONFIG)}, self.log)
                self.changelog_partitions = partitions_of(admin, self.changelog_topic) or 1
                self.topic_id = topic_id_of(admin, self.topic) if n_input else None
                return True
            except (KafkaException, SinkError) as exc:
                if self.stop.requested:
                    return False
                if self.stop.give_up():
                    raise SourceError(f"brokers unavailable at start-up: {exc}") from exc
                self.log.warning("brokers unavailable, retrying", error=str(exc))
                time.sleep(1.0)

    def _close(self) -> None:
        try:
            self.source.close()  # eager protocol: revokes (and commits, if anything is left)
        except (KafkaException, RuntimeError) as exc:
            self.log.warning("consumer close failed", error=str(exc))
        self.sink.close()

    # -- the loop ------------------------------------------------------------------------------
    def _step(self) -> None:
        try:
            batches, errors = self.source.poll(self.batch_size, POLL_TIMEOUT)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.fatal():
                raise SourceError(f"consumer failed: {err}") from exc
            self.log.warning("consume failed", error=str(exc))
            batches, errors = {}, []
        for partition, err in errors:
            if err.code() == KafkaError._AUTO_OFFSET_RESET and partition is not None:
                resets.out_of_range(self, partition, err)
            else:
                self.client_error(err)
        if self.fatal is not None:
            raise SourceError(f"consumer failed: {self.fatal}")
        now = time.monotonic()
        if batches:
            self.last_activity = now
            if self.stats.first_message is None:
                self.stats.first_message = now
            for p, pb in batches.items():
                self._accept(p, pb)
        pending = sum(len(p.incidents) + len(p.dead) for p in self.parts.values()
                      if not p.warming)
        if now >= self._next_commit or pending >= PENDING_RECORDS_MAX:
            self.commit()
            done = time.monotonic()
            # time blocked in a commit (a broker away) is not time without new events
            self.last_activity += max(0.0, done - now - 1.0)
            self._next_commit = done + self.commit_interval
        self.sink.poll()  # serve the producer's log and error callbacks
        if now >= self._next_lag:
            stats.update_lag(self.metrics, self.source, self.parts)
            self._next_lag = now + LAG_EVERY
        if now >= self._next_input_check:
            resets.check_input(self)
            self._next_input_check = time.monotonic() + INPUT_CHECK_EVERY

    def _accept(self, p: int, pb: PartitionBatch) -> None:
        part = self.parts.get(p)
        if part is None:
            return  # a message of a partition no longer ours (fetched before a revoke)
        if part.next_offset is not None:
            pb = pb.after(part.next_offset)  # what a rewind re-reads, from before the seek
        if not len(pb):
            return
        self.stats.consumed += len(pb)
        if part.base_offset is None:
            part.base_offset = int(pb.offsets[0])
        if part.engine.decoder is None:  # the engine holds its prelude: remember the keys
            for offset, msg in zip(pb.offsets.tolist(), pb.messages, strict=True):
                key = msg.key()
                if isinstance(key, bytes):
                    part.prelude_keys[offset] = key
        self._feed(part, pb)

    def _feed(self, part: Part, pb: PartitionBatch) -> None:
        if part.suppress_until is not None and int(pb.offsets[0]) < part.suppress_until:
            # events whose output a committed transaction holds: process, publish nothing
            cut = int(np.searchsorted(pb.offsets, part.suppress_until))
            before, pb = pb.until(cut), pb.after(part.suppress_until)
            out = part.engine.process(before.values, before.offsets,
                                      np.full(len(before), before.partition, np.int64))
            part.next_offset = int(before.offsets[-1]) + 1
            part.dirty = True
            self.log.info("caught up on published output", partition=part.partition,
                          offsets=[int(before.offsets[0]), int(before.offsets[-1])],
                          suppressed_incidents=len(out.incidents),
                          suppressed_dead_letters=len(out.dead_letters))
            if not len(pb):
                return
        out = part.engine.process(pb.values, pb.offsets,
                                  np.full(len(pb), pb.partition, np.int64))
        part.next_offset = int(pb.offsets[-1]) + 1
        part.dirty = True
        self._collect(part, out, pb)

    def _collect(self, part: Part, out: Output, pb: PartitionBatch | None) -> None:
        if pb is not None:
            self.placement.observe(pb, out.models, {d.position for d in out.dead_letters},
                                   self.input_partitions)
        for ev in out.incidents:
            part.incidents.append(ev)
        for notice in out.notices:
            self.log.warning("coverage", partition=part.partition, notice=notice)
        topic = self.kcfg.dead_letter_topic
        held = part.prelude_keys
        for d in out.dead_letters:
            key = pb.key_at(d.position) if pb is not None else None
            if key is None:
                key = held.get(d.position)  # a message the prelude held since an earlier batch
            part.dead.append(dead_letter_record(topic, d, self.topic, key,
                                                self.dead_letter_max))
        if part.engine.decoder is not None:
            part.prelude_keys = {}

    def _brokers_reachable(self) -> bool:
        """No new events only means idle if the brokers answer (not during an outage)."""
        try:
            if self.parts:
                p = min(self.parts)
                self.source.c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=3.0)
            else:
                self.source.c.list_topics(self.topic, timeout=3.0)
            return True
        except KafkaException as exc:
            self.log.info("no new events, but the brokers do not answer: not idle",
                          error=str(exc))
            self.last_activity = time.monotonic()
            return False

    def _drain(self) -> bool:
        """Idle exit: the input has ended; close every complete window and commit it all."""
        for part in self.parts.values():
            if part.next_offset is None:
                continue  # nothing read
            out = part.engine.finish()  # also starts an engine still holding its prelude
            part.dirty = True
            self._collect(part, out, None)
        return self.commit()

    # -- rebalance callbacks (partitions.py) ---------------------------------------------------
    def _on_assign(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        partitions.assign(self, consumer, tps)
        self._count_input_partitions(tps)
        self._joined = True

    def _count_input_partitions(self, tps: list[TopicPartition]) -> None:
        """The input's partition count (it may have been created or grown since the start)."""
        held = [tp.partition + 1 for tp in tps if tp.topic == self.topic]
        try:
            n = partitions_of(self.admin, self.topic, timeout=3.0) if self.admin else None
        except (KafkaException, SinkError) as exc:
            self.log.warning("input partition count unavailable", error=str(exc))
            n = None
        self.input_partitions = max(self.input_partitions, n or 0, *held, 0)

    def _on_revoke(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        gone = [tp.partition for tp in tps if tp.topic == self.topic]
        self.revoking = True
        try:
            ok = self.commit(deadline=self.stop.deadline() if self.stop.requested else None)
        finally:
            self.revoking = False
        partitions.revoked(self, gone, ok)

    def _on_lost(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        partitions.lost(self, [tp.partition for tp in tps if tp.topic == self.topic])
