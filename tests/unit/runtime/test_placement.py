"""Placement: the two pieces of evidence that the input is not partitioned by model id."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from driftline.io.kafka_source import PartitionBatch
from driftline.metrics import Metrics
from driftline.runtime.placement import Placement


class Msg:
    def __init__(self, key: bytes | None) -> None:
        self._key = key

    def key(self) -> bytes | None:
        return self._key


class Log:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def error(self, event: str, **fields: Any) -> None:
        self.errors.append({"event": event, **fields})


def batch(partition: int, keys: list[bytes | None], first: int = 0) -> PartitionBatch:
    return PartitionBatch(partition, [b"{}"] * len(keys),
                          np.arange(first, first + len(keys)), [Msg(k) for k in keys])


def gauge(m: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return m.registry.get_sample_value(f"driftline_{name}", labels)


@pytest.fixture
def placed() -> tuple[Placement, Metrics, Log]:
    m, log = Metrics(), Log()
    return Placement(m, log), m, log


def test_a_topic_keyed_by_model_raises_nothing(placed: tuple[Placement, Metrics, Log]) -> None:
    p, m, log = placed
    for part, models in ((0, ["a", "b"]), (1, ["c"]), (0, ["a", "b"])):
        keys: list[bytes | None] = [m_.encode() for m_ in models for _ in range(50)]
        p.observe(batch(part, keys), set(models), set(), topic_partitions=4)
    assert log.errors == []
    assert gauge(m, "input_split", {"reason": "keys"}) == 0
    assert gauge(m, "input_split", {"reason": "several_partitions"}) == 0
    assert gauge(m, "model_partitions", {"model": "a"}) == 1
    assert p.summary() == {"split_models": {}, "evidence": {}}


def test_a_model_in_two_partitions_is_said_once(placed: tuple[Placement, Metrics, Log]) -> None:
    p, m, log = placed
    for part in (0, 1, 1, 2):
        p.observe(batch(part, [b"a"] * 10), {"a"}, set(), topic_partitions=4)
    assert gauge(m, "model_partitions", {"model": "a"}) == 3
    assert gauge(m, "input_split", {"reason": "several_partitions"}) == 1
    assert [e["reason"] for e in log.errors] == ["several_partitions"]
    assert p.summary()["split_models"] == {"a": [0, 1, 2]}


def test_keys_per_event_on_a_single_held_partition_are_found(
        placed: tuple[Placement, Metrics, Log]) -> None:
    """An instance holding one partition of four cannot see the model elsewhere: the keys
    (one per event, e.g. a request id) say it."""
    p, m, log = placed
    p.observe(batch(3, [f"req-{i}".encode() for i in range(1000)]), {"a"}, set(), 4)
    assert gauge(m, "input_split", {"reason": "keys"}) == 1
    assert "8 distinct keys among 8 messages of 1 model(s)" in p.summary()["evidence"]["keys"]
    p.observe(batch(3, [f"req-{i}".encode() for i in range(1000)], 1000), {"a"}, set(), 4)
    assert len(log.errors) == 1  # said once, not per batch


def test_null_keys_are_round_robin(placed: tuple[Placement, Metrics, Log]) -> None:
    p, m, _ = placed
    p.observe(batch(0, [None] * 5), {"a"}, set(), topic_partitions=2)
    assert gauge(m, "input_split", {"reason": "keys"}) == 1


def test_keys_do_not_matter_on_one_partition(placed: tuple[Placement, Metrics, Log]) -> None:
    p, m, log = placed
    p.observe(batch(0, [f"req-{i}".encode() for i in range(100)]), {"a"}, set(), 1)
    assert log.errors == [] and gauge(m, "input_split", {"reason": "keys"}) == 0


def test_dead_letters_keys_are_not_evidence(placed: tuple[Placement, Metrics, Log]) -> None:
    """A malformed message names no model: its key, whatever it is, proves nothing."""
    p, _, log = placed
    keys: list[bytes | None] = [b"a"] * 8
    keys[0], keys[7] = b"garbage-1", None
    p.observe(batch(0, keys, first=100), {"a"}, {100, 107}, topic_partitions=4)
    assert log.errors == []


def test_nothing_decoded_yet_is_no_evidence(placed: tuple[Placement, Metrics, Log]) -> None:
    p, _, log = placed
    p.observe(batch(0, [f"r{i}".encode() for i in range(50)]), set(), set(), 4)
    assert log.errors == [] and p.partitions == {}
