"""Investigation against the real broker: explain a Kafka incident from its cited offsets, act on
incidents through the incident topic, and tell 'gone' from 'not reproduced' after retention.

`driftline run --until-idle` publishes the short demo scenario's incidents; `explain` reads
them back from the incident topic (read_committed), rebuilds the warm-up reference from the
start of the input partition and re-reads exactly the cited offsets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
from kafka_runs import (
    Msg,
    Runs,
    TopicFactory,
    demo_stream,
    incidents_of,
    produce,
    read_all,
    replay,
    write_config,
)

from driftline.cli import main
from driftline.investigate.streams import CLOUDEVENTS_JSON

pytestmark = pytest.mark.integration


def explain(r: Runs, incident: str, out: Path, *extra: str) -> int:
    return main(["explain", incident, "--bootstrap", r.bootstrap, "--incident-topic",
                 r.topics["incidents"], "--config", str(r.config), "--out", str(out), *extra])


def test_explain_a_kafka_incident_then_retention_makes_its_events_gone(
        runs: Callable[..., Runs], tmp_path: Path) -> None:
    """Reproduced from the cited offsets (exit 0); after delete_records past them: gone (exit 4)."""
    r = runs()
    produce(r.bootstrap, r.topic, demo_stream())
    r.wait_ok(r.start("run", "--until-idle", "3"), "run")
    published = incidents_of(read_all(r.bootstrap, r.topics["incidents"]))
    first = next(ev for ev in published if ev["type"].endswith(".opened"))
    assert explain(r, first["subject"], tmp_path / "ok") == 0
    result = json.loads((tmp_path / "ok" / "explain.json").read_text())
    assert result["reproduced"] and result["value_recomputed"] == first["data"]["value"]
    (pos,) = first["data"]["source_positions"]
    assert result["inputs"]["events"]["source"] == "kafka"
    assert result["inputs"]["events"]["topic"] == r.topic == pos["topic"]
    lo, hi = result["inputs"]["events"]["read"]
    assert lo <= pos["first_offset"] and hi >= pos["last_offset"]
    assert result["inputs"]["reference_used"] == first["data"]["evidence"]["reference_id"]

    admin = AdminClient({"bootstrap.servers": r.bootstrap})
    cut = TopicPartition(r.topic, 0, pos["first_offset"] + 1)
    for fut in admin.delete_records([cut], request_timeout=30).values():
        fut.result(timeout=30)
    assert explain(r, first["subject"], tmp_path / "gone") == 4
    gone = json.loads((tmp_path / "gone" / "explain.json").read_text())
    assert gone["outcome"] == "events_gone" and "retention" in gone["reason"]


def _detection_events(tmp_path: Path) -> list[dict[str, Any]]:
    """The scenario's incidents as a run would publish them (a replay of its messages)."""
    msgs = [Msg(p, i, key, value, {}) for i, (p, key, value) in enumerate(demo_stream())]
    events, _ = replay(write_config(tmp_path / "config.yaml"), msgs, "predictions")
    return events


def _state(bootstrap: str, topic: str, incident: str, capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    assert main(["incident", "show", incident, "--bootstrap", bootstrap, "--incident-topic",
                 topic, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ack_and_close_round_trip_through_the_topic(
        kafka_bootstrap: str, kafka_topic_factory: TopicFactory, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Actions produced to the incident topic, keyed by incident id, are read back as its state."""
    topic = kafka_topic_factory(prefix="incidents")
    events = _detection_events(tmp_path)
    incident = next(e["subject"] for e in events if e["type"].endswith(".opened"))
    # as published while the incident is still open: without its resolution
    live = [e for e in events if not (e["subject"] == incident and e["type"].endswith(".resolved"))]
    produce(kafka_bootstrap, topic, [(0, e["subject"].encode(), json.dumps(e).encode())
                                     for e in live])
    base = ["--bootstrap", kafka_bootstrap, "--incident-topic", topic]
    assert _state(kafka_bootstrap, topic, incident, capsys)["status"] == "open"
    assert main(["incident", "ack", incident, *base, "--by", "alice"]) == 0
    assert _state(kafka_bootstrap, topic, incident, capsys)["status"] == "acknowledged"
    assert main(["incident", "close", incident, *base, "--by", "alice", "--root-cause",
                 "unit change", "--actions", "fixed it", "--false-alarm"]) == 0
    s = _state(kafka_bootstrap, topic, incident, capsys)
    assert s["status"] == "closed" and s["acknowledged"]["by"] == "alice"
    assert s["closed"]["false_alarm"] and s["closed"]["root_cause"] == "unit change"
    assert s["closed"]["principal"]["kind"] == "os_user"  # PLAINTEXT: no SASL principal
    acts = [m for m in read_all(kafka_bootstrap, topic) if b'"action"' in (m.value or b"")]
    assert [m.key for m in acts] == [incident.encode()] * 2
    assert all(m.headers.get("content-type") == CLOUDEVENTS_JSON for m in acts)
    assert main(["incident", "ack", incident, *base, "--by", "bob"]) == 1
