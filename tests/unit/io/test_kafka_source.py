"""Polled batches are split per partition in offset order, with errors and nulls handled."""

from __future__ import annotations

from confluent_kafka import KafkaError, Message

from driftline.io.kafka_source import PartitionBatch, split, start_offset


def msg(partition: int, offset: int, value: bytes | None = b"{}", key: bytes | None = None,
        ) -> Message:
    return Message(topic="t", partition=partition, offset=offset, key=key, value=value)


def test_one_partition_batch_keeps_values_and_offsets() -> None:
    """The common case: every message of one partition, offsets as an int64 array."""
    batches, errors = split([msg(2, 10, b"a"), msg(2, 11, b"b"), msg(2, 13, b"c")])
    assert errors == [] and list(batches) == [2]
    assert batches[2].values == [b"a", b"b", b"c"]
    assert batches[2].offsets.tolist() == [10, 11, 13]
    assert batches[2].offsets.dtype.name == "int64"


def test_interleaved_partitions_are_split_in_order() -> None:
    """Messages of several partitions go to their own batch, each in arrival order."""
    batches, _ = split([msg(0, 5), msg(1, 7), msg(0, 6), msg(1, 8), msg(3, 0)])
    assert {p: b.offsets.tolist() for p, b in batches.items()} == {0: [5, 6], 1: [7, 8], 3: [0]}


def test_error_events_are_set_apart_and_null_values_become_bad_input() -> None:
    """A consumer error event is not data; a null value is an empty (malformed) event."""
    err = Message(topic="t", partition=0, offset=-1, error=KafkaError(KafkaError._TRANSPORT))
    batches, errors = split([msg(0, 1), err, msg(0, 2, None)])
    assert [(p, e.code()) for p, e in errors] == [(0, KafkaError._TRANSPORT)]
    assert batches[0].values == [b"{}", b""]
    assert split([err]) == ({}, errors)


def test_after_drops_what_a_rewind_already_covers_and_keys_are_found() -> None:
    """``after(offset)`` keeps messages at or past it; ``key_at`` finds a message's key."""
    batch = split([msg(0, o, key=f"k{o}".encode()) for o in (3, 4, 6, 7)])[0][0]
    assert batch.after(5).offsets.tolist() == [6, 7]
    assert batch.after(0) is batch
    assert len(batch.after(100)) == 0
    assert batch.key_at(6) == b"k6" and batch.key_at(5) is None
    joined = PartitionBatch.concat([batch.after(6), batch.after(7)])
    assert joined.offsets.tolist() == [6, 7, 7]


def test_resume_position_prefers_the_checkpoint() -> None:
    """A checkpoint's offset beats the group's; neither means the reset policy."""
    assert start_offset(40, 38) == 40
    assert start_offset(None, 38) == 38
    assert start_offset(None, None) < 0
