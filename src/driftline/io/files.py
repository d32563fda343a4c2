"""File sources and sinks: JSON-lines in, incidents and dead letters out.

A file source yields batches of raw lines with their 1-based line numbers, so an
incident's ``source_positions`` name the exact lines to replay (``sed -n A,Bp``). An incident
file keeps the actions people recorded on its incidents when a run rewrites it
(``IncidentFileSink``).
"""

from __future__ import annotations

import base64
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from driftline.decode import DeadLetter


def file_origin(path: str | Path) -> dict[str, Any]:
    """What an incident's ``source_positions`` say of a file source: its path (lines follow)."""
    if str(path) == "-":
        return {"source": "stdin"}
    return {"source": "file", "path": str(path)}


MAX_LINE = 1 << 20  # the default line bound when the caller names none


def bounded_lines(fh: IO[bytes], max_bytes: int = MAX_LINE) -> Iterator[bytes]:
    """The lines of ``fh`` without their end, never more than ``max_bytes + 1`` bytes each.

    A longer line is cut to its first ``max_bytes + 1`` bytes (still too long: the decoder
    rejects it as ``oversize``) and the rest of it is skipped as it is read, so one huge
    line costs a bounded buffer, never its own size.
    """
    keep = max_bytes + 1
    while True:
        line = fh.readline(keep + 1)  # + 1: room for the newline of a line of ``keep`` bytes
        if not line:
            return
        if line.endswith(b"\n") or len(line) <= keep:
            yield line.rstrip(b"\r\n")
            continue
        head = line[:keep]
        while True:  # skip to the end of this line, a bounded chunk at a time
            rest = fh.readline(1 << 16)
            if not rest or rest.endswith(b"\n"):
                break
        yield head


def read_lines(path: str | Path, max_bytes: int = MAX_LINE) -> list[bytes]:
    """Every non-blank line of a file (reference events), each bounded as ``bounded_lines``."""
    with open(path, "rb") as fh:
        return [line for line in bounded_lines(fh, max_bytes) if line.strip()]


def read_batches(path: str | Path, batch_size: int = 10_000, progress: bool = False,
                 max_bytes: int = MAX_LINE) -> Iterator[tuple[list[bytes], np.ndarray]]:
    """Batches of (lines, line numbers) from a JSON-lines file or '-' for stdin."""
    if str(path) == "-":
        yield from _batches(sys.stdin.buffer, batch_size, max_bytes)
        return
    size = Path(path).stat().st_size
    with open(path, "rb") as fh:
        bar = _progress(size, Path(path).name) if progress else None
        for lines, numbers in _batches(fh, batch_size, max_bytes):
            if bar is not None:
                bar.update(fh.tell() - bar.n)
            yield lines, numbers
        if bar is not None:
            bar.close()


def _progress(total: int, name: str) -> Any:
    from tqdm import tqdm  # imported lazily: only interactive replays draw a bar

    return tqdm(total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr,
                disable=not sys.stderr.isatty())


def _batches(fh: IO[bytes], batch_size: int,
             max_bytes: int) -> Iterator[tuple[list[bytes], np.ndarray]]:
    lines: list[bytes] = []
    first = 1
    for number, line in enumerate(bounded_lines(fh, max_bytes), start=1):
        # blank lines are kept (and dead-lettered) so line numbers stay exact
        lines.append(line)
        if len(lines) >= batch_size:
            yield _emit(lines, first)
            lines, first = [], number + 1
    if lines:
        yield _emit(lines, first)


def _emit(lines: list[bytes], first: int) -> tuple[list[bytes], np.ndarray]:
    return lines, np.arange(first, first + len(lines), dtype=np.int64)


class JsonLinesSink:
    """Appends one JSON object per line; flushes after each write batch."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, records: list[dict[str, Any]]) -> None:
        if self._fh is None or not records:
            return
        self._fh.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


#: CloudEvent types of people's actions on incidents (``driftline incident ack|note|close``)
ACTION_TYPES = frozenset(f"io.driftline.incident.{k}" for k in ("acknowledged", "annotated", "closed"))


def is_action_line(line: bytes) -> bool:
    """Whether a line of an incident file is an action CloudEvent (kept across replays)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and obj.get("type") in ACTION_TYPES


class IncidentFileSink(JsonLinesSink):
    """An incident file that a run rewrites: its detection events go, recorded actions stay.

    ``replay`` and ``demo`` write the detection events of one run; people's actions
    (``driftline incident ack|note|close``) are appended to the same file and must survive
    the next replay. On open, under an exclusive ``flock`` (the lock the incident commands
    take to append), the action lines are read, the file is truncated and they are written
    back first, verbatim; every later write appends under the lock.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = path
        self._fh = None
        self.kept = 0
        if path is None:
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+b")  # noqa: SIM115 - closed in close()
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            kept = [line for line in fh.read().splitlines() if is_action_line(line)]
            fh.truncate(0)
            fh.write(b"".join(line + b"\n" for line in kept))
            fh.flush()
            os.fsync(fh.fileno())
            self.kept = len(kept)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
        self._fh = fh

    def write(self, records: list[dict[str, Any]]) -> None:
        if self._fh is None or not records:
            return
        fcntl.flock(self._fh, fcntl.LOCK_EX)
        try:
            super().write(records)
        finally:
            fcntl.flock(self._fh, fcntl.LOCK_UN)


def dead_letter_record(d: DeadLetter, source: str = "file") -> dict[str, Any]:
    """A dead letter as JSON: the original bytes (text if UTF-8, else base64) and why."""
    try:
        raw: dict[str, str] = {"text": d.raw.decode("utf-8")}
    except UnicodeDecodeError:
        raw = {"base64": base64.b64encode(d.raw).decode("ascii")}
    pos: dict[str, Any] = {"source": source, "position": d.position}
    if d.partition >= 0:
        pos["partition"] = d.partition
    return {"reason": d.reason, "detail": d.detail, **pos, "raw": raw}
