"""Where a partition resumes after an assignment or a reset: the one policy, in one function.

Inputs: the valid checkpoints the changelog holds (newest first), the group's committed
offset, the partition's log start and end, and the topic's id now. The rules, in order:

1. A checkpoint ahead of the committed offset is not ours to trust (offsets and checkpoints
   commit in one transaction): skipped as ``ahead_of_offsets``.
2. A checkpoint whose topic id differs, or an offset past the log's end, means the topic was
   deleted and created again (or its log rewritten): the state is **kept** — it describes the
   same model — and consumption restarts at the earliest offset of the new incarnation
   (``topic_recreated``). Offsets only move forward within one topic id.
3. The newest checkpoint that restores is used. If it is older than the committed offset (the
   newest slot was lost), the events up to the committed offset are processed again with
   their output suppressed: it was published already (``older_checkpoint``).
4. No valid checkpoint but committed offsets: the state is rebuilt from the earliest retained
   offset, output suppressed up to the committed offset (``no_valid_checkpoint``).
5. A position before the log's start: the events in between are gone (retention); consumption
   resumes at the log start and the gap is named (``events_expired``).

Every rule that fires is a finding — logged as an error and counted as
``driftline_input_resets_total{reason}`` by the runtime; nothing here is silent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from driftline.io.checkpoint import Checkpoint


@dataclass(frozen=True)
class Resume:
    """The decision for one partition."""

    checkpoint: Checkpoint | None
    blob: bytes | None
    start: int | None  # the offset to read next; None: the partition's beginning
    suppress_until: int | None = None  # output of events before it was published already
    findings: list[tuple[str, str]] = field(default_factory=list)  # (reason, what happened)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # checkpoints not used


def plan(candidates: Sequence[tuple[Checkpoint, bytes]], committed: int | None, low: int,
         high: int, topic_id: str | None, restores: Callable[[Checkpoint], bool]) -> Resume:
    """Where to resume, from what state, and what to say about it."""
    findings: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    usable = []
    for ck, blob in candidates:
        if committed is not None and ck.offset > committed:
            skipped.append(("ahead_of_offsets", f"checkpoint at {ck.offset} is ahead of the "
                                                f"committed offset {committed}"))
        else:
            usable.append((ck, blob))
    chosen: tuple[Checkpoint, bytes] | None = None
    for ck, blob in usable:
        if restores(ck):
            chosen = (ck, blob)
            break
        skipped.append(("bad_state", f"checkpoint at {ck.offset} does not restore"))
    if chosen is not None:
        return _from_checkpoint(chosen, committed, low, high, topic_id, skipped)
    if committed is None:
        return Resume(None, None, None, None, findings, skipped)
    if committed > high:
        findings.append(("topic_recreated", f"committed offset {committed} is past the log "
                                            f"end {high}: reading from offset {low}"))
        return Resume(None, None, low, None, findings, skipped)
    findings.append(("no_valid_checkpoint", f"no valid checkpoint for committed offset "
                                            f"{committed}: state rebuilt from offset {low}, "
                                            "output suppressed up to the committed offset"))
    if low > 0:
        findings.append(("events_expired", f"offsets before {low} are gone from the input "
                                           "(retention): the rebuilt state starts without them"))
    return Resume(None, None, low, committed if committed > low else None, findings, skipped)


def _from_checkpoint(chosen: tuple[Checkpoint, bytes], committed: int | None, low: int,
                     high: int, topic_id: str | None, skipped: list[tuple[str, str]]) -> Resume:
    ck, blob = chosen
    findings: list[tuple[str, str]] = []
    old_id = ck.meta.get("topic_id")
    if (old_id and topic_id and old_id != topic_id) or ck.offset > high:
        why = (f"topic id {old_id} is now {topic_id}" if old_id and topic_id and
               old_id != topic_id else f"offset {ck.offset} is past the log end {high}")
        findings.append(("topic_recreated", f"the input was recreated ({why}): state kept, "
                                            f"reading the new topic from offset {low}"))
        return Resume(ck, blob, low, None, findings, skipped)
    start = ck.offset
    suppress = committed if committed is not None and committed > ck.offset else None
    if suppress is not None:
        findings.append(("older_checkpoint", f"the newest checkpoint is gone: resuming from the "
                                             f"one at {ck.offset}, output suppressed up to the "
                                             f"committed offset {committed}"))
    if start < low:
        findings.append(("events_expired", f"offsets {start}–{low - 1} are gone from the input "
                                           f"(retention): resuming at {low}"))
        start = low
        if suppress is not None and suppress <= low:
            suppress = None
    return Resume(ck, blob, start, suppress, findings, skipped)
