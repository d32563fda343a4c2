"""Checkpoints in a compacted changelog: plain versioned records, validated before use.

A checkpoint is ``Engine.snapshot()``, the next input offset it covers (the position after
the last event the state contains) and metadata naming whose it is (group, topic, the
topic's id, partition). Its blob is ``MAGIC`` + an encoding flag + orjson (zlib level 1 when
large), split into chunks that fit a Kafka message. Every chunk is its own record with the
header ``driftline.checkpoint`` — JSON ``{"v": 2, "gen", "i", "n", "sha256"}`` — so a reader
assembles the chunks of one generation and checks the checksum of the whole before it
decodes anything.

Keys are ``<group>/<topic>/<partition>/<slot>`` (chunk ``i > 0``: ``…/<slot>#<i>``). Each
commit writes the *other* of two slots, ``a`` and ``b``: compaction keeps only the newest
record per key, so a garbage record written under one slot's key can erase that slot, never
the other one — the previous checkpoint survives, and the runtime resumes from it (and
suppresses the output it already published).

What does not validate is skipped with its reason (``Invalid``), counted by the caller as
``driftline_checkpoint_invalid_total{reason}``; records of other groups or topics, or whose
key is not even UTF-8, are not ours and are ignored.

>>> ck = Checkpoint(offset=42, state={"format": "x"}, meta={"group": "g", "topic": "t",
...                 "partition": 0})
>>> decode(encode(ck)) == ck
True
>>> asm = Assembler("g", "t")
>>> for key, value, headers in to_records(changelog_key("g", "t", 0, "a"), encode(ck), 16):
...     asm.add(key.encode(), value, headers)
>>> [c.offset for c, _ in asm.candidates(0)], asm.invalid
([42], [])
"""

from __future__ import annotations

import hashlib
import re
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import orjson
from pydantic import Field

from driftline.errors import CheckpointError, StateError
from driftline.state import State, validated

MAGIC = b"DLC2"
OLD_MAGICS = (b"DLC1",)
VERSION = 2
RAW, ZLIB = 0, 1
COMPRESS_ABOVE = 16 * 1024  # bytes of JSON
CHUNK_SIZE = 512 * 1024  # well under the 1 MB default max message size of brokers and clients
MAX_STATE_BYTES = 512 << 20  # a decompressed checkpoint larger than this is refused
HEADER = "driftline.checkpoint"
SLOTS = ("a", "b")
_KEY = re.compile(r"^(?P<prefix>.*)/(?P<partition>\d+)/(?P<slot>[ab])(?:#(?P<chunk>\d+))?\Z",
                  re.S)

Headers = Sequence[tuple[str, str | bytes | None]]
Record = tuple[str, bytes, list[tuple[str, str | bytes | None]]]


def changelog_key(group: str, topic: str, partition: int, slot: str) -> str:
    """The compacted changelog's key of one slot of one input partition's state."""
    return f"{group}/{topic}/{partition}/{slot}"


class CheckpointMeta(State):
    group: str
    topic: str
    partition: int = Field(ge=0)
    slot: Literal["a", "b"] | None = None
    topic_id: str | None = None
    instance: str | None = None
    written: str | None = None


class CheckpointBody(State):
    offset: int = Field(ge=0)
    meta: CheckpointMeta
    state: dict[str, Any]  # validated by Engine.restore


class ChunkHeader(State):
    v: int
    gen: str = Field(min_length=1, max_length=64)
    i: int = Field(ge=0)
    n: int = Field(ge=1, le=4096)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Checkpoint:
    """Engine state, the next input offset it covers, and whose it is."""

    offset: int
    state: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


class Invalid(NamedTuple):
    """A changelog record (or checkpoint) that was skipped, and why."""

    reason: str
    key: str
    detail: str


class BadCheckpoint(CheckpointError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


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


def decode(blob: bytes, max_bytes: int = MAX_STATE_BYTES) -> Checkpoint:
    """The checkpoint in ``blob``; ``BadCheckpoint`` (with a reason) for anything else."""
    if blob[:4] in OLD_MAGICS:
        raise BadCheckpoint("old_version", f"a checkpoint of format {blob[:4]!r}; this driftline "
                            f"writes {MAGIC!r} (see docs/kafka.md: rebuilding state)")
    if blob[:4] != MAGIC or len(blob) < 5:
        raise BadCheckpoint("bad_format", "not a driftline checkpoint (bad magic)")
    flag, body = blob[4], blob[5:]
    if flag == ZLIB:
        inflate = zlib.decompressobj()
        try:
            body = inflate.decompress(body, max_bytes)
        except zlib.error as exc:
            raise BadCheckpoint("bad_format", f"corrupt checkpoint: {exc}") from exc
        if inflate.unconsumed_tail:
            raise BadCheckpoint("too_large", f"a checkpoint larger than {max_bytes} bytes")
    elif flag != RAW:
        raise BadCheckpoint("bad_format", f"unknown checkpoint encoding {flag}")
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadCheckpoint("bad_format", f"corrupt checkpoint: {exc}") from exc
    try:
        parsed = validated(CheckpointBody, obj, "checkpoint")
    except StateError as exc:
        raise BadCheckpoint("bad_state", str(exc)) from exc
    return Checkpoint(parsed.offset, parsed.state, parsed.meta.model_dump(exclude_none=True))


def to_records(key: str, blob: bytes, chunk_size: int = CHUNK_SIZE) -> list[Record]:
    """The changelog records (key, value, headers) of one checkpoint blob."""
    parts = [blob[i:i + chunk_size] for i in range(0, len(blob), chunk_size)] or [b""]
    gen = uuid.uuid4().hex[:16]
    digest = hashlib.sha256(blob).hexdigest()
    n = len(parts)
    out: list[Record] = []
    for i, part in enumerate(parts):
        header = orjson.dumps({"v": VERSION, "gen": gen, "i": i, "n": n, "sha256": digest})
        out.append((key if i == 0 else f"{key}#{i}", part, [(HEADER, header)]))
    return out


_OLD_HEADER = re.compile(rb"^[0-9a-f]{16}:\d+:\d+\Z")  # format 1: "<generation>:<i>:<n>"


def _header(headers: Headers | None) -> ChunkHeader:
    for name, value in headers or ():
        if name == HEADER and value is not None:
            raw = value.encode() if isinstance(value, str) else value
            if _OLD_HEADER.match(raw):
                raise BadCheckpoint("old_version", "a checkpoint of driftline's previous format "
                                    "(1); the state is rebuilt (docs/kafka.md)")
            try:
                return validated(ChunkHeader, orjson.loads(value), "checkpoint header")
            except (orjson.JSONDecodeError, StateError) as exc:
                raise BadCheckpoint("bad_header", f"{HEADER} header: {exc}") from exc
    raise BadCheckpoint("bad_header", f"no {HEADER} header")


class Assembler:
    """Reads one group's and topic's changelog records in log order; newest per key wins.

    ``candidates(partition)`` are the checkpoints of the partition's slots that assemble and
    decode, newest offset first; every record or slot that does not is in ``invalid``.
    """

    def __init__(self, group: str, topic: str) -> None:
        self.prefix = f"{group}/{topic}"
        self.group, self.topic = group, topic
        self._latest: dict[str, tuple[bytes, ChunkHeader]] = {}
        self.invalid: list[Invalid] = []
        self.foreign = 0

    def add(self, key: bytes | str | None, value: bytes | None, headers: Headers | None) -> None:
        try:
            text = key.decode("utf-8") if isinstance(key, bytes) else key
        except UnicodeDecodeError:
            text = None
        m = _KEY.match(text) if text is not None else None
        if text is None or m is None or m.group("prefix") != self.prefix:
            if text is not None and text.startswith(self.prefix + "/"):
                self.invalid.append(Invalid("bad_key", text, "not <partition>/<slot>[#chunk]"))
            else:
                self.foreign += 1  # another group's, another topic's, or nobody's
            return
        if value is None:  # a tombstone deletes the key, as compaction will
            self._latest.pop(text, None)
            return
        try:
            header = _header(headers)
        except BadCheckpoint as exc:
            self.invalid.append(Invalid(exc.reason, text, str(exc)))
            self._latest.pop(text, None)
            return
        self._latest[text] = (value, header)

    def blob(self, key: str) -> bytes:
        """The assembled, checksummed blob of the slot ``key`` (``BadCheckpoint`` if not)."""
        head = self._latest.get(key)
        if head is None:
            raise BadCheckpoint("missing", f"{key}: no record")
        value, h = head
        if h.i != 0:
            raise BadCheckpoint("bad_header", f"{key}: chunk 0 has index {h.i}")
        parts = [value]
        for j in range(1, h.n):
            chunk = self._latest.get(f"{key}#{j}")
            if chunk is None or chunk[1].gen != h.gen or chunk[1].i != j:
                raise BadCheckpoint("missing_chunk", f"{key}: chunk {j}/{h.n} of generation "
                                    f"{h.gen} is missing")
            parts.append(chunk[0])
        blob = b"".join(parts)
        if hashlib.sha256(blob).hexdigest() != h.sha256:
            raise BadCheckpoint("checksum", f"{key}: the chunks do not match their checksum")
        return blob

    def candidates(self, partition: int) -> list[tuple[Checkpoint, bytes]]:
        """The partition's valid checkpoints, newest offset first."""
        found = []
        for slot in SLOTS:
            key = changelog_key(self.group, self.topic, partition, slot)
            if key not in self._latest:
                continue
            try:
                blob = self.blob(key)
                ck = decode(blob)
            except BadCheckpoint as exc:
                self.invalid.append(Invalid(exc.reason, key, str(exc)))
                continue
            meta = ck.meta
            if (meta.get("group"), meta.get("topic"), meta.get("partition")) != (
                    self.group, self.topic, partition):
                self.invalid.append(Invalid("wrong_key", key, "its metadata names another "
                                            "group, topic or partition"))
                continue
            found.append((ck, blob))
        return sorted(found, key=lambda c: -c[0].offset)
