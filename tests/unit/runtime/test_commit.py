"""The one transaction when it fails beyond repair, against fake clients (no broker)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, TopicPartition
from kafka_fakes import FakeSink, committing

from driftline.errors import SinkError
from driftline.io.kafka_sink import TransactionError


def test_a_producer_that_cannot_be_replaced_stops_all_commits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """recreate() failing inside sink.commit: the error propagates, and the revoke that
    closing the consumer runs must not commit the same output again."""
    sink = FakeSink(SinkError("init_transactions failed: fenced"))
    s, _part, _ = committing(monkeypatch, sink)
    with pytest.raises(SinkError):
        s.commit()
    assert s.commit() is False
    s._on_revoke(None, [TopicPartition(s.topic, 0)])  # type: ignore[arg-type]
    assert sink.commits == 1 and s.stats.failed_commits == 1 and s.parked == {}


def test_giving_up_after_fencing_rewinds_first_and_stops_committing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fenced once too often: the failed transaction's state is rewound before the error
    is raised, and nothing is committed afterwards."""
    fenced = [TransactionError("fatal", KafkaError(KafkaError._FENCED)) for _ in range(4)]
    sink = FakeSink(*fenced)
    s, part, source = committing(monkeypatch, sink)
    s.fenced = [0.0, 0.0, 0.0]  # three recent fencings already
    with pytest.raises(SinkError, match="fenced 4 times"):
        s.commit()
    assert source.seeks == [(0, 100)] and not part.dirty and part.next_offset == 100
    s._on_revoke(None, [TopicPartition(s.topic, 0)])  # type: ignore[arg-type]
    assert sink.commits == 1
