"""Checkpoints in the changelog: exact round trips, chunks with a checksum, two slots, and every
kind of garbage record skipped with its reason while the other slot still restores."""

from __future__ import annotations

import zlib

import numpy as np
import orjson
import pytest

from driftline import demo
from driftline.config import load_config
from driftline.engine import Engine
from driftline.errors import CheckpointError
from driftline.io.checkpoint import (
    HEADER,
    MAGIC,
    Assembler,
    BadCheckpoint,
    Checkpoint,
    changelog_key,
    decode,
    encode,
    to_records,
)

G, T = "group-1", "predictions"


def ck(offset: int, partition: int = 0, size: int = 10, slot: str = "a") -> Checkpoint:
    return Checkpoint(offset, {"blob": "x" * size},
                      {"group": G, "topic": T, "partition": partition, "slot": slot})


def feed(asm: Assembler, checkpoint: Checkpoint, slot: str, chunk: int = 1000,
         partition: int = 0) -> list[tuple[str, bytes, list[tuple[str, str | bytes | None]]]]:
    records = to_records(changelog_key(G, T, partition, slot), encode(checkpoint), chunk)
    for key, value, headers in records:
        asm.add(key.encode(), value, headers)
    return records


def test_small_checkpoints_are_plain_and_large_ones_compressed() -> None:
    """Up to 16 KiB of JSON is stored as is, beyond that zlib-compressed; both decode."""
    small, big = ck(7), Checkpoint(8, {"x": list(range(20_000))}, ck(8).meta)
    assert encode(small)[4] == 0 and encode(big)[4] == 1
    assert len(encode(big)) < len(orjson.dumps(big.state)) / 2
    assert decode(encode(small)) == small and decode(encode(big)) == big


@pytest.mark.parametrize(("blob", "reason"), [
    (b"", "bad_format"), (b"{}", "bad_format"), (MAGIC + b"\x01garbage", "bad_format"),
    (MAGIC + b"\x07{}", "bad_format"), (b"DLC1\x00{}", "old_version"),
    (MAGIC + b"\x00" + orjson.dumps({"offset": -4, "meta": {}, "state": {}}), "bad_state"),
    (MAGIC + b"\x00[1, 2]", "bad_state"),
])
def test_bad_blobs_are_refused_with_their_reason(blob: bytes, reason: str) -> None:
    """Foreign, damaged or older bytes never decode silently; each says why."""
    with pytest.raises(BadCheckpoint) as caught:
        decode(blob)
    assert caught.value.reason == reason
    with pytest.raises(CheckpointError):
        encode(Checkpoint(-1001, {}))


def test_a_decompression_bomb_is_refused_by_its_size() -> None:
    """A small blob that inflates past the bound is refused before it is inflated whole."""
    bomb = MAGIC + bytes([1]) + zlib.compress(b"0" * (50 << 20), 9)
    assert len(bomb) < 100_000
    with pytest.raises(BadCheckpoint) as caught:
        decode(bomb, max_bytes=1 << 20)
    assert caught.value.reason == "too_large"


def test_chunks_reassemble_the_newest_and_stale_chunks_are_ignored() -> None:
    """A long checkpoint then a short one in the same slot: the short one wins."""
    asm = Assembler(G, T)
    assert len(feed(asm, ck(100, size=3000), "a")) == 4
    feed(asm, ck(200, size=1000), "a")
    (got, _), = asm.candidates(0)
    assert got == ck(200, size=1000) and asm.invalid == []


def test_both_slots_are_candidates_newest_offset_first() -> None:
    """Slots a and b hold the last two checkpoints; the newer comes first."""
    asm = Assembler(G, T)
    feed(asm, ck(300, slot="b"), "b")
    feed(asm, ck(200, slot="a"), "a")
    assert [c.offset for c, _ in asm.candidates(0)] == [300, 200]


@pytest.mark.parametrize(("garbage", "reason"), [
    ((b"not a checkpoint", [(HEADER, b"nonsense")]), "bad_header"),
    ((b"x", None), "bad_header"),
    ((encode(ck(999))[:20], [(HEADER, orjson.dumps(
        {"v": 2, "gen": "g", "i": 0, "n": 1, "sha256": "0" * 64}))]), "checksum"),
    ((b"DLC1\x00{}", [(HEADER, b"0123456789abcdef:0:1")]), "old_version"),
], ids=["bad-header", "no-header", "truncated", "old-format"])
def test_garbage_in_one_slot_leaves_the_other_to_restore(
        garbage: tuple[bytes, list[tuple[str, bytes]] | None], reason: str) -> None:
    """A garbage record under the newest slot's key: skipped with its reason, the older slot used."""
    asm = Assembler(G, T)
    feed(asm, ck(100), "a")
    feed(asm, ck(200, slot="b"), "b")
    value, headers = garbage
    asm.add(changelog_key(G, T, 0, "b").encode(), value, headers)
    assert [c.offset for c, _ in asm.candidates(0)] == [100]
    assert [bad.reason for bad in asm.invalid] == [reason]


def test_a_chunk_whose_bytes_changed_fails_the_checksum() -> None:
    """Every chunk is in the checksum: one flipped byte in chunk 2 skips the slot."""
    asm = Assembler(G, T)
    records = feed(asm, ck(100, size=3000), "a")
    key, value, headers = records[2]
    asm.add(key.encode(), value[:-1] + bytes([value[-1] ^ 1]), headers)
    assert asm.candidates(0) == [] and [b.reason for b in asm.invalid] == ["checksum"]


def test_a_missing_chunk_is_named_and_a_tombstone_deletes() -> None:
    """Chunks of another generation do not make a checkpoint; a null value removes the key."""
    asm = Assembler(G, T)
    first = to_records(changelog_key(G, T, 0, "a"), encode(ck(1, size=500)), 200)
    second = to_records(changelog_key(G, T, 0, "a"), encode(ck(2, size=500)), 200)
    for key, value, headers in (second[0], first[1]):
        asm.add(key.encode(), value, headers)
    assert asm.candidates(0) == [] and [b.reason for b in asm.invalid] == ["missing_chunk"]
    asm.invalid.clear()
    asm.add(changelog_key(G, T, 0, "a").encode(), None, None)
    assert asm.candidates(0) == [] and asm.invalid == []


@pytest.mark.parametrize("key", [b"\xff\xfe\x00", b"other-group/predictions/0/a",
                                 f"{G}/other-topic/0/a".encode(), b""])
def test_records_of_others_are_ignored_not_counted(key: bytes) -> None:
    """Non-UTF-8 keys and other groups' or topics' records are not ours: ignored."""
    asm = Assembler(G, T)
    asm.add(key, b"garbage", None)
    feed(asm, ck(5), "a")
    assert [c.offset for c, _ in asm.candidates(0)] == [5]
    assert asm.invalid == [] and asm.foreign == 1


def test_our_prefix_with_a_bad_suffix_and_metadata_of_another_partition_are_invalid() -> None:
    """A key under our prefix that is not <partition>/<slot>, or a checkpoint whose metadata
    names another partition than its key, is skipped with its reason."""
    asm = Assembler(G, T)
    asm.add(f"{G}/{T}/zero/a".encode(), b"x", None)
    feed(asm, ck(5, partition=3), "a")  # written under partition 0's key
    assert asm.candidates(0) == []
    assert [b.reason for b in asm.invalid] == ["bad_key", "wrong_key"]


def test_engine_state_survives_the_changelog_encoding_exactly() -> None:
    """Snapshot → encode → decode → restore mid-stream gives the uninterrupted incidents."""
    config = load_config(None, **{"window.size": "5m", "reference.warmup_windows": 2})
    scenario = demo.Scenario(windows=14, region_start=4, region_end=10, unit_start=6,
                             unit_end=9, creep_start=10, warmup=2)
    messages = [m for _, batch in demo.stream(3, scenario) for m in batch]

    def run(cuts: set[int]) -> list[dict[str, object]]:
        engine, out = Engine(config), []
        for i in range(0, len(messages), 4000):
            chunk = messages[i:i + 4000]
            out += engine.process(chunk, np.arange(i, i + len(chunk)),
                                  np.zeros(len(chunk), np.int64)).incidents
            if i in cuts:  # the warm-up and later states, through the real encoding
                asm = Assembler(G, T)
                checkpoint = Checkpoint(i + len(chunk), engine.snapshot(),
                                        {"group": G, "topic": T, "partition": 0})
                for key, value, headers in to_records(changelog_key(G, T, 0, "a"),
                                                      encode(checkpoint), 50_000):
                    asm.add(key.encode(), value, headers)
                (restored, _), = asm.candidates(0)
                engine = Engine(config)
                engine.restore(restored.state)
        return out + engine.finish().incidents

    straight = run(set())
    assert straight
    assert run({0, 8000, 24000, 40000}) == straight
