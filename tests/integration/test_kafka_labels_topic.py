"""`driftline run --labels-topic` against the real broker: labels that come on a topic of
their own, seconds to minutes after their predictions, through a kill -9 of the run, publish
exactly a replay's incidents — the behaviour layer's as soon as their windows close, the
performance layer's once their labels are final (the labels' watermark past the window's
predictions + TTL), each exactly once."""

from __future__ import annotations

import signal
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import yaml
from confluent_kafka import Consumer, TopicPartition
from kafka_runs import (
    Background,
    Msg,
    Runs,
    TopicFactory,
    assert_same_incidents,
    incidents_of,
    produce,
    read_all,
)

from driftline.config import load_config
from driftline.engine import Engine
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader
from driftline.labels.store import LabelStore
from driftline.runtime.performance import floor_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from labelled import classification

pytestmark = pytest.mark.integration


def two_layer_replay(config: Path, inputs: list[Msg], labels: list[Msg], topic: str,
                     labels_topic: str, workdir: Path) -> list[dict[str, Any]]:
    """What the run must publish: the behaviour engine over the input, and the performance
    engine over it with every label of the labels topic (a replay knows them all), each
    where it was read — so the incidents' label positions are compared too."""
    cfg = load_config(config)
    cfg = cfg.model_copy(update={"labels": cfg.labels.model_copy(update={"enabled": True})})
    out: list[dict[str, Any]] = []
    for layer in ("behaviour", "performance"):
        join = None
        if layer == "performance":
            join = LabelJoin(LabelStore(workdir / "replay.sqlite"), cfg.labels.ttl_seconds,
                             {"source": "kafka", "topic": labels_topic})
            reader = LabelReader(cfg.labels.fields, cfg.input.floor, 65536)
            for m in labels:
                join.add(reader.rows([m.value or b""], [m.offset], m.partition))
        engine = Engine(cfg, origin={"source": "kafka", "topic": topic}, labels=join,
                        layer=layer)
        mine = sorted(inputs, key=lambda m: m.offset)
        for i in range(0, len(mine), 2000):
            chunk = mine[i:i + 2000]
            out += engine.process([m.value or b"" for m in chunk],
                                  np.array([m.offset for m in chunk], np.int64),
                                  np.zeros(len(chunk), np.int64)).incidents
        out += engine.finish().incidents
    return [orjson.loads(orjson.dumps(ev)) for ev in out]


@pytest.mark.parametrize(("store", "label_partitions"),
                         [("kept", 1), ("lost", 1), ("kept", 3)])
def test_a_labels_topic_through_kill_9_equals_a_replay(
        kafka_bootstrap: str, kafka_topic_factory: TopicFactory, tmp_path: Path,
        request: pytest.FixtureRequest, store: str, label_partitions: int) -> None:
    """``lost``: the labels store is deleted with the process (a new volume): the restart
    rebuilds it from the labels topic's beginning, and publishes the same. Three labels
    partitions keyed by event id: the labels' watermark is the least of three, and the
    partitions interleave in whatever order the consumer reads them. One label comes from a
    clock a year ahead: no label is late for it."""
    config = tmp_path / "labels-topic.yaml"
    config.write_text(yaml.safe_dump({
        "labels": {"ttl": "2m"}, "window": {"size": "1m"},
        "reference": {"warmup_windows": 2}, "detection": {"min_samples": 100},
        "kafka": {"commit_interval": "1s", "settings": {
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "transaction.timeout.ms": 30000, "group.instance.id": "labels-topic"}}}))
    r = Runs(kafka_bootstrap, config, kafka_topic_factory(partitions=1, prefix="lt"), tmp_path)
    request.addfinalizer(r.cleanup)
    labels_topic = kafka_topic_factory(partitions=label_partitions, prefix="lt-labels")
    # the south's decisions turn wrong from window 6; labels come ~20 s after (mean)
    stream = classification(14, 1500, seed=5, drift_from=6, delay=20.0)
    arrival = sorted(stream.labels, key=lambda line: orjson.loads(line)["timestamp"])
    # one label from a clock a year ahead, a third of the way in: with the latest label time
    # as the watermark, every label after it on its partition was late and every held
    # prediction released at once; now it is a bad timestamp and moves nothing
    skewed = orjson.loads(arrival[len(arrival) // 3])
    arrival[len(arrival) // 3] = orjson.dumps({**skewed, "timestamp": skewed["timestamp"]
                                               + 365 * 86_400})
    events = Background(lambda: produce(r.bootstrap, r.topic,
                                        [(0, b"m", v) for v in stream.events], rate=2000))
    def keyed(line: bytes) -> tuple[int, bytes, bytes]:
        eid = orjson.loads(line)["event_id"].encode()
        return zlib.crc32(eid) % label_partitions, eid, line

    labels = Background(lambda: produce(r.bootstrap, labels_topic,
                                        [keyed(v) for v in arrival], rate=2000))
    events.start()
    labels.start()
    extra = ("--labels-topic", labels_topic, "--labels-store", str(tmp_path / "labels.sqlite"))
    proc = r.start("crash", *extra)
    r.wait_for("crash", "labels topic")
    r.wait_for("crash", "partitions assigned")
    time.sleep(6.0)  # past both warm-ups: both layers are writing checkpoints
    assert proc.poll() is None, r.log("crash")[-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    if store == "lost":
        for f in tmp_path.glob("labels.sqlite*"):
            f.unlink()
    events.join_ok(60)
    labels.join_ok(60)
    summary = r.wait_ok(r.start("final", *extra, "--until-idle", "3"), "final")

    inputs = read_all(r.bootstrap, r.topic)
    assert len(inputs) == len(stream.events)
    label_msgs = read_all(r.bootstrap, labels_topic)
    assert len(label_msgs) == len(arrival)
    expected = two_layer_replay(config, inputs, label_msgs, r.topic, labels_topic, tmp_path)
    published = incidents_of(read_all(r.bootstrap, r.topics["incidents"]))
    assert_same_incidents(published, expected)
    assert any(e["data"]["label_positions"] for e in published)
    opened = {(e["data"]["monitor"], e["data"]["segment"].get("region"))
              for e in published if e["type"].endswith(".opened")}
    assert ("error-rate-by-region", "south") in opened, opened
    perf = summary["performance"]
    assert perf["kafka"]["partitions_restored"] == 1, perf
    assert perf["labels"]["late_arrival"] == 0 and perf["labels"]["joined"] > 0, perf["labels"]
    assert summary["kafka"]["partitions_restored"] == 1
    # the final run read the labels topic from where the store stood: the end of what the
    # crashed run had read, or (the store lost) from the beginning
    assert (perf["labels"]["read"] == len(arrival)) == (store == "lost"), perf["labels"]
    # the committed offset tells any instance how old a label its state may still need
    # (what expiry reads): carried through the transaction by the broker
    (floor,) = committed_floors(r.bootstrap, f"{r.group}.performance", r.topic)
    assert floor_of(floor) is not None and floor_of(floor) < max(stream.times), floor


def committed_floors(bootstrap: str, group: str, topic: str) -> list[str | None]:
    """The metadata of ``group``'s committed offsets on every partition of ``topic``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        n = len(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        got = consumer.committed([TopicPartition(topic, p) for p in range(n)], timeout=10)
    finally:
        consumer.close()
    return [tp.metadata for tp in got]
