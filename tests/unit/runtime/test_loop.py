"""The loop's handling of an engine's output, against fake clients (no broker)."""

from __future__ import annotations

from kafka_fakes import runtime

from driftline.decode import DeadLetter
from driftline.engine import Engine, Output
from driftline.runtime import Part


def test_an_oversize_input_becomes_a_publishable_dead_letter() -> None:
    """A 1.5 MB input message must not become a 1.5 MB dead letter (over message.max.bytes:
    every transaction would fail on it and its partition would be retried forever)."""
    s = runtime()
    part = Part(0, Engine(s.config), 0, None, 0)
    raw = b"{" + b"x" * 1_500_000 + b"}"
    s._collect(part, Output(dead_letters=[DeadLetter(raw, "oversize", "big", 5, 0)]), None)
    (r,) = part.dead
    assert len(r.value) <= 1_000_000 - 64 * 1024  # under the producer's message.max.bytes
    assert r.value == raw[:len(r.value)]
    assert dict(r.headers)["original.size"] == str(len(raw)).encode()
