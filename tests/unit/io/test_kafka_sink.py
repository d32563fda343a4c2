"""The records the transactional sink publishes (no broker)."""

from __future__ import annotations

from driftline.decode import DeadLetter
from driftline.io.kafka_sink import dead_letter_record


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
