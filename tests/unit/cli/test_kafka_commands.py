"""The run/produce-demo command line: flags over config, demo keys, incident positions."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftline.cli import main, parser
from driftline.cli.kafka import demo_messages, run_config
from driftline.decode import DeadLetter
from driftline.demo import Scenario
from driftline.io.kafka_sink import Record, dead_letter_record, incident_record, paced
from driftline.runtime import Runtime


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    """Every run flag lands on its config key; unset flags leave the file's values."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kafka:\n  group_id: from-file\n  input_topic: file-topic\n"
                   "metrics:\n  port: 9200\n")
    args = parser().parse_args(["run", "--config", str(cfg), "--bootstrap", "k:9",
                                "--input-topic", "flag-topic", "--metrics-port", "0",
                                "--dead-letter-topic", "dl", "--until-idle", "2.5"])
    config = run_config(args)
    k = config.kafka
    assert (k.bootstrap, k.input_topic, k.group_id, k.dead_letter_topic) == \
        ("k:9", "flag-topic", "from-file", "dl")
    assert config.metrics.port == 0 and args.until_idle == 2.5


def test_a_labels_store_without_a_labels_topic_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``--labels-store`` alone would be a store nothing fills: exit 2 before any broker is
    touched, and no store file is made."""
    store = tmp_path / "l.sqlite"
    assert main(["run", "--bootstrap", "127.0.0.1:1", "--labels-store", str(store)]) == 2
    assert "--labels-topic" in capsys.readouterr().err and not store.exists()


def test_zero_config_run_uses_the_preset() -> None:
    """Without --config the config has no monitors: the engine's zero-config preset applies."""
    config = run_config(parser().parse_args(["run", "--bootstrap", "k:9"]))
    assert config.monitors == [] and config.kafka.bootstrap == "k:9"


def test_demo_messages_are_keyed_by_model_and_spread_over_models() -> None:
    """--models N renames events round-robin to routing-0…N-1 and keys them by model."""
    chunk = next(demo_messages(1, Scenario(windows=1), models=3))
    keys = [k for k, _ in chunk[:6]]
    assert keys == [b"routing-0", b"routing-1", b"routing-2"] * 2
    assert all(orjson.loads(v)["model_id"] == k.decode() for k, v in chunk[:6] if k)
    one = next(demo_messages(1, Scenario(windows=1)))
    assert {k for k, _ in one} == {b"routing"}
    by_event = next(demo_messages(1, Scenario(windows=1), partitions_by="event_id"))
    assert by_event[0][0] == orjson.loads(by_event[0][1])["event_id"].encode()
    assert next(demo_messages(1, Scenario(windows=1), partitions_by="none"))[0][0] is None


def test_paced_rechunks_and_limits_the_rate() -> None:
    """200-message steps; at 4,000/s, 1,000 messages take about a quarter second."""
    data = [[(None, b"x")] * 1000]
    assert [len(c) for c in paced(data, 0)] == [200] * 5
    t0 = time.monotonic()
    list(paced(data, 4000))
    assert 0.15 < time.monotonic() - t0 < 1.0


def test_output_records_carry_keys_and_headers() -> None:
    """Incidents are keyed by incident id as CloudEvents; dead letters keep bytes and origin."""
    event = {"id": "evt-1", "subject": "inc-9", "data": {}}
    r = incident_record("inc", event)
    assert (r.key, dict(r.headers)) == (b"inc-9", {"content-type":
                                                    b"application/cloudevents+json"})
    d = dead_letter_record("dl", DeadLetter(b"{bad", "malformed_json", "oops", 41, 3), "in",
                           b"k")
    assert d == Record("dl", b"k", b"{bad", [
        ("reason", b"malformed_json"), ("detail", b"oops"), ("source.topic", b"in"),
        ("source.partition", b"3"), ("source.offset", b"41")])


def test_incident_positions_name_the_kafka_topic() -> None:
    """A partition's engine cites its events as Kafka positions of the input topic, itself."""
    config = run_config(parser().parse_args(["run", "--input-topic", "preds",
                                             "--instance-id", "x"]))
    runtime = Runtime(config, instance_id="x", window="300")  # builds no client until run()
    assert runtime.transactional_id == "driftline-driftline-x"
    engine = runtime.engine(None)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 600), rng.normal(3, 1, 600)])  # a shift at 600
    messages = [orjson.dumps({"model_id": "m", "timestamp": 1e9 + i, "prediction": 0.5,
                              "features": {"x": float(v)}}) for i, v in enumerate(x)]
    out = engine.process(messages, np.arange(10, 1210), np.full(1200, 2))
    positions = [p for ev in out.incidents + engine.finish().incidents
                 for p in ev["data"]["source_positions"]]
    assert engine.origin == {"source": "kafka", "topic": "preds"}
    assert positions, "the shift must open an incident"
    assert {(p["source"], p["topic"], p["partition"]) for p in positions} == {("kafka", "preds", 2)}
    assert min(p["first_offset"] for p in positions) >= 10 + 300


def test_the_demos_labels_go_to_a_topic_in_the_order_they_became_known() -> None:
    """produce-demo --labels-topic: every label the demo generates, keyed by its event id,
    in label-time order (a topic's order), and each for an event of the demo stream."""
    from driftline import demo
    from driftline.cli.kafka import demo_labels

    scenario = demo.Scenario(windows=3)
    labels = demo_labels(5, scenario)
    times = [orjson.loads(v)["timestamp"] for _, v in labels]
    assert times == sorted(times)
    want = [line for _w, _m, lab in demo.labelled_stream(5, scenario) for line in lab.lines()]
    assert sorted(v for _, v in labels) == sorted(want) and len(want) > 1000
    ids = {orjson.loads(m)["event_id"] for _w, ms in demo.stream(5, scenario) for m in ms}
    assert all(k is not None and k.decode() in ids and orjson.loads(v)["event_id"] == k.decode()
               for k, v in labels)
