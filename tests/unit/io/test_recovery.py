"""The recovery policy: where a partition resumes, from what state, and what is said about it."""

from __future__ import annotations

from driftline.io.checkpoint import Checkpoint
from driftline.io.recovery import Resume, plan


def cand(offset: int, topic_id: str | None = "T1") -> tuple[Checkpoint, bytes]:
    meta = {"group": "g", "topic": "t", "partition": 0, "topic_id": topic_id}
    return Checkpoint(offset, {"at": offset}, meta), f"blob{offset}".encode()


def ok(_: Checkpoint) -> bool:
    return True


def reasons(resume: Resume) -> list[str]:
    return [r for r, _ in resume.findings]


def test_the_newest_checkpoint_at_the_committed_offset_resumes_quietly() -> None:
    """The normal case: resume at the checkpoint, nothing suppressed, nothing to say."""
    r = plan([cand(500), cand(300)], 500, 0, 900, "T1", ok)
    assert (r.checkpoint and r.checkpoint.offset, r.start, r.suppress_until) == (500, 500, None)
    assert r.findings == [] and r.skipped == []


def test_an_older_slot_resumes_and_suppresses_up_to_the_committed_offset() -> None:
    """The newest slot lost (garbage, compaction): the other one, output suppressed to 500."""
    r = plan([cand(300)], 500, 0, 900, "T1", ok)
    assert (r.start, r.suppress_until) == (300, 500)
    assert reasons(r) == ["older_checkpoint"]


def test_a_checkpoint_that_does_not_restore_falls_back_to_the_next() -> None:
    """A well-formed checkpoint whose state fails validation is skipped for the older one."""
    r = plan([cand(500), cand(300)], 500, 0, 900, "T1", lambda ck: ck.offset != 500)
    assert r.checkpoint is not None and r.checkpoint.offset == 300
    assert [s for s, _ in r.skipped] == ["bad_state"] and reasons(r) == ["older_checkpoint"]


def test_a_checkpoint_ahead_of_the_committed_offsets_is_not_trusted() -> None:
    """Offsets and checkpoints commit together: one ahead of them was not written by us."""
    r = plan([cand(9000), cand(500)], 500, 0, 9900, "T1", ok)
    assert r.checkpoint is not None and r.checkpoint.offset == 500
    assert [s for s, _ in r.skipped] == ["ahead_of_offsets"]


def test_no_valid_checkpoint_rebuilds_from_the_log_start_with_output_suppressed() -> None:
    """Committed offsets but no state: rebuild from the earliest offset, suppress to 500."""
    r = plan([], 500, 0, 900, "T1", ok)
    assert (r.checkpoint, r.start, r.suppress_until) == (None, 0, 500)
    assert reasons(r) == ["no_valid_checkpoint"]
    gone = plan([], 500, 200, 900, "T1", ok)
    assert (gone.start, gone.suppress_until) == (200, 500)
    assert reasons(gone) == ["no_valid_checkpoint", "events_expired"]


def test_a_new_topic_id_keeps_the_state_and_reads_the_new_topic_from_its_start() -> None:
    """The input deleted and created again: state kept, offsets restart, said loudly."""
    r = plan([cand(30_000, "OLD")], None, 0, 1200, "NEW", ok)
    assert r.checkpoint is not None and (r.start, r.suppress_until) == (0, None)
    assert reasons(r) == ["topic_recreated"]


def test_an_offset_past_the_log_end_is_a_new_incarnation_too() -> None:
    """Without a topic id to compare, a position past the end means the log was rewritten."""
    r = plan([cand(30_000, None)], 30_000, 0, 50, "T2", ok)
    assert r.start == 0 and reasons(r) == ["topic_recreated"]
    fresh = plan([], 30_000, 0, 50, "T2", ok)
    assert fresh.start == 0 and reasons(fresh) == ["topic_recreated"]


def test_a_position_before_the_log_start_resumes_there_and_names_the_gap() -> None:
    """Retention removed events the checkpoint had not reached: resume at the start, say so."""
    r = plan([cand(100)], 100, 400, 900, "T1", ok)
    assert (r.start, r.suppress_until) == (400, None)
    assert reasons(r) == ["events_expired"] and "100–399" in r.findings[0][1]


def test_a_fresh_partition_starts_at_the_beginning_without_a_word() -> None:
    """No checkpoint and no committed offset: a new group reads from the beginning."""
    r = plan([], None, 300, 900, "T1", ok)
    assert (r.checkpoint, r.start, r.findings) == (None, None, [])
