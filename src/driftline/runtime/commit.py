"""The checkpoint: output, state and input offsets in ONE transaction.

The offsets advance only together with the state that covers them, and only forward. When
a transaction fails everything is rewound to the last committed checkpoint (rewind.py) and
the same input is processed again.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from confluent_kafka import TopicPartition

from driftline.errors import CheckpointError, SinkError
from driftline.io.checkpoint import Checkpoint, changelog_key, encode, to_records
from driftline.io.kafka_sink import Record, TransactionError, incident_record
from driftline.runtime.context import Context
from driftline.runtime.part import Part
from driftline.runtime.resets import same_topic
from driftline.runtime.rewind import note_fenced, reload, rewind

COMMIT_RETRY_SECONDS = 120.0  # keep retrying one commit through a broker outage this long

Written = dict[int, tuple[int, bytes]]  # partition → (offset, encoded checkpoint)


def commit(ctx: Context, deadline: float | None = None) -> bool:
    """Publish output, checkpoints and offsets in one transaction; rewind if it fails.

    0. nothing after a commit that failed beyond repair, nor when nothing changed; a
       recreated input topic is reset first (its uncommitted reads dropped);
    1. a checkpoint (snapshot + next offset) of each partition whose state changed, as
       changelog records, and its offset — which never moves back;
    2. the output since the last commit: incident CloudEvents, then dead letters;
    3. one transaction: the records of 2 and 1, the offsets (``send_offsets_to_transaction``),
       ``commit_transaction``;
    4. committed: the checkpoints are now the state to rewind to. Failed: rewound, or
       reloaded from the changelog when the outcome is unknown.
    """
    # a partition still in its warm-up is not checkpointed: its state is nothing but
    # the raw events it read, which the input topic keeps anyway (a restart reads them
    # again) — so neither its offsets nor its output (dead letters) are committed yet
    if ctx.broken:
        return False  # see the SinkError case below
    if not ctx.revoking and ctx.parts:
        same_topic(ctx)  # a recreated input is reset here, its uncommitted reads dropped
    todo = [p for p in ctx.parts.values()
            if p.uncommitted and not p.warming and not p.catching_up]
    if not todo:
        return True
    # 1. checkpoints of the partitions whose state changed; offsets only move forward
    written, records, offsets = _checkpoints(ctx, todo)
    # 2. the output: incident CloudEvents, then dead letters
    incidents = [incident_record(ctx.kcfg.incident_topic, ev)
                 for part in todo for ev in part.incidents]
    dead = [r for part in todo for r in part.dead]
    # 3. one transaction: output + checkpoints + offsets
    t0 = time.monotonic()
    if deadline is None:
        deadline = t0 + COMMIT_RETRY_SECONDS
    try:
        ctx.sink.commit([*incidents, *dead, *records], offsets,
                        ctx.source.c.consumer_group_metadata(), deadline, ctx.stop.give_up)
    except TransactionError as exc:
        _failed(ctx, exc)
        return False
    except SinkError:
        # the producer could not be replaced (recreate → init_transactions failed): the
        # failed transaction is not reconciled, so nothing may be committed any more —
        # not even on the revoke that closing the consumer runs; a restart resumes from
        # the committed state
        ctx.stats.failed_commits += 1
        ctx.broken = True
        raise
    # 4. committed: this is now the state to rewind to
    for part in todo:
        if part.partition in written:
            part.base_offset, part.base_blob = written[part.partition]
            part.slot = "b" if part.slot == "a" else "a"  # the other slot keeps this one
        part.dirty = False
        part.incidents, part.dead = [], []
    ctx.stats.commits += 1
    ctx.stats.incidents_published += len(incidents)
    ctx.stats.dead_letters_published += len(dead)
    ctx.log.debug("committed", partitions=sorted(written), incidents=len(incidents),
                  dead_letters=len(dead), seconds=round(time.monotonic() - t0, 3))
    return True


def _checkpoints(ctx: Context, todo: list[Part],
                 ) -> tuple[Written, list[Record], list[TopicPartition]]:
    """Step 1: the changed partitions' checkpoints, their changelog records, their offsets."""
    group, topic = ctx.group, ctx.topic
    written: Written = {}
    records: list[Record] = []
    offsets: list[TopicPartition] = []
    meta = {"group": group, "topic": topic, "instance": ctx.instance_id,
            "topic_id": ctx.topic_id,
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
        cl_partition = part.partition % ctx.changelog_partitions
        records += [Record(ctx.changelog_topic, key.encode(), value, headers, cl_partition)
                    for key, value, headers in to_records(
                        changelog_key(group, topic, part.partition, part.slot), blob)]
        said = ctx.offset_metadata(part)
        offsets.append(TopicPartition(topic, part.partition, offset) if said is None else
                       TopicPartition(topic, part.partition, offset, said))
    return written, records, offsets


def _failed(ctx: Context, exc: TransactionError) -> None:
    """Step 4 when the transaction failed: back to the committed state."""
    ctx.stats.failed_commits += 1
    if exc.outcome == "unknown":
        # commit_transaction was under way: what reached the changelog decides
        ctx.log.warning("transaction outcome unknown: reloading the committed state",
                        kind=exc.kind, error=str(exc.error))
        reload(ctx)
    else:
        ctx.log.warning("transaction failed: rewinding to the last committed state",
                        kind=exc.kind, error=str(exc.error))
        rewind(ctx)
    if exc.fenced:
        try:  # after the rewind: giving up must not leave the failed output pending
            note_fenced(ctx)
        except SinkError:
            ctx.broken = True
            raise
