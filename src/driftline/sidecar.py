"""The Kafka run loop (``driftline run``): consume, detect, and commit exactly once.

State model: one ``Engine`` per assigned input partition (the input is partitioned by
``model_id``, so a model's events meet in one engine). Its checkpoint — ``snapshot()`` and the
next offset — lives in a compacted changelog topic under ``<group>/<topic>/<partition>``.

Every ``kafka.commit_interval`` (and on revoke, SIGTERM and idle exit) ``commit`` runs ONE
transaction holding the incident CloudEvents, the dead letters, the checkpoints of the
partitions whose state changed, and the consumer offsets (``send_offsets_to_transaction``).
The offsets advance only together with the state that covers them. When a transaction fails
everything is rewound to the last committed checkpoint (engines restored, consumer re-seeked)
and the same input is processed again: the engine is deterministic, so the same incidents
with the same CloudEvent ids come out.

On assignment a partition's engine is restored from the changelog (read_committed, up to its
end) and consumption resumes at the checkpoint's offset, which equals the group's committed
offset (both are written by one transaction). With the eager protocol every rebalance revokes
everything: the engines committed on revoke are kept ("parked") and reused, without a restore,
when the partition comes back and the changelog still holds exactly their checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from driftline.config import Config, parse_duration
from driftline.engine import Engine, Output
from driftline.errors import CheckpointError, SinkError, SourceError, StateError
from driftline.io.checkpoint import Checkpoint, Invalid, changelog_key, decode, encode, to_records
from driftline.io.kafka_settings import Role, client_settings, overridden, secret_keys
from driftline.io.kafka_sink import (
    CHANGELOG_CONFIG,
    Record,
    TransactionalSink,
    TransactionError,
    admin_client,
    dead_letter_record,
    ensure_topics,
    incident_record,
    partitions_of,
    topic_id_of,
)
from driftline.io.kafka_source import ChangelogReader, KafkaSource, PartitionBatch
from driftline.io.recovery import plan
from driftline.logging import get_logger
from driftline.metrics import Metrics
from driftline.redact import redact
from driftline.totals import Totals

LAG_EVERY = 5.0  # seconds between consumer lag/position updates
INPUT_CHECK_EVERY = 10.0  # seconds between checks that the input topic is still the same
PENDING_RECORDS_MAX = 50_000  # commit early when this much output is waiting
COMMIT_RETRY_SECONDS = 120.0  # keep retrying one commit through a broker outage this long
FENCED_MAX = 3  # producer recreations within FENCED_WINDOW before giving up
FENCED_WINDOW = 120.0
POLL_TIMEOUT = 0.1
DEAD_LETTER_HEADROOM = 64 * 1024  # room for a dead letter's key, headers and batch overhead


@dataclass
class Part:
    """One assigned input partition: its engine, committed base, progress and pending output."""

    partition: int
    engine: Engine
    base_offset: int | None  # the offset the last committed state ends at (None: not yet known)
    base_blob: bytes | None  # that state, encoded (None: a fresh engine)
    next_offset: int | None  # the position after the last processed message
    dirty: bool = False  # state changed since the last commit
    incidents: list[dict[str, Any]] = field(default_factory=list)
    dead: list[Record] = field(default_factory=list)
    #: keys of the messages a new engine holds in its prelude (their dead letters keep them)
    prelude_keys: dict[int, bytes] = field(default_factory=dict)
    slot: str = "a"  # the changelog slot the next checkpoint goes to (they alternate)
    suppress_until: int | None = None  # output before this offset was published already

    @property
    def catching_up(self) -> bool:
        """Re-reading events whose output is published: nothing to commit until past them."""
        return self.suppress_until is not None and (self.next_offset or 0) < self.suppress_until

    @property
    def warming(self) -> bool:
        """In its prelude or fitting its reference from the first windows: its state is the
        raw events so far, which the input topic keeps — nothing to checkpoint yet."""
        e = self.engine
        return len(e.prelude) > 0 or (
            e.decoder is not None and e.reference is None and e.windows is not None)


@dataclass
class Stats:
    consumed: int = 0
    commits: int = 0
    failed_commits: int = 0
    incidents_published: int = 0
    dead_letters_published: int = 0
    restored: int = 0
    checkpoint_invalid: Counter[str] = field(default_factory=Counter)
    input_resets: Counter[str] = field(default_factory=Counter)
    first_message: float | None = None
    started: float = field(default_factory=time.monotonic)


class Sidecar:
    """``driftline run``: the consume → detect → transactional commit loop."""

    def __init__(self, config: Config, *, reference: Any = None,
                 reference_events: list[bytes] | None = None, window: str | None = None,
                 metrics: Metrics | None = None, instance_id: str | None = None,
                 until_idle: float | None = None, shutdown_timeout: float = 30.0,
                 stop_when: Callable[[Sidecar], bool] | None = None) -> None:
        self.config = config
        k = self.kcfg = config.kafka
        self.log = get_logger("driftline.run")
        self.metrics = metrics if metrics is not None else Metrics(
            segment_cardinality=config.limits.metric_segment_cardinality)
        self.reference, self.reference_events, self.window = reference, reference_events, window
        self.topic = k.input_topic
        self.group = k.group_id
        self.source = KafkaSource(k, self.log, error_cb=self._client_error)
        # the consumer's resolved settings: a static member id given as {env: POD_NAME}
        # (shared or in the nested consumer map) is each replica's own value, not the raw map
        static_id = self.source.settings.get("group.instance.id")
        self.instance_id = instance_id or (str(static_id) if static_id else config.instance)
        self.transactional_id = k.transactional_id or f"driftline-{self.group}-{self.instance_id}"
        self.batch_size = k.batch_size
        self.commit_interval = parse_duration(k.commit_interval)
        self.until_idle = until_idle
        self.shutdown_timeout = shutdown_timeout
        self.stop_when = stop_when
        self.parts: dict[int, Part] = {}
        self.parked: dict[int, Part] = {}
        self.admin: Any = None  # created by _start (clients are never built in __init__)
        self.topic_id: str | None = None
        self.stats = Stats()
        self.changelog_partitions = 1
        self._stop: str | None = None
        self._stop_at: float | None = None
        self._fatal: KafkaError | None = None
        self._fenced: list[float] = []
        self._broken = False  # a commit failed beyond repair: never commit again
        self._revoking = False  # inside on_revoke: the partitions are going away anyway
        self._last_activity = time.monotonic()
        self._joined = False  # idle only counts once the group has given us an assignment
        self._quiet: dict[int, float] = {}
        self._watchdog: threading.Timer | None = None
        self.sink = TransactionalSink(k, self.transactional_id, self.log,
                                      error_cb=self._producer_error)
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

    # -- life cycle ----------------------------------------------------------------------------
    def run(self, install_signals: bool = True) -> dict[str, Any]:
        """Run until stopped (SIGTERM/SIGINT, ``stop_when``) or idle; returns the summary."""
        previous = self._install_signals() if install_signals else {}
        try:
            self._start()
            while self._stop is None:
                self._step()
                now = time.monotonic()
                if self.until_idle is not None and self._joined \
                        and now - self._last_activity >= self.until_idle \
                        and self._brokers_reachable():
                    if self._drain():
                        self.log.info("idle: everything committed, exiting",
                                      idle_seconds=self.until_idle)
                        break
                    self._last_activity = now
                if self.stop_when is not None and self.stop_when(self):
                    self.request_stop("stop_when")
            if self._stop is not None:
                self.log.info("stopping", reason=self._stop)
                self.commit(deadline=self._shutdown_deadline())
        finally:
            self._close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self._watchdog is not None:
                self._watchdog.cancel()
        return self.summary()

    def request_stop(self, reason: str) -> None:
        """Finish the batch in hand, commit, close (bounded by ``shutdown_timeout``)."""
        if self._stop is None:
            self._stop = reason
            self._stop_at = time.monotonic()

    def _shutdown_deadline(self) -> float:
        start = self._stop_at if self._stop_at is not None else time.monotonic()
        return start + max(1.0, self.shutdown_timeout - 5.0)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}

        def handler(signum: int, _frame: Any) -> None:
            name = signal.Signals(signum).name
            if self._stop is not None:
                self.log.error("second signal: exiting without commit", signal=name)
                os._exit(128 + signum)
            self.request_stop(name)
            self._watchdog = threading.Timer(self.shutdown_timeout, self._hard_exit)
            self._watchdog.daemon = True
            self._watchdog.start()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def _hard_exit(self) -> None:
        self.log.error("shutdown did not finish in time; exiting without commit",
                       timeout_seconds=self.shutdown_timeout)
        os._exit(3)

    def _give_up(self) -> bool:
        """Retry loops stop once a requested shutdown has used up its time."""
        return self._stop is not None and time.monotonic() > self._shutdown_deadline()

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
        admin = self.admin = admin_client(k, self.log)
        while True:
            try:
                n_input = partitions_of(admin, self.topic)
                if n_input is None:
                    self.log.warning("input topic does not exist (yet): output topics get "
                                     "1 partition; consuming starts once it exists",
                                     topic=self.topic)
                n = n_input or 1
                ensure_topics(admin, {k.incident_topic: (n, {}), k.dead_letter_topic: (n, {}),
                                      self.changelog_topic: (n, CHANGELOG_CONFIG)}, self.log)
                self.changelog_partitions = partitions_of(admin, self.changelog_topic) or 1
                self.topic_id = topic_id_of(admin, self.topic) if n_input else None
                break
            except (KafkaException, SinkError) as exc:
                if self._stop is not None:
                    return  # stopped before it started: nothing to commit
                if self._give_up():
                    raise SourceError(f"brokers unavailable at start-up: {exc}") from exc
                self.log.warning("brokers unavailable, retrying", error=str(exc))
                time.sleep(1.0)
        self.sink.start(self._give_up)
        if self._stop is not None:
            return
        self.source.open(self._on_assign, self._on_revoke, self._on_lost)
        self._next_commit = time.monotonic() + self.commit_interval
        self._next_lag = time.monotonic() + LAG_EVERY
        self._next_input_check = time.monotonic() + INPUT_CHECK_EVERY

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
                self._out_of_range(partition, err)
            else:
                self._client_error(err)
        if self._fatal is not None:
            raise SourceError(f"consumer failed: {self._fatal}")
        now = time.monotonic()
        if batches:
            self._last_activity = now
            if self.stats.first_message is None:
                self.stats.first_message = now
            for p, pb in batches.items():
                self._accept(p, pb, now)
        pending = sum(len(p.incidents) + len(p.dead) for p in self.parts.values()
                      if not p.warming)
        if now >= self._next_commit or pending >= PENDING_RECORDS_MAX:
            self.commit()
            done = time.monotonic()
            # time blocked in a commit (a broker away) is not time without new events
            self._last_activity += max(0.0, done - now - 1.0)
            self._next_commit = done + self.commit_interval
        self.sink.poll()  # serve the producer's log and error callbacks
        if now >= self._next_lag:
            self._update_lag()
            self._next_lag = now + LAG_EVERY
        if now >= self._next_input_check:
            self._check_input()
            self._next_input_check = time.monotonic() + INPUT_CHECK_EVERY

    def _accept(self, p: int, pb: PartitionBatch, now: float) -> None:
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
            self._last_activity = time.monotonic()
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

    # -- the checkpoint: one function, numbered steps ---------------------------------------------
    def commit(self, deadline: float | None = None) -> bool:
        """Publish output, checkpoints and offsets in one transaction; rewind if it fails."""
        # a partition still in its warm-up is not checkpointed: its state is nothing but
        # the raw events it read, which the input topic keeps anyway (a restart reads them
        # again) — so neither its offsets nor its output (dead letters) are committed yet
        if self._broken:
            return False  # see the SinkError case below
        if not self._revoking and self.parts:
            self._same_topic()  # a recreated input is reset here, its uncommitted reads dropped
        todo = [p for p in self.parts.values()
                if (p.dirty or p.incidents or p.dead) and not p.warming and not p.catching_up]
        if not todo:
            return True
        # 1. checkpoints of the partitions whose state changed; offsets only move forward
        group, topic = self.group, self.topic
        written: dict[int, tuple[int, bytes]] = {}
        records: list[Record] = []
        offsets: list[TopicPartition] = []
        meta = {"group": group, "topic": topic, "instance": self.instance_id,
                "topic_id": self.topic_id,
                "written": datetime.now(UTC).isoformat(timespec="seconds")}
        for part in todo:
            if not part.dirty:
                continue
            offset = part.next_offset
            if offset is None or (part.base_offset is not None and offset < part.base_offset):
                raise CheckpointError(f"partition {part.partition}: offset {offset} is behind "
                                      f"the committed {part.base_offset}")
            blob = encode(Checkpoint(offset, part.engine.snapshot(),
                                     dict(meta, partition=part.partition, slot=part.slot)))
            written[part.partition] = (offset, blob)
            cl_partition = part.partition % self.changelog_partitions
            records += [Record(self.changelog_topic, key.encode(), value, headers,
                               cl_partition)
                        for key, value, headers in to_records(
                            changelog_key(group, topic, part.partition, part.slot), blob)]
            offsets.append(TopicPartition(topic, part.partition, offset))
        # 2. the output: incident CloudEvents, then dead letters
        incidents = [incident_record(self.kcfg.incident_topic, ev)
                     for part in todo for ev in part.incidents]
        dead = [r for part in todo for r in part.dead]
        # 3. one transaction: output + checkpoints + offsets
        t0 = time.monotonic()
        if deadline is None:
            deadline = t0 + COMMIT_RETRY_SECONDS
        try:
            self.sink.commit([*incidents, *dead, *records], offsets,
                             self.source.c.consumer_group_metadata(), deadline, self._give_up)
        except TransactionError as exc:
            self.stats.failed_commits += 1
            if exc.outcome == "unknown":
                # commit_transaction was under way: what reached the changelog decides
                self.log.warning("transaction outcome unknown: reloading the committed state",
                                 kind=exc.kind, error=str(exc.error))
                self._reload()
            else:
                self.log.warning("transaction failed: rewinding to the last committed state",
                                 kind=exc.kind, error=str(exc.error))
                self._rewind()
            if exc.fenced:
                try:  # after the rewind: giving up must not leave the failed output pending
                    self._note_fenced()
                except SinkError:
                    self._broken = True
                    raise
            return False
        except SinkError:
            # the producer could not be replaced (recreate → init_transactions failed): the
            # failed transaction is not reconciled, so nothing may be committed any more —
            # not even on the revoke that closing the consumer runs; a restart resumes from
            # the committed state
            self.stats.failed_commits += 1
            self._broken = True
            raise
        # 4. committed: this is now the state to rewind to
        for part in todo:
            if part.partition in written:
                part.base_offset, part.base_blob = written[part.partition]
                part.slot = "b" if part.slot == "a" else "a"  # the other slot keeps this one
            part.dirty = False
            part.incidents, part.dead = [], []
        self.stats.commits += 1
        self.stats.incidents_published += len(incidents)
        self.stats.dead_letters_published += len(dead)
        self.log.debug("committed", partitions=sorted(written), incidents=len(incidents),
                       dead_letters=len(dead), seconds=round(time.monotonic() - t0, 3))
        return True

    def _note_fenced(self) -> None:
        now = time.monotonic()
        self._fenced = [t for t in self._fenced if now - t < FENCED_WINDOW] + [now]
        if len(self._fenced) > FENCED_MAX:
            raise SinkError(
                f"the producer was fenced {len(self._fenced)} times in {FENCED_WINDOW:.0f}s: "
                f"another process uses transactional.id {self.transactional_id!r}; give every "
                "replica its own instance (--instance-id, config 'instance')")

    def _rewind(self) -> None:
        """Back to the last committed checkpoint: engines restored, consumer re-seeked."""
        failed: list[tuple[int, KafkaException]] = []
        for part in self.parts.values():
            self._reset(part)
            if part.base_offset is not None:
                try:
                    self.source.seek(part.partition, part.base_offset)
                except KafkaException as exc:  # e.g. the partition is being revoked
                    self.log.warning("seek failed", partition=part.partition, error=str(exc))
                    if not self._revoking and self._owns(part.partition):
                        failed.append((part.partition, exc))
        if failed:
            # still ours but not rewound: the consumer would go on after the failed
            # transaction's input and that input would be lost. Exit instead (and commit
            # nothing more); a restart resumes from the committed state.
            self._broken = True
            p, error = failed[0]
            raise SourceError(f"{self.topic}[{p}]: cannot seek back to the committed offset "
                              f"after a failed transaction: {error}") from error

    def _owns(self, p: int) -> bool:
        """Whether the consumer still holds partition ``p`` (if unsure: yes)."""
        try:
            return any(tp.topic == self.topic and tp.partition == p
                       for tp in self.source.c.assignment())
        except (KafkaException, RuntimeError):
            return True

    def _reload(self) -> None:
        """Rewind to whatever the changelog holds now (the last transaction or the one before).

        Like ``_on_assign`` it waits for the group's stable committed offsets and a changelog
        that covers them; and it never moves a partition back: a checkpoint older than the
        one already committed (read_committed can be held back by another producer's open
        transaction on a shared changelog partition) would republish incidents.
        """
        mine = sorted(self.parts)
        committed = self.source.committed(self.source.c, mine, give_up=self._give_up) \
            if mine else {}
        found = self._read_checkpoints(mine, committed)
        for p, part in self.parts.items():
            if not found.get(p):
                continue
            checkpoint, blob = found[p][0]
            if part.base_offset is None or checkpoint.offset > part.base_offset or (
                    checkpoint.offset == part.base_offset and blob != part.base_blob):
                part.base_offset, part.base_blob = checkpoint.offset, blob
            elif checkpoint.offset < part.base_offset:
                self.log.warning("the changelog's checkpoint is older than the committed "
                                 "state: keeping the committed state", partition=p,
                                 checkpoint=checkpoint.offset, committed=part.base_offset)
        self._rewind()

    def _reset(self, part: Part) -> None:
        state = decode(part.base_blob).state if part.base_blob is not None else None
        part.engine = self._engine(state)
        part.next_offset = part.base_offset if part.base_blob is not None else None
        part.dirty = False
        part.incidents, part.dead, part.prelude_keys = [], [], {}

    def _engine(self, state: dict[str, Any] | None) -> Engine:
        engine = Engine(self.config, reference=self.reference,
                        reference_events=self.reference_events, window=self.window,
                        metrics=self.metrics, origin={"source": "kafka", "topic": self.topic})
        if state is not None:
            engine.restore(state)
        return engine

    # -- rebalance -------------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        t0 = time.monotonic()
        mine = [tp.partition for tp in tps if tp.topic == self.topic]
        committed = self.source.committed(consumer, mine, give_up=self._give_up)
        t1 = time.monotonic()
        checkpoints = self._read_checkpoints(mine, committed)
        # a state committed on revoke is reused only if it is still the changelog's newest
        # (another member may have held the partition meanwhile, even without new offsets)
        reuse = {p for p in mine if p in self.parked and checkpoints.get(p)
                 and self.parked[p].base_blob == checkpoints[p][0][1]}
        topic_id = self._refresh_topic_id()
        for tp in tps:
            p = tp.partition
            if p in reuse:
                part = self.parked.pop(p)
            else:
                part = self._restored(p, checkpoints.get(p, []), committed.get(p), topic_id)
            tp.offset = part.base_offset if part.base_offset is not None else OFFSET_BEGINNING
            self.parts[p] = part
        self.parked.clear()
        self.source.assign(consumer, tps)
        self._joined = True
        self._last_activity = time.monotonic()
        self.log.info("partitions assigned", partitions=sorted(mine), reused=sorted(reuse),
                      restored=sorted(p for p in mine if checkpoints.get(p) and p not in reuse),
                      offsets={p: self.parts[p].base_offset for p in mine},
                      seconds=round(time.monotonic() - t0, 3),
                      committed_seconds=round(t1 - t0, 3))

    def _restored(self, p: int, candidates: list[tuple[Checkpoint, bytes]],
                  committed: int | None, topic_id: str | None) -> Part:
        """The partition's state and position by the recovery policy (io/recovery.py)."""
        low, high = self.source.watermarks(p)
        engines: dict[int, Engine] = {}

        def restores(ck: Checkpoint) -> bool:
            try:
                engines[ck.offset] = self._engine(ck.state)
                return True
            except StateError as exc:
                self._invalid(Invalid("bad_state", f"{self.topic}[{p}]", str(exc)))
                return False

        resume = plan(candidates, committed, low, high, topic_id, restores)
        for reason, detail in resume.skipped:
            if reason != "bad_state":
                self._invalid(Invalid(reason, f"{self.topic}[{p}]", detail))
        for reason, detail in resume.findings:
            self.log.error("input reset", partition=p, reason=reason, detail=detail,
                           topic=self.topic, group=self.group)
            self._reset_counted(reason)
        if resume.checkpoint is None:
            engine = self._engine(None)
            return Part(p, engine, resume.start, None, None,
                        suppress_until=resume.suppress_until)
        ck = resume.checkpoint
        self.stats.restored += 1
        slot = "b" if ck.meta.get("slot", "a") == "a" else "a"
        if resume.start != ck.offset:  # a new incarnation of the topic: the state goes on
            return Part(p, engines[ck.offset], resume.start, None, None, slot=slot)
        return Part(p, engines[ck.offset], ck.offset, resume.blob, ck.offset, slot=slot,
                    suppress_until=resume.suppress_until)

    def _same_topic(self) -> bool:
        """Is the input topic still the one we read? (Asked before every commit: offsets of
        one incarnation must never be committed for another.)"""
        old_id = self.topic_id
        new_id = self._refresh_topic_id()
        if old_id and new_id and old_id != new_id:
            self._new_incarnation(old_id, new_id)
            return False
        return True

    def _check_input(self) -> bool:
        """Still the same topic, every position inside its log? librdkafka does not tell when a
        topic is deleted and created again under a consumer: ask the broker (every few
        seconds). True if the input was reset."""
        if not self._same_topic():
            return True
        reset = False
        for p, part in list(self.parts.items()):
            pos = part.next_offset if part.next_offset is not None else part.base_offset
            if pos is None:
                continue
            try:
                low, high = self.source.watermarks(p, timeout=2.0)
            except KafkaException:
                continue  # the topic is away (deleted, or the broker): look again later
            if pos > high or pos < low:
                reason = "topic_recreated" if pos > high else "events_expired"
                self._restart_at(p, low, reason, f"position {pos} is outside the log "
                                 f"[{low}, {high}]: state kept, reading from offset {low}")
                reset = True
        return reset

    def _out_of_range(self, p: int, err: KafkaError) -> None:
        """librdkafka says a position is outside the log: the same check, now."""
        self.log.warning("offset out of range", partition=p, error=str(err))
        if not self._check_input() and p in self.parts:
            low, _high = self.source.watermarks(p)
            self._restart_at(p, low, "events_expired", f"{err}: reading from offset {low}")

    def _new_incarnation(self, old_id: str, new_id: str) -> None:
        """The input topic was deleted and created again. What was read since the last commit
        may mix both incarnations: back to the committed state (output dropped), then the new
        topic from its start, the state kept (io/recovery.py, rule 2)."""
        for p, part in list(self.parts.items()):
            self._reset(part)
            try:
                low, _high = self.source.watermarks(p)
            except KafkaException:
                low = 0
            self._restart_at(p, low, "topic_recreated", f"topic id {old_id} is now {new_id}: "
                             f"back to the committed state, reading the new topic from {low}")

    def _restart_at(self, p: int, low: int, reason: str, detail: str) -> None:
        part = self.parts.get(p)
        if part is None:
            return
        self.log.error("input reset", partition=p, reason=reason, detail=detail,
                       topic=self.topic, topic_id=self.topic_id)
        self._reset_counted(reason)
        part.base_offset = part.next_offset = low
        part.suppress_until = None
        part.dirty = True
        try:
            positions = {q: (o.next_offset if o.next_offset is not None else o.base_offset)
                         for q, o in self.parts.items()}
            self.source.restart(p, low, positions)
        except KafkaException as exc:
            # a rebalance is under way (it follows a topic's recreation): the assignment that
            # comes restores the partition and applies the same policy
            self.log.warning("restart at the new log start failed; the next assignment "
                             "resumes it", partition=p, error=str(exc))

    def _refresh_topic_id(self) -> str | None:
        """The input topic's id now (it changes when the topic is deleted and created again)."""
        if self.admin is None:
            return self.topic_id
        try:
            self.topic_id = topic_id_of(self.admin, self.topic) or self.topic_id
        except (KafkaException, SinkError) as exc:
            self.log.warning("topic id unavailable", topic=self.topic, error=str(exc))
        return self.topic_id

    def _invalid(self, bad: Invalid) -> None:
        self.log.error("changelog record skipped", reason=bad.reason, key=bad.key,
                       detail=bad.detail, changelog=self.changelog_topic)
        self.metrics.checkpoint_invalid.labels(bad.reason).inc()
        self.stats.checkpoint_invalid[bad.reason] += 1

    def _reset_counted(self, reason: str) -> None:
        self.metrics.input_resets.labels(reason).inc()
        self.stats.input_resets[reason] += 1

    def _read_checkpoints(self, partitions: list[int], committed: dict[int, int | None],
                          ) -> dict[int, list[tuple[Checkpoint, bytes]]]:
        """Each partition's valid checkpoints, newest first; waits (bounded) until the newest
        matches the group's committed offset, as it does unless a transaction is still open."""
        if not partitions:
            return {}
        wait = float(self.sink.settings.get("transaction.timeout.ms", 60000)) / 1000 + 10
        deadline = time.monotonic() + wait
        while True:
            try:
                asm = self.changelog.read({p % self.changelog_partitions for p in partitions})
            except SourceError as exc:
                if self._give_up():
                    raise
                self.log.warning("changelog unavailable, retrying", error=str(exc))
                time.sleep(1.0)
                continue
            found = {p: asm.candidates(p) for p in partitions}
            stale = [p for p in partitions
                     if _behind(found[p][0] if found[p] else None, committed.get(p))]
            if not stale or time.monotonic() > deadline or self._give_up():
                break
            time.sleep(1.0)
        for bad in asm.invalid:
            self._invalid(bad)
        return found

    def _on_revoke(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        gone = [tp.partition for tp in tps if tp.topic == self.topic]
        self._revoking = True
        try:
            ok = self.commit(deadline=self._shutdown_deadline() if self._stop else None)
        finally:
            self._revoking = False
        for p in gone:
            part = self.parts.pop(p, None)
            self._forget_metrics(p)
            if ok and part is not None and part.base_blob is not None and not (
                    part.dirty or part.incidents or part.dead):
                self.parked[p] = part
        self.log.info("partitions revoked", partitions=sorted(gone), committed=ok)

    def _on_lost(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        gone = [tp.partition for tp in tps if tp.topic == self.topic]
        for p in gone:  # owned by someone else by now: drop, do not commit
            self.parts.pop(p, None)
            self._forget_metrics(p)
        self.log.warning("partitions lost", partitions=sorted(gone))

    # -- operations ------------------------------------------------------------------------------
    def _producer_error(self, err: KafkaError) -> None:
        """A fatal producer error fails the next transaction, which replaces the producer."""
        if err.fatal():
            self.log.warning("producer fatal error", error=str(err))
            return
        self._client_error(err)

    def _client_error(self, err: KafkaError) -> None:
        if err.fatal():  # the consumer cannot continue (e.g. its static member id fenced)
            self._fatal = err
            self.log.error("kafka client fatal error", error=str(err))
            return
        now = time.monotonic()
        code = err.code()
        if code in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
                    KafkaError._RESOLVE, KafkaError._TIMED_OUT):
            self._last_activity = now  # unreachable brokers: not idle, just cut off
        if now - self._quiet.get(code, -1e9) >= 10.0:  # one line per error kind per 10 s
            self._quiet[code] = now
            self.log.warning("kafka client error", error=str(err))

    def _update_lag(self) -> None:
        for p, part in self.parts.items():
            pos = part.next_offset if part.next_offset is not None else part.base_offset
            if pos is None:
                continue
            self.metrics.consumer_position.labels(self.topic, str(p)).set(pos)
            hi = self.source.high_watermark(p)
            if hi is not None:
                self.metrics.consumer_lag.labels(self.topic, str(p)).set(max(0, hi - pos))

    def _forget_metrics(self, p: int) -> None:
        for gauge in (self.metrics.consumer_lag, self.metrics.consumer_position):
            with contextlib.suppress(KeyError):
                gauge.remove(self.topic, str(p))

    def summary(self) -> dict[str, Any]:
        """Totals over the partitions this instance holds (restored state included)."""
        total = Totals()
        per_partition = {}
        held = {**self.parked, **self.parts}  # after close() the last states are parked
        for p, part in sorted(held.items()):
            t = part.engine.totals
            total = total + t
            per_partition[str(p)] = {"read": t.read, "valid": t.valid, "windows": t.windows,
                                     "next_offset": part.next_offset}
        s = self.stats
        elapsed = time.monotonic() - (s.first_message or s.started)
        return {
            "events": total.events_summary(),
            "windows_closed": total.windows,
            "incidents": total.incidents_summary(),
            "partitions": per_partition,
            "kafka": {"group_id": self.group, "input_topic": self.topic,
                      "transactional_id": self.transactional_id,
                      "consumed_this_run": s.consumed, "commits": s.commits,
                      "failed_commits": s.failed_commits,
                      "incidents_published": s.incidents_published,
                      "dead_letters_published": s.dead_letters_published,
                      "partitions_restored": s.restored,
                      "checkpoint_invalid": dict(s.checkpoint_invalid),
                      "input_resets": dict(s.input_resets),
                      "producer_recreated": self.sink.recreated},
            "elapsed_seconds": round(elapsed, 3),
        }


def _behind(found: tuple[Checkpoint, bytes] | None, committed: int | None) -> bool:
    """A partition with committed offsets whose changelog checkpoint is missing or older."""
    return committed is not None and (found is None or found[0].offset < committed)
