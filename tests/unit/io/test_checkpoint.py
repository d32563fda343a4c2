"""Checkpoints: exact round trips, compression, chunking over compacted records."""

from __future__ import annotations

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
    Checkpoint,
    changelog_key,
    decode,
    encode,
    to_records,
)


def test_small_checkpoints_are_plain_and_large_ones_compressed() -> None:
    """Up to 16 KiB of JSON is stored as is, beyond that zlib-compressed; both decode."""
    small = Checkpoint(7, {"x": 1})
    big = Checkpoint(8, {"x": list(range(20_000))}, {"partition": 3})
    assert encode(small)[4] == 0 and encode(big)[4] == 1
    assert len(encode(big)) < len(orjson.dumps(big.state)) / 2
    assert decode(encode(small)) == small and decode(encode(big)) == big


def test_bad_blobs_and_offsets_are_checkpoint_errors() -> None:
    """Foreign or damaged bytes never decode silently; a checkpoint needs a real offset."""
    for blob in (b"", b"{}", MAGIC + b"\x01garbage", MAGIC + b"\x07{}"):
        with pytest.raises(CheckpointError):
            decode(blob)
    with pytest.raises(CheckpointError):
        encode(Checkpoint(-1001, {}))


def test_chunks_reassemble_and_stale_chunks_are_ignored() -> None:
    """A long checkpoint followed by a short one: the short one wins, old chunk 2 is ignored."""
    key = changelog_key("g#1", "predictions", 4)
    long = Checkpoint(100, {"blob": "a" * 3000})
    short = Checkpoint(200, {"blob": "b" * 1000})
    asm = Assembler([key])
    for records in (to_records(key, encode(long), chunk_size=1000),
                    to_records(key, encode(short), chunk_size=1000)):
        for k, value, headers in records:
            asm.add(k, value, headers)
    asm.add("g/other/0", b"ignored", [(HEADER, b"x:0:1")])
    assert len(to_records(key, encode(long), chunk_size=1000)) == 4
    assert asm.checkpoint(key) == short
    assert asm.checkpoint(changelog_key("g#1", "predictions", 5)) is None


def test_a_missing_chunk_is_an_error_and_a_tombstone_deletes() -> None:
    """Chunks of another generation do not make a checkpoint; a null value removes the key."""
    key = changelog_key("g", "t", 0)
    first = to_records(key, encode(Checkpoint(1, {"s": "x" * 500})), chunk_size=200)
    second = to_records(key, encode(Checkpoint(2, {"s": "y" * 500})), chunk_size=200)
    asm = Assembler()
    asm.add(*second[0])  # chunk 0 of the second, chunk 1 of the first only
    asm.add(*first[1])
    with pytest.raises(CheckpointError, match="missing"):
        asm.checkpoint(key)
    asm.add(key, None, None)
    assert asm.checkpoint(key) is None


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
                blob = b"".join(v for _, v, _ in to_records("k/t/0", encode(
                    Checkpoint(i + len(chunk), engine.snapshot())), chunk_size=50_000))
                engine = Engine(config)
                engine.restore(decode(blob).state)
        return out + engine.finish().incidents

    straight = run(set())
    assert straight
    assert run({0, 8000, 24000, 40000}) == straight
