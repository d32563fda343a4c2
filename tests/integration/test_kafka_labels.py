"""`driftline run` with inline labels against the real broker: the performance layer through a
kill -9 publishes exactly a replay's incidents (the task, positive class and label vocabulary
are in the changelog's checkpoint like every other piece of state)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
import yaml
from kafka_runs import Background, Runs, TopicFactory, assert_run_equals_replay, produce, read_all

# the labelled streams of the unit tests (tests/unit/labelled.py; the tests are no package)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from labelled import classification

pytestmark = pytest.mark.integration


def test_inline_labels_through_kill_9_equal_a_replay(
        kafka_bootstrap: str, kafka_topic_factory: TopicFactory, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    config = tmp_path / "labels.yaml"
    config.write_text(yaml.safe_dump({
        "labels": {"enabled": True}, "window": {"size": "1m"},
        "reference": {"warmup_windows": 2}, "detection": {"min_samples": 100},
        "kafka": {"commit_interval": "1s", "settings": {
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "transaction.timeout.ms": 30000, "group.instance.id": "labels-crash"}}}))
    r = Runs(kafka_bootstrap, config, kafka_topic_factory(partitions=1, prefix="labels"),
             tmp_path)
    request.addfinalizer(r.cleanup)
    # the south's decisions turn wrong from window 6: only the labels can show it
    stream = classification(14, 1500, seed=3, drift_from=6, inline=True)
    producer = Background(lambda: produce(r.bootstrap, r.topic,
                                          [(0, b"m", v) for v in stream.events], rate=4000))
    producer.start()
    proc = r.start("crash")
    r.wait_for("crash", "partitions assigned")
    time.sleep(4.0)  # past the warm-up (2 windows, 3,000 events): checkpoints are being written
    assert proc.poll() is None, r.log("crash")[-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    producer.join_ok(60)
    summary = r.wait_ok(r.start("final", "--until-idle", "3"), "final")

    inputs = read_all(r.bootstrap, r.topic)
    assert len(inputs) == len(stream.events)
    published = assert_run_equals_replay(r, inputs, summary)
    opened = {(e["data"]["monitor"], e["data"]["segment"].get("region"))
              for e in published if e["type"].endswith(".opened")}
    assert ("error-rate-by-region", "south") in opened, opened
    assert summary["kafka"]["partitions_restored"] == 1
