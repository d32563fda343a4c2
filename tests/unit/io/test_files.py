"""File sources read bounded lines: one huge line costs a bounded buffer, never its size."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import orjson

from driftline.config import Config
from driftline.engine import Engine
from driftline.io.files import IncidentFileSink, bounded_lines, read_batches


def test_lines_are_cut_past_the_bound_and_counted_in_order(tmp_path: Path) -> None:
    """A long line comes back cut to bound + 1 bytes; the lines around it are intact."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\n" + b"x" * 5000 + b"\nbb\r\n\nlast")
    with open(path, "rb") as fh:
        lines = list(bounded_lines(fh, 100))
    assert lines == [b"a", b"x" * 101, b"bb", b"", b"last"]


def test_a_200_mb_line_is_rejected_with_bounded_memory(tmp_path: Path) -> None:
    """A 200 MB line among good ones is one oversize dead letter; reading it stays under 2 MB."""
    path = tmp_path / "huge.jsonl"
    good = [orjson.dumps({"model_id": "m", "timestamp": 1e9 + i, "features": {"x": 1.0},
                          "prediction": 0.5}) for i in range(3)]
    with open(path, "wb") as fh:
        fh.write(good[0] + b"\n" + b'{"pad": "')
        chunk = b"y" * (1 << 20)
        for _ in range(200):
            fh.write(chunk)
        fh.write(b'"}\n' + good[1] + b"\n" + good[2] + b"\n")
    tracemalloc.start()
    try:
        batches = list(read_batches(path, batch_size=10, max_bytes=65536))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20
    (lines, numbers), = batches
    assert numbers.tolist() == [1, 2, 3, 4] and len(lines[1]) == 65537
    engine = Engine(Config(window={"size": "60s"}))
    dead = engine.process(lines, numbers).dead_letters + engine.finish().dead_letters
    assert [(d.reason, d.position) for d in dead] == [("oversize", 2)]


def test_3000_feature_names_in_the_first_batch_stay_bounded() -> None:
    """One event naming 3,000 features: a bounded schema, one report, the stream goes on."""
    hostile = orjson.dumps({"model_id": "m", "timestamp": 1e9, "prediction": 0.5,
                            "features": {f"f{i}": float(i) for i in range(3000)}})
    normal = [orjson.dumps({"model_id": "m", "timestamp": 1e9 + i, "prediction": 0.5,
                            "features": {"x": float(i % 7), "y": "ab"[i % 2]}})
              for i in range(1, 3000)]
    engine = Engine(Config(window={"size": "200s"}, detection={"min_samples": 20}))
    messages = [hostile, *normal]
    out = engine.process(messages, np.arange(len(messages)))
    engine.finish()
    assert engine.decoder is not None
    assert set(engine.decoder.schema.numeric) == {"x"}
    assert set(engine.decoder.schema.categorical) == {"y"}
    (report,) = [d for d in out.dead_letters if d.reason == "feature_overflow"]
    assert report.position == 0 and "3000 features" in report.detail
    assert engine.totals.overflow["feature_overflow"] == 3000
    assert len(engine.monitors) < 10
    assert engine.totals.valid == len(messages) and engine.totals.windows > 0


def test_an_incident_file_sink_keeps_action_lines_and_replaces_the_rest(tmp_path: Path) -> None:
    """Opening rewrites the file: action CloudEvents stay (verbatim, first), all else goes."""
    path = tmp_path / "incidents.jsonl"
    ack = b'{"type":"io.driftline.incident.acknowledged","id":"act-1"}'
    close = b'{"type": "io.driftline.incident.closed", "id": "act-2"}'
    old = b'{"type":"io.driftline.incident.opened","id":"evt-old"}'
    path.write_bytes(b"\n".join([old, ack, b"{torn", close, b"[1]"]) + b"\n")
    sink = IncidentFileSink(path)
    assert sink.kept == 2
    sink.write([{"type": "io.driftline.incident.opened", "id": "evt-new"}])
    sink.close()
    lines = path.read_bytes().splitlines()
    assert lines[:2] == [ack, close] and b"evt-new" in lines[2] and len(lines) == 3
    fresh = IncidentFileSink(tmp_path / "new" / "incidents.jsonl")
    assert fresh.kept == 0
    fresh.close()
    assert (tmp_path / "new" / "incidents.jsonl").read_bytes() == b""
