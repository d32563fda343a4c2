"""`driftline run` against the real broker: exactly-once incidents through crashes, rebalances,
broker restarts and poison input.

The invariant every test checks: for the same events and config, `run` publishes the same
incidents (same CloudEvent ids, same statistics, same source offsets) as a replay — one Engine
per input partition over that partition's messages, in offset order, then ``finish()`` (what
`run --until-idle` does once the input is drained). The input is read back from Kafka, so the
replay sees exactly the bytes and offsets `run` saw.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest
from confluent_kafka import Producer
from kafka_runs import (
    Background,
    Msg,
    Runs,
    TopicFactory,
    assert_run_equals_replay,
    assert_same_incidents,
    demo_stream,
    incidents_of,
    produce,
    read_all,
    replay,
    write_config,
)

from driftline.config import load_config
from driftline.io.kafka_sink import produce_all
from driftline.metrics import Metrics
from driftline.runtime import Runtime

if TYPE_CHECKING:
    from kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration


def window_offsets(messages: list[Msg], start: str, end: str) -> tuple[int, int]:
    """First and last offset of the input events whose timestamp lies in [start, end)."""
    lo, hi = (datetime.fromisoformat(x.replace("Z", "+00:00")).timestamp() for x in (start, end))
    offsets = [m.offset for m in messages
               if lo <= orjson.loads(m.value or b"{}")["timestamp"] < hi]
    return min(offsets), max(offsets)




# -- the tests ------------------------------------------------------------------------------------
def test_round_trip_equals_replay(runs: Callable[..., Runs]) -> None:
    """produce-demo, then `run --until-idle`: exactly the replay's incidents, right offsets."""
    r = runs()
    subprocess.run([sys.executable, "-m", "driftline.cli", "produce-demo", "--bootstrap",
                    r.bootstrap, "--topic", r.topic, "--windows", "20", "--seed", "5"],
                   check=True, timeout=120, capture_output=True)
    proc = r.start("run", "--until-idle", "3")
    summary = r.wait_ok(proc, "run")

    inputs = read_all(r.bootstrap, r.topic)
    published = assert_run_equals_replay(r, inputs, summary)
    assert summary["events"]["valid"] == len(inputs)
    for ev in published:
        window = ev["data"]["window"]
        (pos,) = ev["data"]["source_positions"]
        assert (pos["source"], pos["topic"], pos["partition"]) == ("kafka", r.topic, 0)
        assert (pos["first_offset"], pos["last_offset"]) == window_offsets(
            inputs, window["start"], window["end"])
    assert read_all(r.bootstrap, r.topics["dead"]) == []


def test_kill_9_mid_stream_loses_and_duplicates_nothing(runs: Callable[..., Runs]) -> None:
    """Killed with SIGKILL at random points ≥3 times, restarted each time, run still equals replay."""
    r = runs(partitions=2, models=["routing-0", "routing-1"],
             **{"group.instance.id": "crash-test"})  # static member: a restart takes over at once
    stream = demo_stream(models=2)
    producer = Background(lambda: produce(r.bootstrap, r.topic, stream, rate=7000))
    producer.start()
    rng = random.Random(20260213)
    kills = 0
    while producer.is_alive() or kills < 3:
        name = f"crash-{kills}"
        proc = r.start(name)
        r.wait_for(name, "partitions assigned")
        # the first run lives past the warm-up (not checkpointed), later ones die anywhere
        time.sleep(rng.uniform(2.5, 4.0) if kills == 0 else rng.uniform(0.3, 3.0))
        assert proc.poll() is None, r.log(name)[-3000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        assert kills <= 12, "the stream outlived 12 restarts"
    producer.join_ok(60)
    summary = r.wait_ok(r.start("final", "--until-idle", "3"), "final")

    inputs = read_all(r.bootstrap, r.topic)
    assert len(inputs) == len(stream)
    assert_run_equals_replay(r, inputs, summary)
    assert summary["kafka"]["partitions_restored"] == 2
    # the restarts really resumed from checkpoints (not from an empty state each time): every
    # killed run but the first, and the final one, restored partitions from the changelog
    names = [f"crash-{i}" for i in range(1, kills)] + ["final"]
    restoring = [n for n in names
                 if any(e.get("restored") for e in r.events(n, "partitions assigned"))]
    assert len(restoring) >= 3, f"only {restoring} of {names} restored state"


def test_rebalance_hands_state_over(runs: Callable[..., Runs]) -> None:
    """Two instances share 4 partitions; after one gets SIGTERM the other continues its state."""
    models = [f"routing-{k}" for k in range(4)]
    r = runs(partitions=4, models=models)
    stream = demo_stream(models=4)
    producer = Background(lambda: produce(r.bootstrap, r.topic, stream, rate=5000))
    producer.start()
    a = r.start("a", "--instance-id", "a", "--until-idle", "30")
    b = r.start("b", "--instance-id", "b", "--until-idle", "5")
    r.wait_for("a", "partitions assigned")
    r.wait_for("b", "partitions assigned")
    time.sleep(3.0)
    assert producer.is_alive(), "the stream should still be flowing when a stops"
    a.send_signal(signal.SIGTERM)
    summary_a = r.wait_ok(a, "a", timeout=40)
    producer.join_ok(60)
    summary_b = r.wait_ok(b, "b")

    assert summary_a["events"]["read"] > 0, "a processed nothing before it stopped"
    assert "SIGTERM" in r.log("a")
    assert summary_b["kafka"]["partitions_restored"] >= 1
    assert sorted(summary_b["partitions"]) == ["0", "1", "2", "3"]
    inputs = read_all(r.bootstrap, r.topic)
    assert len(inputs) == len(stream)
    assert_run_equals_replay(r, inputs, summary_b)


def test_broker_outage_is_survived(runs: Callable[..., Runs], kafka_broker: KafkaBroker) -> None:
    """The broker stops for 30 s mid-stream and comes back: run carries on, nothing lost or doubled."""
    r = runs()
    stream = demo_stream()
    producer = Background(lambda: produce(r.bootstrap, r.topic, stream, rate=8000))
    producer.start()
    proc = r.start("run", "--until-idle", "6")
    r.wait_for("run", "partitions assigned")
    time.sleep(3.0)
    assert producer.is_alive()
    kafka_broker.stop()
    try:
        time.sleep(30.0)
        assert proc.poll() is None, "run must survive the outage\n" + r.log("run")[-3000:]
    finally:
        assert kafka_broker.start() == r.bootstrap
    producer.join_ok(120)
    summary = r.wait_ok(proc, "run", timeout=180)
    # the run did go through the outage: its clients reported the brokers gone, or a
    # transaction failed
    seen = r.events("run", "kafka client error")
    assert seen or summary["kafka"]["failed_commits"] >= 1, r.log("run")[-3000:]

    inputs = read_all(r.bootstrap, r.topic)
    assert len(inputs) == len(stream)
    assert_run_equals_replay(r, inputs, summary)


POISON = {
    "malformed_json": lambda e, raw: raw[:40],
    "missing_field": lambda e, raw: orjson.dumps({k: v for k, v in e.items()
                                                  if k != "prediction"}),
    "wrong_type": lambda e, raw: orjson.dumps(dict(e, prediction="high")),
    "wrong_type ": lambda e, raw: orjson.dumps(dict(e, features=dict(e["features"],
                                                                     distance_km="far"))),
    "non_finite": lambda e, raw: orjson.dumps(dict(e, prediction=0.123456789)).replace(
        b"0.123456789", b"NaN"),
    "oversize": lambda e, raw: orjson.dumps(dict(e, pad="x" * 70_000)),
    "unknown_model": lambda e, raw: orjson.dumps(dict(e, model_id="not-a-model")),
    "not_an_object": lambda e, raw: b"[1, 2, 3]",
    "bad_timestamp": lambda e, raw: orjson.dumps(dict(e, timestamp="yesterday")),
}


def test_poison_messages_go_to_the_dead_letter_topic(runs: Callable[..., Runs]) -> None:
    """10% bad input of every kind: good events all counted, bad ones dead-lettered, no crash."""
    r = runs()
    rng = random.Random(7)
    good = demo_stream()
    messages: list[tuple[int, bytes | None, bytes]] = []
    expected_reasons: list[str] = []
    kinds = sorted(POISON)
    for i, (part, key, value) in enumerate(good):
        messages.append((part, key, value))
        # the first 2,000 events are clean: the zero-config schema is inferred from them
        if i >= 2000 and rng.random() < 0.11:
            kind = kinds[len(expected_reasons) % len(kinds)]
            messages.append((part, key, POISON[kind](orjson.loads(value), value)))
            expected_reasons.append(kind.strip())
    produce(r.bootstrap, r.topic, messages)
    summary = r.wait_ok(r.start("run", "--until-idle", "3"), "run")

    inputs = read_all(r.bootstrap, r.topic)
    assert summary["events"]["valid"] == len(good)
    assert summary["events"]["invalid"] == len(expected_reasons)
    assert 0.09 < len(expected_reasons) / len(messages) < 0.11
    dead = read_all(r.bootstrap, r.topics["dead"])
    assert Counter(d.headers["reason"].decode() for d in dead) == Counter(expected_reasons)
    good_values = {v for _, _, v in good}
    bad_offsets = {m.offset for m in inputs if m.value not in good_values}
    assert {int(d.headers["source.offset"]) for d in dead} == bad_offsets
    by_offset = {m.offset: m for m in inputs}
    for d in dead:
        src = by_offset[int(d.headers["source.offset"])]
        assert d.value == src.value  # the original bytes
        assert d.headers["source.topic"] == r.topic.encode()
        assert d.headers["source.partition"] == b"0"
        assert d.headers["detail"]
    expected, _ = replay(r.config, inputs, r.topic)
    assert_same_incidents(incidents_of(read_all(r.bootstrap, r.topics["incidents"])), expected)


def test_a_huge_input_message_does_not_stall_its_partition(
        kafka_bootstrap: str, kafka_topic_factory: TopicFactory, tmp_path: Path) -> None:
    """A 1.5 MB input (the topic allows it; more than the producer's message.max.bytes) is
    dead-lettered truncated, and the partition carries on: before, its full-size dead letter
    failed every transaction and the same message was retried forever."""
    big_max = str(4 << 20)
    topic = kafka_topic_factory(partitions=1, config={"max.message.bytes": big_max},
                                prefix="big")
    r = Runs(kafka_bootstrap, write_config(tmp_path / "config.yaml"), topic, tmp_path)
    stream = demo_stream()
    huge = b'{"pad": "' + b"x" * 1_500_000 + b'"}'
    values = [v for _, _, v in stream[:3000]] + [huge] + [v for _, _, v in stream[3000:]]
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True,
                         "message.max.bytes": big_max, "linger.ms": 5})
    produce_all(producer, topic, [[(b"routing", v) for v in values]], timeout=120,
                partition=lambda _key: 0)
    try:
        summary = r.wait_ok(r.start("run", "--until-idle", "3"), "run")
    finally:
        r.cleanup()
    assert summary["events"]["valid"] == len(stream)
    (dead,) = read_all(kafka_bootstrap, r.topics["dead"])
    assert dead.headers["reason"] == b"oversize"
    assert dead.headers["truncated"] == b"1"
    assert dead.headers["original.size"] == str(len(huge)).encode()
    assert dead.headers["source.offset"] == b"3000"
    assert dead.value is not None and huge.startswith(dead.value) and len(dead.value) < 1_000_000


def test_lag_and_position_are_exported_per_partition(kafka_bootstrap: str,
                                                      kafka_topic_factory: TopicFactory,
                                                      tmp_path: Path) -> None:
    """While run consumes, lag and position per partition reach 0 and the partitions' ends."""
    topic = kafka_topic_factory(partitions=2, prefix="lag")
    stream = [m for m in demo_stream(models=2) if orjson.loads(m[2])["timestamp"] < 1770963600]
    produce(kafka_bootstrap, topic, stream)
    ends = Counter(part for part, _, _ in stream)
    config = load_config(write_config(tmp_path / "c.yaml", models=["routing-0", "routing-1"]),
                         **{"kafka.bootstrap": kafka_bootstrap, "kafka.input_topic": topic,
                            "kafka.group_id": f"g-{uuid.uuid4().hex[:8]}",
                            "kafka.incident_topic": f"{topic}.incidents",
                            "kafka.dead_letter_topic": f"{topic}.dead",
                            "kafka.changelog_topic": f"{topic}.changelog"})
    metrics = Metrics()
    seen: dict[str, dict[int, float | None]] = {}
    deadline = time.monotonic() + 60

    def exported(_: Runtime) -> bool:
        get = metrics.registry.get_sample_value
        labels = [{"topic": topic, "partition": str(p)} for p in (0, 1)]
        seen["lag"] = {p: get("driftline_consumer_lag", labels[p]) for p in (0, 1)}
        seen["position"] = {p: get("driftline_consumer_position", labels[p]) for p in (0, 1)}
        return seen["position"] == {p: float(ends[p]) for p in (0, 1)} or \
            time.monotonic() > deadline

    summary = Runtime(config, metrics=metrics, stop_when=exported).run(install_signals=False)
    assert seen["position"] == {0: ends[0], 1: ends[1]}
    assert seen["lag"] == {0: 0, 1: 0}
    assert summary["events"]["read"] == len(stream)
    # revoked at close: no stale series are left behind
    assert metrics.registry.get_sample_value("driftline_consumer_lag",
                                             {"topic": topic, "partition": "0"}) is None
