"""The join: a prediction gets its id's label when the label came within the TTL (event time)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson

from driftline.config import LabelFieldNames
from driftline.decode import Batch, Decoder, Schema
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader
from driftline.labels.store import LabelStore

T = 1_770_962_400.0
TTL = 3600.0
SCHEMA = Schema(("x",), (), ("region",), labels=True)


def event(i: int, t: float = T, **extra: object) -> bytes:
    return orjson.dumps({"event_id": f"e{i}", "model_id": "m", "timestamp": t,
                         "features": {"x": 0.0}, "prediction": 0.5, "decision": "a", **extra})


def label(i: int | str, value: object, t: float) -> bytes:
    eid = i if isinstance(i, str) else f"e{i}"
    return orjson.dumps({"event_id": eid, "label": value, "timestamp": t})


def joined(labels: list[bytes], events: list[bytes], tmp_path: Path,
           ) -> tuple[LabelJoin, Decoder, Batch]:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"\n".join(labels) + b"\n")
    join = LabelJoin(LabelStore(tmp_path / "s.sqlite"), TTL)
    join.load(path, LabelReader(LabelFieldNames(), 946_684_800.0, 65536))
    d = Decoder(SCHEMA)
    batch, _ = d.decode(events)
    return join, d, join.join(batch, d)[0]


def texts(d: Decoder, batch: Batch) -> list[str | None]:
    assert batch.label is not None
    return [d.labels.names[c] if c >= 0 else None for c in batch.label]


def test_the_ttl_edge_counts_and_one_second_more_is_late(tmp_path: Path) -> None:
    """delay = TTL exactly: joined; TTL + 1 s: late, the prediction unlabelled; a label
    before its prediction (a clock skew) counts, unless it is more than a TTL before it."""
    join, d, batch = joined([label(0, "a", T + TTL), label(1, "b", T + TTL + 1),
                             label(2, "c", T - 5), label(3, "d", T - TTL - 1)],
                            [event(0), event(1), event(2), event(3)], tmp_path)
    assert texts(d, batch) == ["a", None, "c", None]
    assert (join.counts["joined"], join.counts["late"], join.counts["unlabelled"]) == (2, 2, 2)


def test_the_ttl_is_per_prediction_of_one_id(tmp_path: Path) -> None:
    """Two predictions with one id both get its label, each judged by its own timestamp."""
    _, d, batch = joined([label(0, "a", T + TTL)], [event(0, T), event(0, T - 10)], tmp_path)
    assert texts(d, batch) == ["a", None]


def test_labels_of_unknown_ids_are_orphans_and_duplicates_keep_the_first(tmp_path: Path,
                                                                        ) -> None:
    """An id no prediction has is an orphan at the end; a second label of an id is a
    duplicate, and the earliest (on equal times, the least text: here the first) is joined."""
    join, d, batch = joined([label(0, "first", T), label(0, "second", T), label("nobody", "x", T)],
                            [event(0)], tmp_path)
    assert texts(d, batch) == ["first"]
    join.finish(_NoMetrics())
    assert (join.counts["orphan"], join.counts["duplicate"]) == (1, 1)


def test_an_inline_label_wins_over_the_files(tmp_path: Path) -> None:
    """The event's own label is its label; the file's for the same id is not an orphan."""
    join, d, batch = joined([label(0, "file", T)], [event(0, label="inline")], tmp_path)
    assert texts(d, batch) == ["inline"]
    join.finish(_NoMetrics())
    assert (join.counts["inline"], join.counts["joined"], join.counts["orphan"]) == (1, 0, 0)


def test_numeric_labels_join_with_their_values(tmp_path: Path) -> None:
    """A number label arrives as its value (regression) and its text."""
    _, _, batch = joined([label(0, 2.5, T), label(1, "x", T)], [event(0), event(1)], tmp_path)
    assert batch.label_value is not None
    assert batch.label_value[0] == 2.5 and math.isnan(batch.label_value[1])


def test_nothing_joined_is_said_loudly(tmp_path: Path) -> None:
    """Labels given, none joined (ids under another name): a warning names what to check."""
    join, _, _ = joined([orjson.dumps({"id": "e0", "label": "a", "timestamp": T})], [event(0)],
                        tmp_path)
    assert join.counts["invalid"] == 1
    warnings = join.finish(_NoMetrics())
    assert warnings and "none joined" in warnings[0] and "labels.fields" in warnings[0]


def test_delay_quantiles_bound_the_true_ones(tmp_path: Path) -> None:
    """The reported quantile is the upper edge of the bin holding the true one."""
    delays = np.linspace(10, 1000, 200)
    join, _, _ = joined([label(i, "a", T + float(x)) for i, x in enumerate(delays)],
                        [event(i) for i in range(200)], tmp_path)
    q = join.delay_quantiles()
    for name, p in (("p50", 0.5), ("p90", 0.9)):
        got = q[name]
        assert got is not None
        true = float(np.quantile(delays, p))
        assert true <= got <= true * 10 ** 0.25 * 1.01


def test_a_batch_without_label_columns_passes_untouched(tmp_path: Path) -> None:
    """The layer off: the join returns the batch as it is."""
    join = LabelJoin(LabelStore(tmp_path / "s.sqlite"), TTL)
    batch, _ = Decoder(Schema(("x",), (), ())).decode([event(0)])
    assert join.join(batch, Decoder(SCHEMA))[0] is batch


class _NoMetrics:
    def count_labels(self, counts: object, join: object) -> None:
        pass



def test_a_giant_line_in_the_labels_file_is_oversize_and_the_rest_still_joins(tmp_path: Path,
                                                                               ) -> None:
    """A 5 MB label line is cut while read (bounded memory), counted, and skipped."""
    giant = b'{"event_id": "e0", "label": "' + b"x" * 5_000_000 + b'", "timestamp": 1}'
    join, d, batch = joined([giant, label(1, "a", T)], [event(0), event(1)], tmp_path)
    assert join.invalid == {"oversize": 1}
    assert texts(d, batch) == [None, "a"]
