"""The labels layer's columns: event ids as keys, labels as codes and values, kept by every
batch operation (slices, concatenation, warm-up snapshots)."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from driftline.decode import Batch, Decoder, Schema
from driftline.decode.keys import id_key, id_keys
from driftline.errors import StateError
from driftline.state import BatchState, validated

SCHEMA = Schema(("x",), (), ("region",), labels=True)


def line(i: int, **extra: object) -> bytes:
    return orjson.dumps({"model_id": "m", "timestamp": 1_770_962_400 + i, "features": {"x": i},
                         "prediction": 0.5, "segments": {"region": "n"}, **extra})


def test_an_id_key_is_stable_and_never_zero() -> None:
    """The same text gives the same key in any process (BLAKE2b, not hash()); 0 is 'none'."""
    assert id_key("e1") == id_key("e1") != id_key("e2")
    assert id_key("e1") == 292540415853092123  # pinned: a store written by another process must match
    assert list(id_keys(["a", None, "\ud800x"])[1:2]) == [0]


def test_labels_off_the_batch_carries_no_label_columns() -> None:
    """With the labels layer off nothing is read or kept for it (it costs nothing)."""
    batch, _ = Decoder(Schema(("x",), (), ("region",))).decode([line(0, label="a")])
    assert not batch.labelled and batch.label is None


def test_inline_labels_become_codes_values_and_keys() -> None:
    """A text label is a code of the label vocabulary; a number is also a value."""
    d = Decoder(SCHEMA)
    batch, dead = d.decode([line(0, event_id="e0", label="spam"), line(1, event_id=7, label=2.5),
                            line(2, label=True), line(3)])
    assert dead == []
    assert batch.event_key is not None and batch.label is not None
    assert batch.label_value is not None
    assert list(batch.event_key) == [id_key("e0"), id_key("7"), 0, 0]
    assert [d.labels.names[c] if c >= 0 else None for c in batch.label] == \
        ["spam", "2.5", "true", None]
    assert np.isnan(batch.label_value[[0, 2, 3]]).all() and batch.label_value[1] == 2.5


@pytest.mark.parametrize("label", [{"a": 1}, [1]])
def test_a_label_that_is_not_a_scalar_is_a_wrong_type(label: object) -> None:
    """An object or array label is a dead letter, not a label."""
    _, dead = Decoder(SCHEMA).decode([line(0, label=label)])
    assert [x.reason for x in dead] == ["wrong_type"]


def test_label_columns_survive_take_concat_and_snapshot() -> None:
    """Slicing, concatenating and a warm-up snapshot keep the label columns exactly."""
    d = Decoder(SCHEMA)
    batch, _ = d.decode([line(i, event_id=f"e{i}", label=i % 2 == 0) for i in range(6)])
    both = Batch.concat([batch.take(slice(0, 3)), batch.take(np.arange(3, 6))])
    back = Batch.from_state(validated(BatchState, orjson.loads(orjson.dumps(both.snapshot())),
                                      "batch"))
    for b in (both, back):
        assert b.event_key is not None and b.label is not None
        assert batch.event_key is not None and batch.label is not None
        assert (b.event_key == batch.event_key).all() and (b.label == batch.label).all()


def test_a_snapshot_with_part_of_the_label_columns_is_refused() -> None:
    """The three label columns come together or not at all."""
    batch, _ = Decoder(SCHEMA).decode([line(0, event_id="e")])
    snap = batch.snapshot()
    del snap["label"]
    with pytest.raises(StateError, match="together"):
        validated(BatchState, snap, "batch")
