"""Checkpoints: an engine's state and the input offset it covers, as changelog records.

A checkpoint is ``Engine.snapshot()`` plus ``offset``, the next input offset to read (the
position after the last event the state contains). It is serialised with orjson, and
zlib-compressed when large; a one-byte flag after the magic says which. A blob larger than a
Kafka message may be (1 MB by default) is split into chunks, each its own record of the
compacted changelog: chunk 0 under the partition's key ``<group>/<topic>/<partition>``,
chunk ``i`` under ``<key>#<i>``. Every chunk carries the header
``driftline.checkpoint = <generation>:<i>:<n>``, so a reader takes the newest chunk 0 and the
chunks of the same generation (chunks of an older, longer checkpoint that compaction keeps
are ignored). All chunks of one checkpoint are written in one transaction.

>>> ck = Checkpoint(offset=42, state={"format": "x", "started": False})
>>> decode(encode(ck)) == ck
True
>>> records = to_records("g/t/0", ck, chunk_size=16)
>>> len(records) > 1, [k for k, _, _ in records][:2]
(True, ['g/t/0', 'g/t/0#1'])
>>> asm = Assembler()
>>> for key, value, headers in records:
...     asm.add(key, value, headers)
>>> asm.checkpoint("g/t/0") == ck
True
"""

from __future__ import annotations

import re
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from driftline.errors import CheckpointError

MAGIC = b"DLC1"
RAW, ZLIB = 0, 1
COMPRESS_ABOVE = 16 * 1024  # bytes of JSON
CHUNK_SIZE = 512 * 1024  # well under the 1 MB default max message size of brokers and clients
HEADER = "driftline.checkpoint"
_CHUNK_KEY = re.compile(r"^(.*/-?\d+)#(\d+)$")  # a base key always ends in /<partition>


def changelog_key(group: str, topic: str, partition: int) -> str:
    """The compacted changelog's key of one input partition's state."""
    return f"{group}/{topic}/{partition}"


@dataclass(frozen=True)
class Checkpoint:
    """Engine state and the next input offset it covers."""

    offset: int
    state: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


def encode(ck: Checkpoint) -> bytes:
    """MAGIC + flag + orjson (zlib level 1 above ``COMPRESS_ABOVE`` bytes)."""
    if ck.offset < 0:
        raise CheckpointError(f"a checkpoint needs a real offset, not {ck.offset}")
    try:
        body = orjson.dumps({"offset": ck.offset, "meta": ck.meta, "state": ck.state},
                            option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:
        raise CheckpointError(f"the engine state is not JSON-serialisable: {exc}") from exc
    if len(body) > COMPRESS_ABOVE:
        return MAGIC + bytes([ZLIB]) + zlib.compress(body, 1)
    return MAGIC + bytes([RAW]) + body


def decode(blob: bytes) -> Checkpoint:
    if blob[:4] != MAGIC or len(blob) < 5:
        raise CheckpointError("not a driftline checkpoint (bad magic)")
    flag, body = blob[4], blob[5:]
    try:
        if flag == ZLIB:
            body = zlib.decompress(body)
        elif flag != RAW:
            raise CheckpointError(f"unknown checkpoint encoding {flag}")
        obj = orjson.loads(body)
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise CheckpointError(f"corrupt checkpoint: {exc}") from exc
    return Checkpoint(int(obj["offset"]), obj["state"], obj.get("meta") or {})


Record = tuple[str, bytes, list[tuple[str, str | bytes | None]]]


def to_records(key: str, ck: Checkpoint | bytes, chunk_size: int = CHUNK_SIZE) -> list[Record]:
    """The changelog records (key, value, headers) of one checkpoint."""
    blob = ck if isinstance(ck, bytes) else encode(ck)
    parts = [blob[i:i + chunk_size] for i in range(0, len(blob), chunk_size)] or [b""]
    gen = uuid.uuid4().hex[:16]
    n = len(parts)
    return [(key if i == 0 else f"{key}#{i}", part, [(HEADER, f"{gen}:{i}:{n}".encode())])
            for i, part in enumerate(parts)]


def _parse_header(headers: Sequence[tuple[str, str | bytes | None]] | None,
                  ) -> tuple[str, int, int]:
    for name, value in headers or ():
        if name == HEADER and value is not None:
            text = value.decode() if isinstance(value, bytes) else value
            gen, i, n = text.split(":")
            return gen, int(i), int(n)
    raise CheckpointError(f"changelog record without a {HEADER} header")


class Assembler:
    """Reads changelog records in log order; keeps the newest of each key; assembles chunks."""

    def __init__(self, wanted: Iterable[str] | None = None) -> None:
        self._wanted = None if wanted is None else set(wanted)
        self._latest: dict[str, tuple[bytes, tuple[str, int, int]]] = {}

    def add(self, key: str, value: bytes | None,
            headers: Sequence[tuple[str, str | bytes | None]] | None) -> None:
        m = _CHUNK_KEY.match(key)
        base = m.group(1) if m else key
        if self._wanted is not None and base not in self._wanted:
            return
        if value is None:  # a tombstone deletes the key
            self._latest.pop(key, None)
            return
        self._latest[key] = (value, _parse_header(headers))

    def blob(self, key: str) -> bytes | None:
        head = self._latest.get(key)
        if head is None:
            return None
        value, (gen, i, n) = head
        if i != 0:
            raise CheckpointError(f"{key}: chunk 0 has index {i}")
        parts = [value]
        for j in range(1, n):
            chunk = self._latest.get(f"{key}#{j}")
            if chunk is None or chunk[1][0] != gen:
                raise CheckpointError(f"{key}: chunk {j}/{n} of generation {gen} is missing")
            parts.append(chunk[0])
        return b"".join(parts)

    def checkpoint(self, key: str) -> Checkpoint | None:
        blob = self.blob(key)
        return None if blob is None else decode(blob)
