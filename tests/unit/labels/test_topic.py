"""A labels topic into the store: the late-arrival rule per partition, the labels' watermark
(the least over every partition of a robust per-partition watermark, −∞ while one has none),
a skewed clock that moves nothing, the positions and watermarks stored with the labels in one
transaction and read back after a restart, and which predictions may be judged (``ready``: a
prefix, in offset order)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftline.config import LabelFieldNames
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader
from driftline.labels.store import LabelStore
from driftline.labels.topic import LabelTopic, ready

T0 = 1_770_962_400.0


def line(eid: str, ts: float, label: str = "yes") -> bytes:
    return orjson.dumps({"event_id": eid, "label": label, "timestamp": ts})


def topic(path: Path, lateness: float = 60.0) -> LabelTopic:
    join = LabelJoin(LabelStore(path, durable=True), 3600.0)
    feed = LabelTopic(join, LabelReader(LabelFieldNames(), 0.0, 65536), "labels", lateness)
    feed.partitions = {0, 1}
    return feed


def block(prefix: str, start: float, n: int = 64) -> tuple[list[int], list[bytes]]:
    """``n`` labels a second apart from ``start`` (eight watermark steps when n = 64), at
    offsets 0 … n − 1."""
    return list(range(n)), [line(f"{prefix}{i}", start + i) for i in range(n)]


def test_the_watermark_is_the_least_partition_and_waits_for_silent_ones(tmp_path: Path) -> None:
    """A partition's watermark is the median of its recent label times − lateness, from
    its first 8 labels on; the labels' watermark the least over the partitions."""
    feed = topic(tmp_path / "s.sqlite")
    feed.add(0, *block("a", T0 + 100))
    assert feed.watermark() == -math.inf and feed.silent() == [1]
    feed.add(1, *block("c", T0 + 150, 7))
    assert feed.silent() == [1]  # 7 labels: no step yet
    feed.add(1, [7], [line("c7", T0 + 157)])
    # medians: T0 + 131 (partition 0: 100…163), T0 + 153 (partition 1: 150…157)
    assert feed.watermark() == T0 + 131 - 60.0 and feed.silent() == []
    feed.add(1, [8, 9, 10, 11, 12, 13, 14, 15], [line(f"d{i}", T0 + 100) for i in range(8)])
    assert feed.watermark() == T0 + 131 - 60.0  # partition 1's median drops: its mark stays
    assert len(feed.join.store) == 80


def test_a_label_below_its_partitions_watermark_is_late_and_not_stored(tmp_path: Path) -> None:
    """Late by its own partition's clock only: a label that another partition is ahead of
    is not late."""
    feed = topic(tmp_path / "s.sqlite")
    feed.add(0, *block("a", T0 + 1000))  # watermark T0 + 1031 − 60 = T0 + 971
    feed.add(0, [64, 65], [line("b", T0 + 970), line("c", T0 + 971)])
    feed.add(1, [0], [line("d", T0 + 10)])
    assert feed.counts["late_arrival"] == 1 and feed.counts["stored"] == 66
    assert len(feed.join.store) == 66


def test_one_skewed_clock_neither_makes_labels_late_nor_releases_predictions(
        tmp_path: Path) -> None:
    """A label stamped a year ahead among on-time ones: with the latest label time as the
    watermark, every label after it would be late and every held prediction released before
    its label came. Here it is a bad timestamp (``ahead``, not stored) and moves nothing;
    so does one an hour ahead, which is within max_ahead and stored."""
    feed = topic(tmp_path / "s.sqlite")
    feed.partitions = {0}
    offsets, lines = block("a", T0, 128)
    lines[40] = line("year", T0 + 365 * 86_400)
    lines[41] = line("hour", T0 + 3600)
    feed.add(0, offsets, lines)
    assert feed.counts["ahead"] == 1 and feed.counts["late_arrival"] == 0
    assert feed.counts["stored"] == 127
    assert T0 + 60 - 60.0 < feed.watermark() < T0 + 100 - 60.0  # the bulk's median, not 2027
    feed.add(0, [128], [line("next", T0 + 128)])
    assert feed.counts["late_arrival"] == 0 and feed.counts["stored"] == 128


def test_positions_and_watermarks_come_back_with_the_labels_after_a_restart(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    feed = topic(path)
    offsets, lines = block("a", T0)
    feed.add(0, [o + 5 for o in offsets], lines)
    mark = feed.clocks[0].mark
    feed.join.store.db.close()  # the process dies: nothing but what was committed remains
    again = topic(path)
    assert again.start_offset(0) == 69 and again.start_offset(1) == 0
    assert again.clocks[0].snapshot() == feed.clocks[0].snapshot() and again.clocks[0].mark == mark
    assert len(again.join.store) == 64


@pytest.mark.parametrize("edit", ["next_offset = 'x'", "clock = '{\"recent\": 5}'",
                                  "clock = 'not json'"])
def test_a_corrupt_position_is_read_again_from_the_beginning(tmp_path: Path, edit: str) -> None:
    """An offset that is not one, a watermark state that does not validate, a clock that is
    not JSON: the partition is read again from its beginning, counted corrupt."""
    path = tmp_path / "s.sqlite"
    feed = topic(path)
    feed.add(0, [5], [line("a", T0)])
    feed.join.store.db.close()  # the store is locked while a process holds it
    db = sqlite3.connect(path)
    db.execute(f"UPDATE positions SET {edit}")
    db.commit()
    db.close()
    again = topic(path)
    assert again.start_offset(0) == 0 and again.join.store.corrupt == 1
    assert 0 not in again.clocks


def test_ready_is_the_prefix_whose_labels_are_final() -> None:
    ttl = 100.0
    times = np.array([T0, T0 + 5, np.nan, T0 + 50, T0 + 1])
    assert ready(times, T0 + 120, ttl) == 3  # T0 + 50 + 100 is not below the watermark
    assert ready(times, T0 + 151, ttl) == 5
    assert ready(times, -math.inf, ttl) == 0
    assert ready(np.array([np.nan, np.nan]), -math.inf, ttl) == 2  # unreadable: no label


def test_a_partition_added_later_is_bound_by_what_was_released(tmp_path: Path) -> None:
    """Predictions were released on the watermark T0 + 500: a partition the topic gained
    since then cannot bring a label below it (it could be for a prediction already judged);
    the floor survives a restart."""
    path = tmp_path / "s.sqlite"
    feed = topic(path)
    feed.add(0, *block("a", T0 + 600))
    feed.add(1, *block("b", T0 + 529))  # its median T0 + 560: the least, watermark T0 + 500
    feed.released(feed.watermark())
    assert feed.floor == T0 + 500
    feed.partitions.add(2)
    feed.add(2, [0, 1], [line("c", T0 + 499), line("d", T0 + 501)])
    assert feed.counts["late_arrival"] == 1 and len(feed.join.store) == 129
    feed.join.store.db.close()
    assert topic(path).floor == T0 + 500


def test_the_earliest_label_of_an_id_wins_in_any_order(tmp_path: Path) -> None:
    """Two labels of one id on two partitions, interleaved either way (and a tie broken by
    the text): the store keeps the same one."""
    kept = []
    late = (0, [0], [line("x", T0 + 20, "late")])
    early = (1, [0], [line("x", T0 + 10, "early")])
    for name, order in (("le", (late, early)), ("el", (early, late))):
        feed = topic(tmp_path / f"{name}.sqlite")
        for p, offs, lines in order:
            feed.add(p, offs, lines)
        key = feed.reader.rows([line("x", 0)], [0])[0][0]
        kept.append(feed.join.store.lookup(np.array([key])).labels)
        assert feed.join.counts["duplicate"] == 1
    assert kept == [["early"], ["early"]]
    store = LabelStore(tmp_path / "tie.sqlite")
    reader = LabelReader(LabelFieldNames(), 0.0, 65536)
    store.add(reader.rows([line("y", T0, "b")], [1]))
    store.add(reader.rows([line("y", T0, "a")], [2]))
    assert store.lookup(np.array([reader.rows([line("y", 0)], [0])[0][0]])).labels == ["a"]


def test_the_lateness_default_is_the_ttl_at_most_an_hour() -> None:
    from driftline.config import LabelsConfig

    assert LabelsConfig(ttl="10m").lateness_seconds == 600.0
    assert LabelsConfig().lateness_seconds == 3600.0
    assert LabelsConfig(lateness="2h").lateness_seconds == 7200.0
