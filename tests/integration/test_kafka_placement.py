"""`driftline run` says when the input is not partitioned by model id, against the real broker.

One engine per input partition is right only when a model's events meet in one partition. A
topic keyed by request id spreads a model over every partition, and the statistics cannot show
it: the run must say it (the exit summary, an error log line, ``driftline_input_split``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kafka_runs import Runs, demo_stream, produce

pytestmark = pytest.mark.integration


def test_a_topic_keyed_by_request_id_is_said(runs: Callable[..., Runs]) -> None:
    r = runs(partitions=4)
    stream = [(i % 4, f"req-{i}".encode(), value)
              for i, (_, _, value) in enumerate(demo_stream()[:12_000])]
    produce(r.bootstrap, r.topic, stream)
    summary = r.wait_ok(r.start("keyed-by-request", "--until-idle", "3"), "keyed-by-request")

    placement = summary["kafka"]["placement"]
    assert placement["split_models"] == {"routing": [0, 1, 2, 3]}
    assert set(placement["evidence"]) == {"several_partitions", "keys"}
    said = r.events("keyed-by-request", "input not partitioned by model: each partition's "
                    "events are judged alone, so a drift is reported once per partition and "
                    "smaller samples raise false alarms; key the input topic by model id "
                    "(docs/kafka.md)")
    assert {e["reason"] for e in said} == {"several_partitions", "keys"}
    assert len(said) == 2, said  # once per finding, not once per batch


def test_a_topic_keyed_by_model_id_is_not_flagged(runs: Callable[..., Runs]) -> None:
    models = [f"routing-{k}" for k in range(4)]
    r = runs(partitions=4, models=models)
    produce(r.bootstrap, r.topic, demo_stream(models=4)[:12_000])
    summary = r.wait_ok(r.start("keyed-by-model", "--until-idle", "3"), "keyed-by-model")
    assert summary["kafka"]["placement"] == {"split_models": {}, "evidence": {}}
    assert summary["events"]["valid"] == 12_000
