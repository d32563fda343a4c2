"""`driftline run` against the real broker: exactly-once incidents through crashes, rebalances,
broker restarts and poison input.

The invariant every test checks: for the same events and config, `run` publishes the same
incidents (same CloudEvent ids, same statistics, same source offsets) as a replay — one Engine
per input partition over that partition's messages, in offset order, then ``finish()`` (what
`run --until-idle` does once the input is drained). The input is read back from Kafka, so the
replay sees exactly the bytes and offsets `run` saw.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pytest
import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from driftline.cli.kafka import demo_messages
from driftline.config import load_config
from driftline.demo import Scenario
from driftline.engine import Engine
from driftline.io.kafka_sink import paced, produce_all
from driftline.metrics import Metrics
from driftline.sidecar import Sidecar

if TYPE_CHECKING:
    from kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
# a short stream whose failures all happen: region drift, unit change, creep
SCENARIO = Scenario(windows=20, region_start=6, region_end=14, unit_start=8, unit_end=12,
                    creep_start=14, warmup=2)
RUN_TIMEOUT = 120.0

TopicFactory = Callable[..., str]


# -- helpers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Msg:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


def write_config(path: Path, *, models: list[str] | None = None, **settings: Any) -> Path:
    """demo.yaml with a 2-window warm-up, 1 s commits and fast group membership for tests."""
    cfg = yaml.safe_load(DEMO_CONFIG.read_text())
    cfg["reference"]["warmup_windows"] = 2
    if models is not None:
        cfg["input"]["models"] = models
    cfg["kafka"] = {"commit_interval": "1s", "settings": {
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
        "transaction.timeout.ms": 30000, **settings}}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def demo_stream(models: int = 1) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) of the short scenario; model k goes to partition k."""
    out = []
    for chunk in demo_messages(11, SCENARIO, models, "model_id"):
        for key, value in chunk:
            k = int(key.rsplit(b"-", 1)[1]) if models > 1 and key else 0
            out.append((k, key, value))
    return out


def produce(bootstrap: str, topic: str, messages: list[tuple[int, bytes | None, bytes]],
            rate: float = 0.0) -> int:
    """Produce (partition, key, value) with an idempotent producer, optionally rate-limited."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 5, "reconnect.backoff.max.ms": 1000})
    by_key = {key: part for part, key, _ in messages}
    chunks = [[(key, value) for _, key, value in messages]]
    return produce_all(producer, topic, paced(chunks, rate), timeout=180,
                       partition=lambda key: by_key[key])


class Background(threading.Thread):
    """Runs ``produce`` in a thread and re-raises its error on ``join_ok``."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.fn, self.error = fn, None

    def run(self) -> None:
        try:
            self.fn()
        except BaseException as exc:  # reported by join_ok
            self.error = exc

    def join_ok(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the producer thread did not finish"
        if self.error is not None:
            raise self.error


def read_all(bootstrap: str, topic: str, *, committed: bool = True,
             timeout: float = 60.0) -> list[Msg]:
    """Every message of every partition, up to the end (read_committed by default)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"it-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "fetch.wait.max.ms": 10,
                         "isolation.level": "read_committed" if committed else "read_uncommitted"})
    out: list[Msg] = []
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = sorted(md.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        pending = set(parts)
        deadline = time.monotonic() + timeout
        while pending:
            assert time.monotonic() < deadline, f"{topic}: end not reached in {timeout}s"
            for m in consumer.consume(num_messages=5000, timeout=0.5):
                err = m.error()
                if err is None:
                    out.append(Msg(m.partition(), m.offset(), m.key(), m.value(),
                                   dict(m.headers() or [])))
                elif err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(m.partition())
                else:
                    raise AssertionError(f"consume error: {err}")
    finally:
        consumer.close()
    return out


def replay(config: Path, messages: list[Msg], topic: str, batch: int = 10_000,
           ) -> tuple[list[dict[str, Any]], dict[int, Engine]]:
    """One Engine per partition over its messages in offset order, then finish()."""
    cfg = load_config(config)
    incidents: list[dict[str, Any]] = []
    engines: dict[int, Engine] = {}
    for p in sorted({m.partition for m in messages}):
        mine = sorted((m for m in messages if m.partition == p), key=lambda m: m.offset)
        engine = engines[p] = Engine(cfg)
        for i in range(0, len(mine), batch):
            chunk = mine[i:i + batch]
            out = engine.process([m.value or b"" for m in chunk],
                                 np.array([m.offset for m in chunk], np.int64),
                                 np.full(len(chunk), p, np.int64))
            incidents += out.incidents
        incidents += engine.finish().incidents
    for ev in incidents:  # the positions `run` names: Kafka, the input topic
        ev["data"]["source_positions"] = [dict(pos, source="kafka", topic=topic)
                                          for pos in ev["data"]["source_positions"]]
    return [orjson.loads(orjson.dumps(ev)) for ev in incidents], engines


def incidents_of(records: list[Msg]) -> list[dict[str, Any]]:
    events = []
    for r in records:
        assert r.headers.get("content-type") == b"application/cloudevents+json"
        assert r.value is not None
        ev = orjson.loads(r.value)
        assert r.key == ev["subject"].encode()
        events.append(ev)
    return events


def assert_same_incidents(published: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    ids = Counter(ev["id"] for ev in published)
    dup = [i for i, n in ids.items() if n > 1]
    assert not dup, f"CloudEvent ids published more than once: {dup[:5]}"
    assert expected, "the scenario should produce incidents"
    assert set(ids) == {ev["id"] for ev in expected}
    by_id = {ev["id"]: ev for ev in published}
    for ev in expected:
        diff = differences(by_id[ev["id"]], ev)
        assert not diff, f"incident {ev['id']} differs from the replay: {diff[:5]}"


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON values differ (for readable failures)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def assert_run_equals_replay(r: Runs, inputs: list[Any], summary: dict[str, Any]) -> list[dict]:
    """The invariant: the committed incidents and totals equal a replay of the input topic."""
    expected, engines = replay(r.config, inputs, r.topic)
    published = incidents_of(read_all(r.bootstrap, r.topics["incidents"]))
    assert_same_incidents(published, expected)
    assert_same_totals(summary, engines)
    return published


def assert_same_totals(summary: dict[str, Any], engines: dict[int, Engine]) -> None:
    for p, engine in engines.items():
        t = engine.totals
        got = summary["partitions"][str(p)]
        assert (got["read"], got["valid"], got["windows"]) == (t.read, t.valid, t.windows), p
    assert summary["events"]["read"] == sum(e.totals.read for e in engines.values())
    assert summary["windows_closed"] == sum(e.totals.windows for e in engines.values())


class Runs:
    """Starts `driftline run` subprocesses for one test; kills leftovers at the end."""

    def __init__(self, bootstrap: str, config: Path, topic: str, workdir: Path) -> None:
        self.bootstrap, self.config, self.topic, self.workdir = bootstrap, config, topic, workdir
        self.group = f"g-{uuid.uuid4().hex[:8]}"
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def topics(self) -> dict[str, str]:
        t = self.topic
        return {"incidents": f"{t}.incidents", "dead": f"{t}.dead", "changelog": f"{t}.changelog"}

    def start(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        t = self.topics
        cmd = [sys.executable, "-m", "driftline.cli", "--log-level", "info", "run",
               "--config", str(self.config), "--bootstrap", self.bootstrap,
               "--input-topic", self.topic, "--incident-topic", t["incidents"],
               "--dead-letter-topic", t["dead"], "--changelog-topic", t["changelog"],
               "--group-id", self.group, "--metrics-port", "0",
               "--summary-out", str(self.workdir / f"{name}.json"), *extra]
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the process
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def wait_ok(self, proc: subprocess.Popen[bytes], name: str,
                timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"{name} did not exit in {timeout}s\n{self.log(name)[-4000:]}"
                                 ) from None
        assert rc == 0, f"{name} exited {rc}\n{self.log(name)[-4000:]}"
        return json.loads((self.workdir / f"{name}.json").read_text())

    def wait_for(self, name: str, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(name):
            assert time.monotonic() < deadline, f"{name}: no {text!r}\n{self.log(name)[-3000:]}"
            time.sleep(0.1)

    def events(self, name: str, event: str) -> list[dict[str, Any]]:
        """The JSON log lines of one run whose event is ``event``."""
        out = []
        for line in self.log(name).splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("event") == event:
                out.append(rec)
        return out

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def runs(kafka_bootstrap: str, kafka_topic_factory: TopicFactory, tmp_path: Path,
         request: pytest.FixtureRequest) -> Iterable[Callable[..., Runs]]:
    made: list[Runs] = []

    def make(partitions: int = 1, **config: Any) -> Runs:
        topic = kafka_topic_factory(partitions=partitions, prefix="run")
        r = Runs(kafka_bootstrap, write_config(tmp_path / "config.yaml", **config), topic,
                 tmp_path)
        made.append(r)
        return r

    yield make
    for r in made:
        r.cleanup()


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

    def exported(_: Sidecar) -> bool:
        get = metrics.registry.get_sample_value
        labels = [{"topic": topic, "partition": str(p)} for p in (0, 1)]
        seen["lag"] = {p: get("driftline_consumer_lag", labels[p]) for p in (0, 1)}
        seen["position"] = {p: get("driftline_consumer_position", labels[p]) for p in (0, 1)}
        return seen["position"] == {p: float(ends[p]) for p in (0, 1)} or \
            time.monotonic() > deadline

    summary = Sidecar(config, metrics=metrics, stop_when=exported).run(install_signals=False)
    assert seen["position"] == {0: ends[0], 1: ends[1]}
    assert seen["lag"] == {0: 0, 1: 0}
    assert summary["events"]["read"] == len(stream)
    # revoked at close: no stale series are left behind
    assert metrics.registry.get_sample_value("driftline_consumer_lag",
                                             {"topic": topic, "partition": "0"}) is None
