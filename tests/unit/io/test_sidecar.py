"""The Kafka sidecar's commit/rewind logic against fake clients (no broker)."""

from __future__ import annotations

import pytest

from driftline.config import Config, KafkaConfig
from driftline.decode import DeadLetter
from driftline.io.kafka_sink import dead_letter_record
from driftline.pipeline import Engine, Output
from driftline.sidecar import Part, Sidecar


def sidecar(**kafka: object) -> Sidecar:
    return Sidecar(Config(kafka=KafkaConfig(**kafka)))  # type: ignore[arg-type]


@pytest.mark.parametrize("settings", [
    {"group.instance.id": {"env": "POD_NAME"}},
    {"consumer": {"group.instance.id": {"env": "POD_NAME"}}},
])
def test_static_member_id_from_env_gives_each_replica_its_transactional_id(
        settings: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """{env: POD_NAME} is resolved: two pods get two transactional ids, not the raw map."""
    monkeypatch.setenv("POD_NAME", "driftline-0")
    a = sidecar(group_id="g", settings=settings)
    monkeypatch.setenv("POD_NAME", "driftline-1")
    b = sidecar(group_id="g", settings=settings)
    assert a.transactional_id == "driftline-g-driftline-0"
    assert b.transactional_id == "driftline-g-driftline-1"


def test_dead_letter_record_is_capped_with_truncation_headers() -> None:
    """A value over max_bytes keeps its first max_bytes bytes and says how long it was."""
    d = DeadLetter(b"x" * 2_000_000, "oversize", "too big", 7, 1)
    r = dead_letter_record("dl", d, "in", b"k", max_bytes=65536)
    assert len(r.value) == 65536 and r.value == d.raw[:65536]
    headers = dict(r.headers)
    assert headers["truncated"] == b"1" and headers["original.size"] == b"2000000"
    small = dead_letter_record("dl", DeadLetter(b"{bad", "malformed_json", "", 1, 0), "in",
                               None, max_bytes=65536)
    assert small.value == b"{bad" and "truncated" not in dict(small.headers)


def test_an_oversize_input_becomes_a_publishable_dead_letter() -> None:
    """A 1.5 MB input message must not become a 1.5 MB dead letter (over message.max.bytes:
    every transaction would fail on it and its partition would be retried forever)."""
    s = sidecar()
    part = Part(0, Engine(s.config), 0, None, 0)
    raw = b"{" + b"x" * 1_500_000 + b"}"
    s._collect(part, Output(dead_letters=[DeadLetter(raw, "oversize", "big", 5, 0)]), None)
    (r,) = part.dead
    assert len(r.value) <= 1_000_000 - 64 * 1024  # under the producer's message.max.bytes
    assert r.value == raw[:len(r.value)]
    assert dict(r.headers)["original.size"] == str(len(raw)).encode()
