"""File sources and sinks: JSON-lines in, incidents and dead letters out.

A file source yields batches of raw lines with their 1-based line numbers, so an
incident's ``source_positions`` name the exact lines to replay (``sed -n A,Bp``).
"""

from __future__ import annotations

import base64
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


def read_batches(path: str | Path, batch_size: int = 10_000,
                 progress: bool = False) -> Iterator[tuple[list[bytes], np.ndarray]]:
    """Batches of (lines, line numbers) from a JSON-lines file or '-' for stdin."""
    if str(path) == "-":
        yield from _batches(sys.stdin.buffer, batch_size)
        return
    size = Path(path).stat().st_size
    with open(path, "rb") as fh:
        bar = _progress(size, Path(path).name) if progress else None
        for lines, numbers in _batches(fh, batch_size):
            if bar is not None:
                bar.update(fh.tell() - bar.n)
            yield lines, numbers
        if bar is not None:
            bar.close()


def _progress(total: int, name: str) -> Any:
    from tqdm import tqdm  # imported lazily: only interactive replays draw a bar

    return tqdm(total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr,
                disable=not sys.stderr.isatty())


def _batches(fh: IO[bytes], batch_size: int) -> Iterator[tuple[list[bytes], np.ndarray]]:
    lines: list[bytes] = []
    first = 1
    for number, line in enumerate(fh, start=1):
        # blank lines are kept (and dead-lettered) so line numbers stay exact
        lines.append(line.rstrip(b"\r\n"))
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
