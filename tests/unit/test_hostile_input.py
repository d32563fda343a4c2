"""No byte string can crash the engine: each message ends as a valid event or a dead letter.

Generated events carry arbitrary Unicode names (features, decisions, segment keys and
values), every JSON type where a value goes, and raw bytes between them; they come in
random batches, the first one included (schema inference, warm-up). The engine runs
zero-config, the way a new user first points it at their stream.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftline.config import Config
from driftline.decode import REPORTS
from driftline.engine import Engine

T0 = 1_770_962_400.0
NAMES = st.one_of(
    st.sampled_from(["price per kg", "", "überprüfen", "Région", "Speed", "speed", "a.b",
                     "x|y", "__other__", "decision=", "feature:x", "😀", "\x00", " "]),
    st.text(max_size=12))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                   st.dictionaries(NAMES, SCALARS, max_size=3))
TIMES = st.one_of(st.floats(T0, T0 + 7200), st.floats(-1e12, 1e15), st.integers(0, 2**62),
                  st.sampled_from(["2026-02-13T06:00:00Z", "2026-02-13T06:00:00", "yesterday",
                                   "1969-12-31T23:59:59Z", "0001-01-01T00:00:00+00:00"]))


FEATURE_VALUES = st.one_of(st.floats(-1e6, 1e6), st.integers(-100, 100), st.booleans(),
                           st.sampled_from(["a", "b", "", "ü"]), st.none(), VALUES)


def maybe(draw: st.DrawFn, usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """Mostly what the contract wants, sometimes anything."""
    return draw(odd) if draw(st.integers(0, 9)) == 0 else draw(usual)


@st.composite
def events(draw: st.DrawFn) -> bytes:
    body: dict[str, Any] = {
        "model_id": maybe(draw, st.sampled_from(["m", "m2", "Mödel 3"]), VALUES),
        "timestamp": maybe(draw, st.floats(T0, T0 + 7200), TIMES),
        "features": maybe(draw, st.dictionaries(NAMES, FEATURE_VALUES, max_size=6), VALUES),
        "prediction": maybe(draw, st.floats(0, 1), VALUES),
    }
    if draw(st.booleans()):
        body["decision"] = maybe(draw, NAMES, VALUES)
    if draw(st.booleans()):
        body["segments"] = maybe(draw, st.dictionaries(NAMES, NAMES, max_size=3),
                                 st.dictionaries(NAMES, VALUES, max_size=3) | VALUES)
    if draw(st.booleans()):
        body["latency_ms"] = maybe(draw, st.floats(0, 100), VALUES)
    for k in draw(st.lists(NAMES, max_size=2)):
        body.pop(k, None) if draw(st.booleans()) else body.setdefault(k, draw(VALUES))
    # the standard library writes what orjson refuses: integers past 64 bits, NaN, Infinity
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


RAW = st.one_of(st.binary(max_size=40), st.sampled_from([
    b"", b"null", b"[]", b"{", b'{"model_id": NaN}', b"\xef\xbb\xbf{}", b"\xff\xfe",
    b'{"a": 1}\n{"b": 2}', b"[" * 1000, b'"' * 3]))
MESSAGE = st.one_of(events(), events(), events(), events(), RAW)


def good(i: int) -> bytes:
    """A plain valid event, so that windows close and detectors run among the hostile ones."""
    return orjson.dumps({"model_id": "m", "timestamp": T0 + i, "features": {"x": float(i % 17)},
                         "prediction": (i % 10) / 10, "decision": "yes" if i % 3 else "no",
                         "segments": {"region": "nsew"[i % 4]}})


@pytest.mark.filterwarnings("error::RuntimeWarning")
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(MESSAGE, min_size=1, max_size=40), st.lists(st.integers(0, 3000), max_size=6),
       st.integers(0, 1500), st.sampled_from(["auto", "60s", 200]))
def test_no_message_crashes_the_engine(hostile: list[bytes], cuts: list[int], at: int,
                                       window: str | int) -> None:
    """Any messages, anywhere in any batch: no exception; read = valid + late + dead letters."""
    messages = [good(i) for i in range(3000)]
    for j, m in enumerate(hostile):
        messages.insert(min(at + 7 * j, len(messages)), m)
    engine = Engine(Config(window={"size": window}, detection={"min_samples": 20}))
    edges = [0, *sorted(set(c for c in cuts if 0 < c < len(messages))), len(messages)]
    dead = 0
    for a, b in itertools.pairwise(edges):
        out = engine.process(messages[a:b], np.arange(a, b))
        dead += sum(d.reason not in REPORTS for d in out.dead_letters)
    out = engine.finish()
    dead += sum(d.reason != "cardinality_overflow" for d in out.dead_letters)
    t = engine.totals
    assert t.read == len(messages)
    assert t.valid + dead == t.read


def test_the_names_that_crashed_the_warm_up_are_monitored() -> None:
    """'price per kg', an empty decision, 'überprüfen', a segment key 'Région': all monitored."""
    messages = [orjson.dumps({
        "model_id": "m", "timestamp": T0 + i, "prediction": (i % 10) / 10,
        "features": {"price per kg": float(i % 13), "Speed": float(i % 5), "speed": 1.0 * (i % 3)},
        "decision": "" if i % 2 else "überprüfen", "segments": {"Région": "nsew"[i % 4]}})
        for i in range(2000)]
    engine = Engine(Config(window={"size": "200s"}, detection={"min_samples": 20}))
    engine.process(messages, np.arange(len(messages)))
    engine.finish()
    by_signal: dict[str, list[str]] = {}
    for m in engine.monitors:
        by_signal.setdefault(m.cfg.signal, []).append(m.name)
    assert "feature:price per kg" in by_signal and "feature:Speed" in by_signal
    assert "decision=" in by_signal or "decision=überprüfen" in by_signal
    assert any(m.cfg.segment_by == "Région" for m in engine.monitors)
    names = [m.name for m in engine.monitors]
    assert len(names) == len(set(names)), "Speed and speed must not share a monitor name"
    assert engine.totals.windows > 0 and engine.totals.valid == len(messages)
