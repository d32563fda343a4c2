"""Input resets: the input topic deleted and created again, or a position outside its log
(events expired). librdkafka does not tell when a topic is recreated under a consumer, so
the broker is asked; offsets of one incarnation must never be committed for another."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from driftline.runtime.context import Context
from driftline.runtime.rewind import back_to_committed


def same_topic(ctx: Context) -> bool:
    """Is the input topic still the one we read? (Asked before every commit.) If not, the
    partitions are reset to the new incarnation."""
    old_id = ctx.topic_id
    new_id = ctx.refresh_topic_id()
    if old_id and new_id and old_id != new_id:
        new_incarnation(ctx, old_id, new_id)
        return False
    return True


def check_input(ctx: Context) -> bool:
    """Still the same topic, every position inside its log? (Asked every few seconds.) True if
    the input was reset."""
    if not same_topic(ctx):
        return True
    reset = False
    for p, part in list(ctx.parts.items()):
        pos = part.position
        if pos is None:
            continue
        try:
            low, high = ctx.source.watermarks(p, timeout=2.0)
        except KafkaException:
            continue  # the topic is away (deleted, or the broker): look again later
        if pos > high or pos < low:
            reason = "topic_recreated" if pos > high else "events_expired"
            restart_at(ctx, p, low, reason, f"position {pos} is outside the log "
                       f"[{low}, {high}]: state kept, reading from offset {low}")
            reset = True
    return reset


def out_of_range(ctx: Context, p: int, err: KafkaError) -> None:
    """librdkafka says a position is outside the log: the same check, now."""
    ctx.log.warning("offset out of range", partition=p, error=str(err))
    if not check_input(ctx) and p in ctx.parts:
        low, _high = ctx.source.watermarks(p)
        restart_at(ctx, p, low, "events_expired", f"{err}: reading from offset {low}")


def new_incarnation(ctx: Context, old_id: str, new_id: str) -> None:
    """The input topic was deleted and created again. What was read since the last commit
    may mix both incarnations: back to the committed state (output dropped), then the new
    topic from its start, the state kept (io/recovery.py, rule 2)."""
    for p, part in list(ctx.parts.items()):
        back_to_committed(ctx, part)
        try:
            low, _high = ctx.source.watermarks(p)
        except KafkaException:
            low = 0
        restart_at(ctx, p, low, "topic_recreated", f"topic id {old_id} is now {new_id}: "
                   f"back to the committed state, reading the new topic from {low}")


def restart_at(ctx: Context, p: int, low: int, reason: str, detail: str) -> None:
    """Partition ``p`` goes on at ``low`` with its state; the next commit checkpoints it."""
    part = ctx.parts.get(p)
    if part is None:
        return
    ctx.log.error("input reset", partition=p, reason=reason, detail=detail,
                  topic=ctx.topic, topic_id=ctx.topic_id)
    ctx.count_reset(reason)
    ctx.forget_unread(p)
    part.base_offset = part.next_offset = low
    part.suppress_until = None
    part.dirty = True
    try:
        positions = {q: o.position for q, o in ctx.parts.items()}
        ctx.source.restart(p, low, positions)
    except KafkaException as exc:
        # a rebalance is under way (it follows a topic's recreation): the assignment that
        # comes restores the partition and applies the same policy
        ctx.log.warning("restart at the new log start failed; the next assignment "
                        "resumes it", partition=p, error=str(exc))
