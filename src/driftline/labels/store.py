"""Labels by event-id key, on disk: SQLite from the standard library.

Why SQLite: the join must hold every label the TTL allows, whatever the file's size or the
labels' delay, in bounded memory; SQLite is a B-tree on disk with a small page cache, in the
standard library (no new dependency), and its integer primary key (the id's 64-bit key) is
the row id itself, so a batch's lookup is a few index probes. For a replay it is a scratch
store, rebuilt from the labels file every time: no journal, no fsync. For a run reading a
labels topic it is ``durable``: write-ahead log, and each batch of labels is stored in one
transaction together with the topic positions after it (``add_at``), so the store and the
positions it says it holds cannot disagree after a crash — a restart reads the topic on from
there, and a store that is gone is rebuilt from the topic's beginning.

Every row read back is checked (the file could be edited, the disk could lie): the key an
int, the label a non-empty text, the value a finite float or null, the timestamp a finite
float, where it was read (partition, offset or line: what an incident cites) two integers.
A row that is not is counted as ``corrupt`` and skipped, never raised. A store of another
layout (``LAYOUT``) is emptied when opened: a durable one is then rebuilt from its topic.

Duplicate ids: the **earliest-stamped** label of an id wins (on equal times, the least text,
then the least position), the others are counted as ``duplicate``: a label is a fact about a
prediction, a second one a correction driftline cannot tell from a replayed message — and the
earliest is the same one whatever order the labels come in (a file's, or the partitions of a
topic interleaved).
"""

from __future__ import annotations

import math
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from driftline.detectors.sketches import FloatArray, IntArray
from driftline.labels.lines import Row

CHUNK = 500  # keys per `IN (...)` query: under SQLite's variable limit on any build
#: the store's layout (SQLite's ``user_version``): a store of another layout is emptied and
#: rebuilt (a durable one from its topic's beginning, as if it were lost)
LAYOUT = 2
MAX_LABEL = 4096  # characters: a longer label text in the store is corrupt
MAX_CLOCK = 1 << 16  # characters of a position's clock (a watermark's state: ~10 KB)


class Found:
    """What a lookup found, as columns: keys, label texts, values (NaN: none), timestamps,
    and where each label was read (partition, -1 for a file; offset or line)."""

    def __init__(self, rows: list[tuple[int, str, float | None, float, int, int]]) -> None:
        rows = sorted(rows)  # by key: the join finds a batch's keys by binary search
        self.keys: IntArray = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        self.labels: list[str] = [r[1] for r in rows]
        self.values: FloatArray = np.fromiter(
            (math.nan if r[2] is None else r[2] for r in rows), np.float64, len(rows))
        self.times: FloatArray = np.fromiter((r[3] for r in rows), np.float64, len(rows))
        self.partitions: IntArray = np.fromiter((r[4] for r in rows), np.int64, len(rows))
        self.positions: IntArray = np.fromiter((r[5] for r in rows), np.int64, len(rows))


def valid_row(row: Sequence[Any]) -> bool:
    """A stored row as written: (int key, text label, finite float or null, finite float,
    partition >= -1, position >= 0)."""
    if len(row) != 6:
        return False
    key, label, value, ts, part, at = row
    return (type(key) is int and key != 0 and isinstance(label, str) and 0 < len(label)
            <= MAX_LABEL and (value is None or (type(value) is float and math.isfinite(value)))
            and type(ts) is float and math.isfinite(ts) and type(part) is int and part >= -1
            and type(at) is int and at >= 0)


class LabelStore:
    """A disk-backed map: event-id key → (label, value, timestamp, where it was read), the
    earliest label wins."""

    def __init__(self, path: str | Path | None = None, durable: bool = False) -> None:
        self._dir = None if path is not None else tempfile.mkdtemp(prefix="driftline-labels-")
        self.path = Path(path) if path is not None else Path(self._dir or ".") / "labels.sqlite"
        # transactions explicit; a durable store is made by one thread (run's) and used by
        # another (the performance layer's), never by two at once
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=not durable)
        # durable: a kill -9 loses no committed transaction (the WAL is in the OS's hands)
        # exclusive: a second process on the same store fails at once, never interleaves
        mode = "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; " \
            "PRAGMA synchronous=NORMAL;" if durable else \
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
        self.db.executescript(mode)
        #: the store was of another layout and was emptied (its caller says so)
        self.rebuilt = self._layout()
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS labels (key INTEGER PRIMARY KEY, label TEXT NOT NULL, "
            "value REAL, ts REAL NOT NULL, part INTEGER NOT NULL, pos INTEGER NOT NULL, "
            "matched INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE IF NOT EXISTS positions (topic TEXT NOT NULL, partition INTEGER "
            "NOT NULL, next_offset INTEGER NOT NULL, clock TEXT, "
            "PRIMARY KEY (topic, partition));")
        self.corrupt = 0

    def _layout(self) -> bool:
        """Empty a store of another layout; whether it was one."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = self.db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                 ).fetchone()[0]
        self.db.executescript("DROP TABLE IF EXISTS labels; DROP TABLE IF EXISTS positions;"
                              if tables and version != LAYOUT else "")
        self.db.execute(f"PRAGMA user_version = {LAYOUT}")
        return bool(tables) and version != LAYOUT

    def add(self, rows: list[Row]) -> int:
        """Store ``rows``; returns how many were duplicates of an id already stored."""
        return self.add_at(rows, "", {})

    def add_at(self, rows: list[Row], topic: str,
               positions: dict[int, tuple[int, str | None]]) -> int:
        """Store ``rows`` and, in the same transaction, ``topic``'s positions after them
        (partition → (next offset, the caller's clock as JSON text)); returns the
        duplicates."""
        before = self.db.total_changes
        self.db.execute("BEGIN")  # one transaction per batch: one write, not one per row
        self.db.executemany("INSERT OR IGNORE INTO labels (key, label, value, ts, part, pos) "
                            "VALUES (?, ?, ?, ?, ?, ?)", rows)
        added = self.db.total_changes - before
        if added < len(rows):  # an id already stored: the earliest label stays
            self.db.executemany(
                "UPDATE labels SET label = ?2, value = ?3, ts = ?4, part = ?5, pos = ?6 "
                "WHERE key = ?1 AND (ts > ?4 OR (ts = ?4 AND (label > ?2 OR (label = ?2 AND "
                "(part, pos) > (?5, ?6)))))", rows)
        self.db.executemany(
            "INSERT INTO positions (topic, partition, next_offset, clock) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset, "
            "clock = excluded.clock",
            [(topic, p, off, clock) for p, (off, clock) in positions.items()])
        self.db.execute("COMMIT")
        return len(rows) - added

    def positions(self, topic: str) -> dict[int, tuple[int, str | None]]:
        """The positions ``add_at`` stored for ``topic``: partition → (next offset, clock
        text, which its caller validates); a row that is not one (the file edited) is
        counted corrupt, and its partition is read again from the beginning."""
        out: dict[int, tuple[int, str | None]] = {}
        for row in self.db.execute("SELECT partition, next_offset, clock FROM positions "
                                   "WHERE topic = ?", (topic,)).fetchall():
            p, off, clock = row
            if type(p) is int and p >= -1 and type(off) is int and off >= 0 and (
                    clock is None or (type(clock) is str and len(clock) <= MAX_CLOCK)):
                out[p] = (off, clock)
            else:
                self.corrupt += 1
        return out

    def lookup(self, keys: IntArray) -> Found:
        """The stored labels of ``keys`` (distinct, non-zero), checked; marks them matched."""
        rows: list[tuple[int, str, float | None, float, int, int]] = []
        for i in range(0, keys.size, CHUNK):
            chunk = [int(k) for k in keys[i:i + CHUNK]]
            marks = ",".join("?" * len(chunk))  # placeholders only: the keys are parameters
            got = self.db.execute(f"SELECT key, label, value, ts, part, pos FROM labels "
                                  f"WHERE key IN ({marks})", chunk).fetchall()
            ok = [r for r in got if valid_row(r)]
            self.corrupt += len(got) - len(ok)
            rows += ok
            if got:
                self.db.execute(f"UPDATE labels SET matched = 1 WHERE key IN ({marks})",
                                chunk)
        return Found(rows)

    def expire(self, before: float) -> int:
        """Delete the labels stamped before ``before`` (no prediction still to come can use
        them); returns how many."""
        self.db.execute("BEGIN")
        n = self.db.execute("DELETE FROM labels WHERE ts < ?", (before,)).rowcount
        self.db.execute("COMMIT")
        return int(n)

    def unmatched(self) -> int:
        """Labels whose id no prediction had (so far)."""
        n: int = self.db.execute("SELECT count(*) FROM labels WHERE matched = 0").fetchone()[0]
        return n

    def __len__(self) -> int:
        n: int = self.db.execute("SELECT count(*) FROM labels").fetchone()[0]
        return n

    def close(self) -> None:
        self.db.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
