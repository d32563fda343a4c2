"""Partitions coming and going: on assignment each one's engine is restored from its newest
valid changelog checkpoint, by the recovery policy (io/recovery.py), and consumption resumes
where that state ends; on revoke or loss it is dropped.

With the eager protocol every rebalance revokes everything: the engines committed on revoke
are kept ("parked") and reused, without a restore, when the partition comes back and the
changelog still holds exactly their checkpoint.
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from driftline.engine import Engine
from driftline.errors import SourceError, StateError
from driftline.io.checkpoint import Checkpoint, Invalid
from driftline.io.recovery import plan
from driftline.runtime.context import Context
from driftline.runtime.part import Part
from driftline.runtime.stats import forget_lag

Candidates = list[tuple[Checkpoint, bytes]]  # valid checkpoints with their blobs, newest first


def assign(ctx: Context, consumer: Consumer, tps: list[TopicPartition]) -> None:
    """Inside on_assign: each partition reused or restored, then started at its offset."""
    t0 = time.monotonic()
    mine = [tp.partition for tp in tps if tp.topic == ctx.topic]
    committed = ctx.source.committed(consumer, mine, give_up=ctx.stop.give_up)
    t1 = time.monotonic()
    checkpoints = read_checkpoints(ctx, mine, committed)
    # a state committed on revoke is reused only if it is still the changelog's newest
    # (another member may have held the partition meanwhile, even without new offsets)
    reuse = {p for p in mine if p in ctx.parked and checkpoints.get(p)
             and ctx.parked[p].base_blob == checkpoints[p][0][1]}
    topic_id = ctx.refresh_topic_id()
    for tp in tps:
        p = tp.partition
        if p in reuse:
            part = ctx.parked.pop(p)
        else:
            part = restored(ctx, p, checkpoints.get(p, []), committed.get(p), topic_id)
        tp.offset = part.base_offset if part.base_offset is not None else OFFSET_BEGINNING
        ctx.parts[p] = part
    ctx.parked.clear()
    ctx.source.assign(consumer, tps)
    ctx.last_activity = time.monotonic()
    ctx.log.info("partitions assigned", partitions=sorted(mine), reused=sorted(reuse),
                 restored=sorted(p for p in mine if checkpoints.get(p) and p not in reuse),
                 offsets={p: ctx.parts[p].base_offset for p in mine},
                 seconds=round(time.monotonic() - t0, 3),
                 committed_seconds=round(t1 - t0, 3))


def restored(ctx: Context, p: int, candidates: Candidates, committed: int | None,
             topic_id: str | None) -> Part:
    """The partition's state and position by the recovery policy (io/recovery.py)."""
    low, high = ctx.source.watermarks(p)
    engines: dict[int, Engine] = {}

    def restores(ck: Checkpoint) -> bool:
        try:
            engines[ck.offset] = ctx.engine(ck.state)
            return True
        except StateError as exc:
            ctx.invalid(Invalid("bad_state", f"{ctx.topic}[{p}]", str(exc)))
            return False

    resume = plan(candidates, committed, low, high, topic_id, restores)
    for reason, detail in resume.skipped:
        if reason != "bad_state":
            ctx.invalid(Invalid(reason, f"{ctx.topic}[{p}]", detail))
    for reason, detail in resume.findings:
        ctx.log.error("input reset", partition=p, reason=reason, detail=detail,
                      topic=ctx.topic, group=ctx.group)
        ctx.count_reset(reason)
    if resume.checkpoint is None:
        engine = ctx.engine(None)
        return Part(p, engine, resume.start, None, None, suppress_until=resume.suppress_until)
    ck = resume.checkpoint
    ctx.stats.restored += 1
    slot = "b" if ck.meta.get("slot", "a") == "a" else "a"
    if resume.start != ck.offset:  # a new incarnation of the topic: the state goes on
        return Part(p, engines[ck.offset], resume.start, None, None, slot=slot)
    return Part(p, engines[ck.offset], ck.offset, resume.blob, ck.offset, slot=slot,
                suppress_until=resume.suppress_until)


def read_checkpoints(ctx: Context, partitions: list[int], committed: dict[int, int | None],
                     ) -> dict[int, Candidates]:
    """Each partition's valid checkpoints, newest first; waits (bounded) until the newest
    matches the group's committed offset, as it does unless a transaction is still open."""
    if not partitions:
        return {}
    wait = float(ctx.sink.settings.get("transaction.timeout.ms", 60000)) / 1000 + 10
    deadline = time.monotonic() + wait
    while True:
        try:
            asm = ctx.changelog.read({p % ctx.changelog_partitions for p in partitions})
        except SourceError as exc:
            if ctx.stop.give_up():
                raise
            ctx.log.warning("changelog unavailable, retrying", error=str(exc))
            time.sleep(1.0)
            continue
        found = {p: asm.candidates(p) for p in partitions}
        stale = [p for p in partitions
                 if behind(found[p][0] if found[p] else None, committed.get(p))]
        if not stale or time.monotonic() > deadline or ctx.stop.give_up():
            break
        time.sleep(1.0)
    for bad in asm.invalid:
        ctx.invalid(bad)
    return found


def behind(found: tuple[Checkpoint, bytes] | None, committed: int | None) -> bool:
    """A partition with committed offsets whose changelog checkpoint is missing or older."""
    return committed is not None and (found is None or found[0].offset < committed)


def revoked(ctx: Context, gone: list[int], committed: bool) -> None:
    """After on_revoke's commit: the partitions are dropped; if everything was committed
    their engines are parked for a quick return."""
    for p in gone:
        part = ctx.parts.pop(p, None)
        forget_lag(ctx.metrics, ctx.topic, p)
        if committed and part is not None and part.base_blob is not None \
                and not part.uncommitted:
            ctx.parked[p] = part
    ctx.log.info("partitions revoked", partitions=sorted(gone), committed=committed)


def lost(ctx: Context, gone: list[int]) -> None:
    """Owned by someone else by now: dropped, nothing committed."""
    for p in gone:
        ctx.parts.pop(p, None)
        forget_lag(ctx.metrics, ctx.topic, p)
    ctx.log.warning("partitions lost", partitions=sorted(gone))
