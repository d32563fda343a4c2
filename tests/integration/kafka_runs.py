"""Helpers for the tests of `driftline run` against the real broker: produce, read back, replay,
start and watch `run` subprocesses, and the invariant they all check (run equals replay).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from driftline.cli.kafka import demo_messages
from driftline.config import load_config
from driftline.demo import Scenario
from driftline.engine import Engine
from driftline.io.kafka_sink import paced, produce_all

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
# a short stream whose failures all happen: region drift, unit change, creep
SCENARIO = Scenario(windows=20, region_start=6, region_end=14, unit_start=8, unit_end=12,
                    creep_start=14, warmup=2)
RUN_TIMEOUT = 120.0

TopicFactory = Callable[..., str]


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
        engine = engines[p] = Engine(cfg, origin={"source": "kafka", "topic": topic})
        for i in range(0, len(mine), batch):
            chunk = mine[i:i + batch]
            out = engine.process([m.value or b"" for m in chunk],
                                 np.array([m.offset for m in chunk], np.int64),
                                 np.full(len(chunk), p, np.int64))
            incidents += out.incidents
        incidents += engine.finish().incidents
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


# -- one model over many partitions (issue 12): run against `driftline replay` of the stream ---
#: fields of an incident that differ between one engine per partition (run) and one engine
#: over the whole stream (replay) even when each model is in one partition: the warm-up
#: reference's id hashes every model of the engine (and its vocabularies' codes, in the order
#: the engine met the values). The Benjamini–Hochberg family is one model's (judge.py), so
#: q-values are compared. The two-stage runtime has to make the reference per model, by name.
PER_ENGINE_FIELDS = frozenset({".data.evidence.reference_id"})


def keyed_stream(scenario: Scenario, models: int, key: str) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of the demo stream in the order produced; ``key`` is ``model_id``,
    ``event_id`` or ``none`` (``demo_messages``)."""
    return [kv for chunk in demo_messages(11, scenario, models, key) for kv in chunk]


def produce_keyed(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]],
                  partition: Callable[[bytes | None], int] | None = None) -> int:
    """Produce (key, value) in order; the producer's partitioner places them unless
    ``partition`` is given."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 5})
    return produce_all(producer, topic, [messages], timeout=180, partition=partition)


def replay_file(config: Path, values: list[bytes], workdir: Path) -> list[dict[str, Any]]:
    """`driftline replay` of ``values`` written to a JSON-lines file in this order."""
    events, out = workdir / "replay-input.ndjson", workdir / "replay-incidents.jsonl"
    events.write_bytes(b"".join(v + b"\n" for v in values))
    done = subprocess.run([sys.executable, "-m", "driftline.cli", "replay", "--input", str(events),
                           "--config", str(config), "--incidents-out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=REPO,
                          check=False)
    assert done.returncode == 0, f"replay exited {done.returncode}: {done.stderr[-3000:]}"
    return [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]


def versus_replay(published: list[dict[str, Any]], expected: list[dict[str, Any]],
                  ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Published incidents against replay's by CloudEvent id: ``same`` (in both), ``missing``
    (replay only), ``extra`` (published only), ``duplicates`` (copies beyond the first), and
    ``differing``: id → the fields where no published copy equals replay's event, apart from
    ``source_positions`` (Kafka offsets on one side, file lines on the other) and ``ignore``."""
    ids, want = Counter(ev["id"] for ev in published), {ev["id"]: ev for ev in expected}
    differing: dict[str, list[str]] = {}
    for i in sorted(set(ids) & set(want)):
        diffs = [[d for d in differences(_no_positions(ev), _no_positions(want[i]))
                  if d.split(":", 1)[0] not in ignore]
                 for ev in published if ev["id"] == i]
        if all(diffs):
            differing[i] = min(diffs, key=len)
    return {"published": len(published), "replay": len(expected),
            "same": len(set(ids) & set(want)), "missing": sorted(set(want) - set(ids)),
            "extra": sorted(set(ids) - set(want)),
            "duplicates": {i: n for i, n in ids.items() if n > 1}, "differing": differing}


def _no_positions(ev: dict[str, Any]) -> dict[str, Any]:
    return dict(ev, data={k: v for k, v in ev["data"].items() if k != "source_positions"})


class NotReplay(AssertionError):
    """The published incidents are not replay's: what an expected failure may raise, so that
    any other failure (the harness, the broker, a run that did not exit 0) stays a failure."""


def assert_equals_replay(published: list[dict[str, Any]], expected: list[dict[str, Any]],
                         ignore: frozenset[str] = frozenset()) -> None:
    """The invariant of issue 12: exactly replay's incidents (ids, statistics, counts)."""
    assert expected, "the scenario should produce incidents"
    v = versus_replay(published, expected, ignore)
    summary = {k: len(x) if isinstance(x, list | dict) else x for k, x in v.items()}
    if v["missing"] or v["extra"] or v["duplicates"] or v["differing"]:
        raise NotReplay(
            f"published != replay: {summary}; duplicates {dict(list(v['duplicates'].items())[:5])}"
            f", differing {dict(list(v['differing'].items())[:3])}")
