"""After a failed transaction: back to the last committed state, so that the same input is
processed again and, the engine being deterministic, the same output comes out (same
CloudEvent ids). Repeated fencing means another process uses our transactional id: give up."""

from __future__ import annotations

import time

from confluent_kafka import KafkaException

from driftline.errors import SinkError, SourceError
from driftline.io.checkpoint import decode
from driftline.runtime.context import Context
from driftline.runtime.part import Part
from driftline.runtime.partitions import read_checkpoints

FENCED_MAX = 3  # producer recreations within FENCED_WINDOW before giving up
FENCED_WINDOW = 120.0


def rewind(ctx: Context) -> None:
    """Back to the last committed checkpoint: engines restored, consumer re-seeked."""
    failed: list[tuple[int, KafkaException]] = []
    for part in ctx.parts.values():
        back_to_committed(ctx, part)
        if part.base_offset is not None:
            try:
                ctx.source.seek(part.partition, part.base_offset)
            except KafkaException as exc:  # e.g. the partition is being revoked
                ctx.log.warning("seek failed", partition=part.partition, error=str(exc))
                if not ctx.revoking and owns(ctx, part.partition):
                    failed.append((part.partition, exc))
    if failed:
        # still ours but not rewound: the consumer would go on after the failed
        # transaction's input and that input would be lost. Exit instead (and commit
        # nothing more); a restart resumes from the committed state.
        ctx.broken = True
        p, error = failed[0]
        raise SourceError(f"{ctx.topic}[{p}]: cannot seek back to the committed offset "
                          f"after a failed transaction: {error}") from error


def reload(ctx: Context) -> None:
    """Rewind to whatever the changelog holds now (the last transaction or the one before).

    Like an assignment it waits for the group's stable committed offsets and a changelog
    that covers them; and it never moves a partition back: a checkpoint older than the
    one already committed (read_committed can be held back by another producer's open
    transaction on a shared changelog partition) would republish incidents.
    """
    mine = sorted(ctx.parts)
    committed = ctx.source.committed(ctx.source.c, mine, give_up=ctx.stop.give_up) \
        if mine else {}
    found = read_checkpoints(ctx, mine, committed)
    for p, part in ctx.parts.items():
        if not found.get(p):
            continue
        checkpoint, blob = found[p][0]
        if part.base_offset is None or checkpoint.offset > part.base_offset or (
                checkpoint.offset == part.base_offset and blob != part.base_blob):
            part.base_offset, part.base_blob = checkpoint.offset, blob
        elif checkpoint.offset < part.base_offset:
            ctx.log.warning("the changelog's checkpoint is older than the committed "
                            "state: keeping the committed state", partition=p,
                            checkpoint=checkpoint.offset, committed=part.base_offset)
    rewind(ctx)


def back_to_committed(ctx: Context, part: Part) -> None:
    """The partition's engine and position as its last commit left them; pending output
    dropped."""
    state = decode(part.base_blob).state if part.base_blob is not None else None
    part.engine = ctx.engine(state)
    part.next_offset = part.base_offset if part.base_blob is not None else None
    part.dirty = False
    part.incidents, part.dead, part.prelude_keys = [], [], {}
    ctx.forget_unread(part.partition)


def owns(ctx: Context, p: int) -> bool:
    """Whether the consumer still holds partition ``p`` (if unsure: yes)."""
    try:
        return any(tp.topic == ctx.topic and tp.partition == p
                   for tp in ctx.source.c.assignment())
    except (KafkaException, RuntimeError):
        return True


def note_fenced(ctx: Context) -> None:
    """A fencing is counted; one too many within FENCED_WINDOW raises."""
    now = time.monotonic()
    ctx.fenced = [t for t in ctx.fenced if now - t < FENCED_WINDOW] + [now]
    if len(ctx.fenced) > FENCED_MAX:
        raise SinkError(
            f"the producer was fenced {len(ctx.fenced)} times in {FENCED_WINDOW:.0f}s: "
            f"another process uses transactional.id {ctx.transactional_id!r}; give every "
            "replica its own instance (--instance-id, config 'instance')")
