"""The labels' SQLite store: first label of an id wins, rows are checked when read back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from driftline.labels.store import LabelStore, valid_row


def test_the_first_label_of_an_id_wins_and_duplicates_are_counted(tmp_path: Path) -> None:
    """A second label for an id is not stored; add() says how many were duplicates."""
    store = LabelStore(tmp_path / "l.sqlite")
    assert store.add([(1, "a", None, 10.0, -1, 1), (2, "b", None, 11.0, -1, 2)]) == 0
    assert store.add([(1, "z", None, 12.0, -1, 3), (3, "c", None, 13.0, -1, 4),
                      (3, "y", None, 14.0, -1, 5)]) == 2
    found = store.lookup(np.array([1, 3], np.int64))
    assert (list(found.keys), found.labels) == ([1, 3], ["a", "c"])
    assert len(store) == 3


def test_lookups_of_many_keys_cross_chunks_and_mark_them_matched(tmp_path: Path) -> None:
    """More keys than one IN (...) holds are all found; unknown ones are simply absent; the
    found ones are no longer orphans."""
    store = LabelStore(tmp_path / "l.sqlite")
    store.add([(k, str(k), float(k), 1e9, 0, k) for k in range(1, 2001)])
    found = store.lookup(np.arange(1500, 2600, dtype=np.int64))
    assert list(found.keys) == list(range(1500, 2001))
    assert found.values[0] == 1500.0
    assert list(found.partitions[:2]) == [0, 0] and list(found.positions[:2]) == [1500, 1501]
    assert store.unmatched() == 1499


def test_a_corrupt_row_is_counted_and_skipped_never_raised(tmp_path: Path) -> None:
    """Rows edited behind driftline's back (wrong types, blobs, an empty label, an infinite
    time) are skipped; SQLite itself stores NaN as null."""
    path = tmp_path / "l.sqlite"
    store = LabelStore(path)
    store.add([(1, "a", None, 10.0, -1, 1)])
    raw = sqlite3.connect(path)
    raw.executemany("INSERT INTO labels (key, label, value, ts, part, pos) "
                    "VALUES (?, ?, ?, ?, ?, ?)", [
        (2, "b", None, "yesterday", -1, 1), (3, "", None, 1.0, -1, 1), (4, "c", b"\x00", 1.0, -1, 1),
        (5, b"\xff", None, 1.0, -1, 1), (6, "d", "x", 1.0, -1, 1), (7, "e", None, float("inf"), -1, 1),
        (8, "f", None, 1.0, -2, 1), (9, "g", None, 1.0, 0, -1), (10, "h", None, 1.0, "p0", 1)])
    raw.commit()
    raw.close()
    found = store.lookup(np.arange(1, 11, dtype=np.int64))
    assert list(found.keys) == [1]
    assert store.corrupt == 9


def test_valid_row_is_exactly_the_written_shape() -> None:
    """Only (non-zero int, non-empty text, finite float or None, finite float, partition >=
    -1, position >= 0) passes."""
    assert valid_row((1, "a", None, 1.0, -1, 1)) and valid_row((1, "a", 2.0, 1.0, 3, 0))
    for bad in [(0, "a", None, 1.0, -1, 1), (1, "a", None, 1, -1, 1), (True, "a", None, 1.0, -1, 1),
                (1, "a", 1, 1.0, -1, 1), (1, "x" * 5000, None, 1.0, -1, 1), (1, "a", None),
                (1, "a", None, 1.0), (1, "a", None, 1.0, -2, 1), (1, "a", None, 1.0, 0, -1),
                (1, "a", None, 1.0, 0, True)]:
        assert not valid_row(bad)


def test_a_temporary_store_is_removed_when_closed() -> None:
    """Without a path the store is a temporary file, gone after close()."""
    store = LabelStore()
    path = store.path
    assert path.exists()
    store.close()
    assert not path.exists()


def test_equal_labels_of_one_id_cite_the_least_position_whatever_their_order(
        tmp_path: Path) -> None:
    """The same label twice (a producer's retry, on two partitions): the one cited is the
    least (partition, offset), so the interleaving of the partitions cannot change it."""
    cited = []
    for order in ([(1, "a", None, 5.0, 2, 9), (1, "a", None, 5.0, 0, 30)],
                  [(1, "a", None, 5.0, 0, 30), (1, "a", None, 5.0, 2, 9)]):
        store = LabelStore(tmp_path / f"{len(cited)}.sqlite")
        for row in order:
            store.add([row])
        found = store.lookup(np.array([1], np.int64))
        cited.append((int(found.partitions[0]), int(found.positions[0])))
        store.close()
    assert cited == [(0, 30), (0, 30)]


def test_a_store_of_the_old_layout_is_emptied_and_says_so(tmp_path: Path) -> None:
    """A store written before labels had positions (no part, pos columns) is not read as if
    it had them: it is emptied, ``rebuilt`` says so (a durable one is then read again from
    its topic's beginning: its positions are gone too)."""
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript(
        "CREATE TABLE labels (key INTEGER PRIMARY KEY, label TEXT NOT NULL, value REAL, "
        "ts REAL NOT NULL, matched INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE positions (topic TEXT NOT NULL, partition INTEGER NOT NULL, "
        "next_offset INTEGER NOT NULL, max_ts REAL, PRIMARY KEY (topic, partition));"
        "INSERT INTO labels VALUES (1, 'a', NULL, 1.0, 0);"
        "INSERT INTO positions VALUES ('labels', 0, 500, 1.0);")
    raw.close()
    store = LabelStore(path, durable=True)
    assert store.rebuilt and len(store) == 0 and store.positions("labels") == {}
    store.add_at([(1, "a", None, 1.0, 0, 0)], "labels", {0: (1, "{}")})
    store.close()
    again = LabelStore(path, durable=True)
    assert not again.rebuilt and len(again) == 1 and again.positions("labels") == {0: (1, "{}")}
    again.close()
