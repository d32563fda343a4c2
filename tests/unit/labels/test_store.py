"""The labels' SQLite store: first label of an id wins, rows are checked when read back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from driftline.labels.store import LabelStore, valid_row


def test_the_first_label_of_an_id_wins_and_duplicates_are_counted(tmp_path: Path) -> None:
    """A second label for an id is not stored; add() says how many were duplicates."""
    store = LabelStore(tmp_path / "l.sqlite")
    assert store.add([(1, "a", None, 10.0), (2, "b", None, 11.0)]) == 0
    assert store.add([(1, "z", None, 12.0), (3, "c", None, 13.0), (3, "y", None, 14.0)]) == 2
    found = store.lookup(np.array([1, 3], np.int64))
    assert (list(found.keys), found.labels) == ([1, 3], ["a", "c"])
    assert len(store) == 3


def test_lookups_of_many_keys_cross_chunks_and_mark_them_matched(tmp_path: Path) -> None:
    """More keys than one IN (...) holds are all found; unknown ones are simply absent; the
    found ones are no longer orphans."""
    store = LabelStore(tmp_path / "l.sqlite")
    store.add([(k, str(k), float(k), 1e9) for k in range(1, 2001)])
    found = store.lookup(np.arange(1500, 2600, dtype=np.int64))
    assert list(found.keys) == list(range(1500, 2001))
    assert found.values[0] == 1500.0
    assert store.unmatched() == 1499


def test_a_corrupt_row_is_counted_and_skipped_never_raised(tmp_path: Path) -> None:
    """Rows edited behind driftline's back (wrong types, blobs, an empty label, an infinite
    time) are skipped; SQLite itself stores NaN as null."""
    path = tmp_path / "l.sqlite"
    store = LabelStore(path)
    store.add([(1, "a", None, 10.0)])
    raw = sqlite3.connect(path)
    raw.executemany("INSERT INTO labels (key, label, value, ts) VALUES (?, ?, ?, ?)", [
        (2, "b", None, "yesterday"), (3, "", None, 1.0), (4, "c", b"\x00", 1.0),
        (5, b"\xff", None, 1.0), (6, "d", "x", 1.0), (7, "e", None, float("inf"))])
    raw.commit()
    raw.close()
    found = store.lookup(np.arange(1, 8, dtype=np.int64))
    assert list(found.keys) == [1]
    assert store.corrupt == 6


def test_valid_row_is_exactly_the_written_shape() -> None:
    """Only (non-zero int, non-empty text, finite float or None, finite float) passes."""
    assert valid_row((1, "a", None, 1.0)) and valid_row((1, "a", 2.0, 1.0))
    for bad in [(0, "a", None, 1.0), (1, "a", None, 1), (True, "a", None, 1.0), (1, "a", 1, 1.0),
                (1, "x" * 5000, None, 1.0), (1, "a", None)]:
        assert not valid_row(bad)


def test_a_temporary_store_is_removed_when_closed() -> None:
    """Without a path the store is a temporary file, gone after close()."""
    store = LabelStore()
    path = store.path
    assert path.exists()
    store.close()
    assert not path.exists()
