"""Two stages in process: ingest engines per partition, one evaluator, equal to one engine.

The demo stream (its failures early: a region, a unit, a decision mix) spread over P
partitions by event id — as a topic keyed by request id spreads it — goes through one
``IngestEngine`` per partition, batch by batch and partition by partition, their pane
summaries through JSON into one ``PaneEvaluator``. Its incidents must be those of one engine
over the whole stream: same CloudEvent ids, statistics (to 9 digits: floating sums in
another order), counts, versions and source positions per partition. One engine per
partition (today's ``run`` on such a topic) gives other incidents, which is why.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from synth import rounded

from driftline import demo
from driftline.config import Config, MonitorWindow, load_config
from driftline.engine import Engine
from driftline.errors import ConfigError, StateError
from driftline.stages import IngestEngine, PaneEvaluator

DEMO_CONFIG = Path(__file__).parents[2] / "configs" / "demo.yaml"
SHORT = demo.Scenario(windows=18, warmup=4, region_start=5, region_ramp=2, region_end=10,
                      unit_start=12, unit_end=14, creep_start=40)
BATCH = 700


@functools.cache
def demo_windows() -> tuple[list[bytes], ...]:
    return tuple(ms for _, ms in demo.stream(7, SHORT))


def hopping() -> Config:
    """The demo's config on hopping windows (10 min every 5), and one monitor on windows of
    its own (15 min): three panes to a window, and a second window group."""
    cfg = load_config(DEMO_CONFIG)
    own = cfg.monitors[0].model_copy(update={"name": cfg.monitors[0].name + "-15m",
                                             "window": MonitorWindow(size="15m")})
    return cfg.model_copy(update={
        "window": cfg.window.model_copy(update={"size": "10m", "hop": "5m"}),
        "monitors": [*cfg.monitors, own]})


CONFIGS = {"demo": lambda: load_config(DEMO_CONFIG), "hopping": hopping}


def reference() -> list[bytes]:
    return [m for ms in demo_windows()[:SHORT.warmup] for m in ms]


def stream() -> list[bytes]:
    return [m for ms in demo_windows()[SHORT.warmup:] for m in ms]


def partition_of(message: bytes, partitions: int) -> int:
    eid = orjson.loads(message)["event_id"].encode()
    return int.from_bytes(hashlib.blake2b(eid, digest_size=4).digest(), "big") % partitions


def spread(messages: list[bytes], partitions: int) -> list[list[tuple[int, bytes]]]:
    """Each partition's (offset, message), in the stream's order."""
    parts: list[list[tuple[int, bytes]]] = [[] for _ in range(partitions)]
    for m in messages:
        p = parts[partition_of(m, partitions)]
        p.append((len(p), m))
    return parts


def one_engine(parts: list[list[tuple[int, bytes]]], config: str = "demo",
               ) -> list[dict[str, Any]]:
    """One engine over every partition's events, in the stream's time order."""
    rows = sorted(((orjson.loads(m)["timestamp"], p, o, m) for p, part in enumerate(parts)
                   for o, m in part), key=lambda r: (r[0], r[1], r[2]))
    e = Engine(CONFIGS[config](), reference_events=reference())
    out: list[dict[str, Any]] = []
    for i in range(0, len(rows), BATCH):
        chunk = rows[i:i + BATCH]
        out += e.process([r[3] for r in chunk], np.array([r[2] for r in chunk]),
                         np.array([r[1] for r in chunk])).incidents
    return out + e.finish().incidents


def two_stages(parts: list[list[tuple[int, bytes]]], restart_at: int | None = None,
               config_name: str = "demo") -> list[dict[str, Any]]:
    """Ingest engines and an evaluator; ``restart_at``: the evaluator checkpointed after
    that many rounds, and a new one restored from it goes on."""
    config = CONFIGS[config_name]()
    ingest = [IngestEngine(config, reference_events=reference()) for _ in parts]
    evaluator = PaneEvaluator(config, range(len(parts)), reference_events=reference())
    out: list[dict[str, Any]] = []
    longest = max(len(part) for part in parts)
    for n, i in enumerate(range(0, longest, BATCH)):
        if n == restart_at:
            state = json.loads(json.dumps(evaluator.snapshot(), allow_nan=False))
            evaluator = PaneEvaluator(config, range(len(parts)), reference_events=reference())
            evaluator.restore(state)
        for p, part in enumerate(parts):
            chunk = part[i:i + BATCH]
            if not chunk:
                continue
            got = ingest[p].process([m for _, m in chunk], np.array([o for o, _ in chunk]),
                                    np.full(len(chunk), p))
            assert not got.incidents  # ingest judges nothing
            out += evaluator.add(p, json.loads(json.dumps(got.panes)), got.watermark).incidents
    finals = []
    for p, e in enumerate(ingest):
        end = e.finish()
        assert end.watermark is not None
        finals.append(end.watermark)
        out += evaluator.add(p, end.panes, end.watermark).incidents
    return out + evaluator.finish(finals).incidents


def by_id(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["id"]: rounded(e) for e in events}


@pytest.mark.parametrize(("partitions", "config"), [(1, "demo"), (4, "demo"), (3, "hopping")])
def test_two_stages_equal_one_engine_over_every_partition(partitions: int, config: str) -> None:
    parts = spread(stream(), partitions)
    want = by_id(one_engine(parts, config))
    got = by_id(two_stages(parts, config_name=config))
    assert len(want) >= 5, "the demo's failures must open incidents"
    assert got.keys() == want.keys()
    for key, event in want.items():
        assert got[key] == event
    if partitions > 1:
        cited = {p["partition"] for e in want.values() for p in e["data"]["source_positions"]}
        assert cited == set(range(partitions))


def test_an_evaluator_restored_from_its_checkpoint_goes_on_alike() -> None:
    parts = spread(stream(), 3)
    want = by_id(two_stages(parts))
    for restart_at in (3, 17):
        assert by_id(two_stages(parts, restart_at)) == want


def test_an_evaluator_refuses_a_checkpoint_of_other_sources() -> None:
    config = load_config(DEMO_CONFIG)
    state = PaneEvaluator(config, [0, 1], reference_events=reference()).snapshot()
    with pytest.raises(StateError, match="sources"):
        PaneEvaluator(config, [0, 1, 2], reference_events=reference()).restore(state)
    state["marks"]["0"] = float("nan")
    with pytest.raises(StateError):
        PaneEvaluator(config, [0, 1], reference_events=reference()).restore(state)


def test_one_engine_per_partition_does_not() -> None:
    """What the two stages are for: an engine per partition judges quarter-size samples."""
    parts = spread(stream(), 4)
    want = by_id(one_engine(parts))
    apart: list[dict[str, Any]] = []
    for p, part in enumerate(parts):
        e = Engine(load_config(DEMO_CONFIG), reference_events=reference())
        apart += e.process([m for _, m in part], np.array([o for o, _ in part]),
                           np.full(len(part), p)).incidents + e.finish().incidents
    assert by_id(apart).keys() != want.keys()


def test_a_sparse_partition_holds_every_window_and_says_so() -> None:
    """Three events on one partition (too few for a watermark): nothing closes before the
    end, the evaluator names the partition that holds it, and the end judges it all."""
    config = load_config(DEMO_CONFIG)
    parts = spread(stream(), 2)
    parts.append([(0, parts[0][0][1]), (1, parts[0][1][1]), (2, parts[0][2][1])])
    want = by_id(two_stages(parts))
    ingest = [IngestEngine(config, reference_events=reference()) for _ in parts]
    evaluator = PaneEvaluator(config, range(3), reference_events=reference())
    early = []
    for p, part in enumerate(parts):
        got = ingest[p].process([m for _, m in part], np.array([o for o, _ in part]),
                                np.full(len(part), p))
        early += evaluator.add(p, got.panes, got.watermark).incidents
    assert early == []
    assert evaluator.holding() == (-np.inf, [2])
    ends = [e.finish() for e in ingest]
    late = [i for p, end in enumerate(ends)
            for i in evaluator.add(p, end.panes, end.watermark).incidents]
    late += evaluator.finish([end.watermark for end in ends if end.watermark is not None]
                             ).incidents
    assert by_id(late) == want


def test_a_summary_after_its_windows_closed_is_counted_not_added() -> None:
    """By construction none comes (a source hands a pane on before its watermark passes
    it); one delivered twice, late, must not reopen a judged window silently."""
    config = load_config(DEMO_CONFIG)
    part = [m for _, m in spread(stream(), 1)[0]]
    ingest = IngestEngine(config, reference_events=reference())
    evaluator = PaneEvaluator(config, [0], reference_events=reference())
    first = ingest.process(part[:20_000])
    evaluator.add(0, first.panes, first.watermark)
    assert first.panes and evaluator.late == 0
    again = evaluator.add(0, first.panes[:3], None)
    assert evaluator.late == 3 and again.incidents == []
    with pytest.raises(ValueError, match="source 5"):
        evaluator.add(5, [], None)


def test_two_stages_refuse_what_they_cannot_share() -> None:
    config = load_config(DEMO_CONFIG)
    with pytest.raises(ConfigError, match="reference up front"):
        IngestEngine(config)
    with pytest.raises(ConfigError, match="set size"):
        PaneEvaluator(config.model_copy(update={"window": config.window.model_copy(
            update={"size": "auto"})}), [0], reference_events=reference())
