"""State that cannot be poisoned, against the real broker: garbage in the changelog is skipped
(and the other slot, or a rebuild, still gives exactly replay's incidents), a pickle runs
nothing, and an input topic deleted and created again is read from its new start, loudly.
"""

from __future__ import annotations

import base64
import pickle
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka_runs import Msg, Runs, assert_same_incidents, demo_stream, incidents_of, produce, read_all, replay

from driftline.io.checkpoint import HEADER, Assembler

pytestmark = pytest.mark.integration


def slots(r: Runs) -> tuple[str, dict[str, int]]:
    """The slot of partition 0 written last, and the input offset each slot's checkpoint holds."""
    asm = Assembler(r.group, r.topic)
    last: tuple[int, str] | None = None
    for m in read_all(r.bootstrap, r.topics["changelog"]):
        asm.add(m.key, m.value, list(m.headers.items()))
        name = (m.key or b"").decode(errors="replace")
        if name.startswith(f"{r.group}/{r.topic}/0/") and "#" not in name:
            last = (m.offset, name[-1])
    assert last is not None, "the first run must have committed a checkpoint"
    held = {c.meta["slot"]: c.offset for c, _ in asm.candidates(0)}
    return last[1], held


def write(bootstrap: str, topic: str, records: list[tuple[bytes, bytes | None, Any]]) -> None:
    """Records into the changelog as anyone with write access could, to partition 0."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value, headers in records:
        producer.produce(topic, value, key, partition=0, headers=headers)
    assert producer.flush(30) == 0


class Boom:
    """Unpickling this writes a file: the proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.path, "pwned"))


def two_runs(r: Runs, between: Callable[[], None]) -> tuple[dict[str, Any], list[Msg]]:
    """Half the stream, run until idle, ``between()``, the other half, run until idle again."""
    stream = demo_stream()
    half = len(stream) // 2
    produce(r.bootstrap, r.topic, stream[:half])
    r.wait_ok(r.start("first", "--until-idle", "3"), "first")
    between()
    produce(r.bootstrap, r.topic, stream[half:])
    summary = r.wait_ok(r.start("second", "--until-idle", "3"), "second")
    inputs = read_all(r.bootstrap, r.topic)
    assert len(inputs) == len(stream)
    return summary, inputs


def assert_equals_replay(r: Runs, inputs: list[Msg]) -> None:
    expected, _ = replay(r.config, inputs, r.topic)
    assert_same_incidents(incidents_of(read_all(r.bootstrap, r.topics["incidents"])), expected)


@pytest.mark.parametrize("garbage", ["newest-slot", "both-slots-and-a-pickle", "foreign"])
def test_garbage_in_the_changelog_is_skipped_and_run_still_equals_replay(
        runs: Callable[..., Runs], tmp_path: Path, garbage: str) -> None:
    """Garbage under our keys is skipped with its reason; the other slot resumes (or the state
    is rebuilt from the input with its published output suppressed): exactly replay's incidents.
    Other groups' records and keys that are not even UTF-8 are ignored."""
    r = runs()
    marker = tmp_path / "pwned"
    expected: dict[str, int] = {}
    resets: set[str] = set()

    def poison() -> None:
        slot, held = slots(r)
        key = f"{r.group}/{r.topic}/0/".encode()
        if garbage == "newest-slot":
            write(r.bootstrap, r.topics["changelog"], [(key + slot.encode(), b"garbage",
                                                       [(HEADER, b"{not json")])])
            expected["bad_header"] = 1
            other = held.get("b" if slot == "a" else "a")
            if other is None:
                resets.add("no_valid_checkpoint")
            elif other < held[slot]:  # the other slot is older: its output is suppressed
                resets.add("older_checkpoint")
        elif garbage == "both-slots-and-a-pickle":
            payload = base64.b64encode(pickle.dumps(Boom(marker))).decode()
            old = b"DLC1\x00" + orjson.dumps({"offset": 10, "state": {"memory": {
                "gradual-prediction|routing": {"pickle": payload}}}})
            write(r.bootstrap, r.topics["changelog"], [
                (key + b"a", old, [(HEADER, b"0123456789abcdef:0:1")]),
                (key + b"b", b"DLC2\x01trunc", [(HEADER, orjson.dumps(
                    {"v": 2, "gen": "x", "i": 0, "n": 1, "sha256": "0" * 64}))])])
            expected.update(old_version=1, checksum=1)
            resets.add("no_valid_checkpoint")
        else:
            write(r.bootstrap, r.topics["changelog"], [
                (b"\xff\xfe\xfd", b"x", None), (b"another-group/x/0/a", b"y", None),
                (key + b"zz", b"z", None)])
            expected["bad_key"] = 1

    summary, inputs = two_runs(r, poison)
    assert_equals_replay(r, inputs)
    assert summary["kafka"]["checkpoint_invalid"] == expected
    assert set(summary["kafka"]["input_resets"]) == resets
    skipped = r.events("second", "changelog record skipped")
    assert sorted(e["reason"] for e in skipped) == sorted(
        reason for reason, n in expected.items() for _ in range(n))
    assert not marker.exists(), "the pickled payload ran"


def recreate(bootstrap: str, topic: str, timeout: float = 60.0) -> None:
    """Delete ``topic`` and create it again under the same name (bounded retries)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([topic], operation_timeout=30)[topic].result(30)
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin.create_topics([NewTopic(topic, 1, 1)], operation_timeout=30)[topic].result(30)
            break
        except KafkaException as exc:
            code = exc.args[0].code() if exc.args else None
            if code not in (KafkaError.TOPIC_ALREADY_EXISTS, KafkaError.UNKNOWN_TOPIC_OR_PART) \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    while True:  # until it has a leader again
        md = admin.list_topics(topic=topic, timeout=5).topics.get(topic)
        if md is not None and md.error is None and md.partitions and \
                all(p.leader >= 0 for p in md.partitions.values()):
            return
        assert time.monotonic() < deadline, f"{topic} has no leader after recreation"
        time.sleep(0.2)


def test_a_topic_recreated_while_stopped_is_read_from_its_new_start(
        runs: Callable[..., Runs]) -> None:
    """Deleted and created again between two runs: the new events (offsets from 0 again) are
    all processed, the state kept, and the reset logged and counted."""
    r = runs()
    stream = demo_stream()
    half = len(stream) // 2
    produce(r.bootstrap, r.topic, stream[:half])
    first = r.wait_ok(r.start("first", "--until-idle", "3"), "first")
    assert first["events"]["read"] == half
    recreate(r.bootstrap, r.topic)
    produce(r.bootstrap, r.topic, stream[half:])
    second = r.wait_ok(r.start("second", "--until-idle", "3"), "second")
    assert second["events"]["read"] == len(stream), "the new incarnation was not read"
    assert second["kafka"]["input_resets"] == {"topic_recreated": 1}
    (reset,) = r.events("second", "input reset")
    assert reset["reason"] == "topic_recreated" and reset["level"] == "error"
    assert second["windows_closed"] > first["windows_closed"]


def test_a_topic_recreated_while_running_is_read_from_its_new_start(
        runs: Callable[..., Runs]) -> None:
    """Deleted and created again under a running sidecar: it logs the reset and processes the
    new topic's events (offsets from 0 again), none skipped, and exits 0."""
    r = runs()
    stream = demo_stream()
    half = len(stream) // 2
    produce(r.bootstrap, r.topic, stream[:half])
    proc = r.start("run")
    r.wait_for("run", "partitions assigned")
    time.sleep(8)  # the first half consumed, past the warm-up, committed
    recreate(r.bootstrap, r.topic)
    produce(r.bootstrap, r.topic, stream[half:])
    deadline = time.monotonic() + 90
    while "input reset" not in r.log("run"):
        assert time.monotonic() < deadline, "no reset logged\n" + r.log("run")[-4000:]
        time.sleep(0.5)
    time.sleep(8)  # the new events are consumed
    proc.send_signal(signal.SIGTERM)
    summary = r.wait_ok(proc, "run", timeout=60)
    assert summary["events"]["read"] == len(stream), r.log("run")[-4000:]
    assert "topic_recreated" in summary["kafka"]["input_resets"]
