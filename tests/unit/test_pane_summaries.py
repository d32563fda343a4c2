"""Pane summaries by name: the panes of every partition, summed by name, are the pane of all.

Engines that read different parts of a stream (a topic keyed by event id) code segment
values, categories and decisions in the order each met them. Summarized by name and absorbed
into one receiver, a model's panes must sum to what one engine that read every event built
— checked on every sketch kind the zero-config preset makes with labels (quantile, score and
decision histograms, count tables of categories and decisions, moments), compared by name.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.config import Config
from driftline.detectors.sketches import (
    CountTable,
    DecisionHistogram,
    Moments,
    QuantileHistogram,
    ScoreHistogram,
)
from driftline.engine import Engine
from driftline.errors import StateError
from driftline.pane_summaries import PaneSummary, absorb, axes, relabel, summarize
from driftline.windows.panes import Pane

T0 = 1_770_962_400.0
REGIONS = [f"region-{i:02d}" for i in range(12)]
CHANNELS = ["app", "web", "phone", "partner", "kiosk", "mail"]
DECISIONS = ["prioritize", "standard", "hold"]


def events(n: int, start: float, seed: int, regions: int = 12, channels: int = 6,
           decisions: int = 3) -> list[bytes]:
    """Two models, a region, a channel, decisions and inline labels; of the regions, channels
    and decisions, the first ``regions``, ``channels``, ``decisions``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x = float(rng.normal())
        p = float(1 / (1 + math.exp(-x)))
        decision = DECISIONS[int(rng.integers(decisions))] if rng.random() < 0.3 else \
            ("prioritize" if p >= 0.5 else "standard")
        out.append(orjson.dumps({
            "event_id": f"e{seed}-{i}", "model_id": "a" if rng.random() < 0.6 else "b",
            "model_version": f"v{int(rng.integers(3))}", "timestamp": start + i * 0.5,
            "features": {"x": x, "channel": CHANNELS[int(rng.integers(channels))]},
            "prediction": p, "decision": decision,
            "segments": {"region": REGIONS[int(rng.integers(regions))]},
            "label": DECISIONS[int(rng.integers(2))] if rng.random() < 0.8 else decision}))
    return out


#: the reference knows half the regions and channels and two decisions: each engine codes the
#: rest in the order it meets them
REFERENCE = events(3000, T0 - 7200, seed=1, regions=6, channels=3, decisions=2)
STREAM = events(4000, T0, seed=2)  # 2000 s: panes of 20 min in windows of 1 h, none closes


def engine() -> Engine:
    cfg = Config(labels={"enabled": True}, window={"size": "1h", "hop": "20m"},
                 detection={"min_samples": 10})
    return Engine(cfg, reference_events=list(REFERENCE))


def open_panes(e: Engine) -> dict[tuple[str, int], Pane]:
    return {(g.key, p): pane for g in e.windowing for p, pane in g.windows.panes.items()}


def by_name(e: Engine, panes: dict[tuple[str, int], Pane]) -> dict[Any, Any]:
    """Every count of every model's panes, keyed by names (what codes mean), not codes."""
    assert e.decoder is not None
    out: dict[Any, Any] = {}
    for (group, pane_id), pane in panes.items():
        for model in sorted(pane.models):
            s = summarize(pane, pane_id, group, model, e.decoder, e.monitors)
            f = s.facts
            out[(group, pane_id, model, "facts")] = (f.count, sorted(s.versions), f.positions,
                                                     f.last)
            for slot, sl in s.slots.items():
                out[(group, pane_id, model, slot)] = cells(sl.sketch, sl.rows, sl.cols)
    return out


def cells(sk: Any, rows: list[str] | None, cols: list[str] | None) -> dict[Any, Any]:
    """A sketch's non-zero cells by (row name, column name or index)."""
    arrays = {"data": sk.data} if isinstance(sk, Moments) else {"counts": sk.counts}
    if isinstance(sk, ScoreHistogram):
        arrays["sums"] = sk.sums
    out = {}
    for what, a in arrays.items():
        block = 3 * sk.bins if isinstance(sk, DecisionHistogram) else 1
        for (i, j), v in np.ndenumerate(a):
            if v == 0:
                continue
            r = rows[i] if rows is not None else i
            c = (cols[j // block], j % block) if cols is not None and what == "counts" else j
            out[(what, r, c)] = round(float(v), 6)
    return out


def split_and_merge(assign: list[int], parts: int,
                    ) -> tuple[dict[Any, Any], dict[Any, Any], list[tuple[str, ...]]]:
    """One engine over the stream; ``parts`` engines over its parts (event i to part
    ``assign[i]``), their panes summarized, read back from JSON and absorbed into a receiver:
    both by name, and each engine's order of the region codes."""
    whole = engine()
    whole.process(list(STREAM), np.arange(len(STREAM)), np.zeros(len(STREAM), np.int64))
    engines = [engine() for _ in range(parts)]
    for k, e in enumerate(engines):
        idx = [i for i, a in enumerate(assign) if a == k]
        if idx:
            e.process([STREAM[i] for i in idx], np.asarray(idx), np.zeros(len(idx), np.int64))
    receiver = engine()
    receiver.prepare(list(REFERENCE))
    assert receiver.decoder is not None and receiver.reference is not None
    merged: dict[tuple[str, int], Pane] = {}
    for e in engines:
        if e.decoder is None:
            continue
        for (group, pane_id), pane in open_panes(e).items():
            for model in pane.models:
                record = summarize(pane, pane_id, group, model, e.decoder, e.monitors).to_json()
                s = PaneSummary.from_json(json.loads(json.dumps(record)))
                got = absorb(s, receiver.decoder, receiver.monitors, receiver.reference)
                key = (s.group, s.pane)
                merged[key] = got if key not in merged else merged[key].merge(got)
    orders = [tuple(e.decoder.segment_values["region"].names) for e in [*engines, receiver]
              if e.decoder is not None]
    return by_name(whole, open_panes(whole)), by_name(receiver, merged), orders


def test_every_sketch_kind_is_covered() -> None:
    e = engine()
    e.process(list(STREAM[:2000]))
    kinds = {type(sk) for pane in open_panes(e).values() for sk in pane.sketches.values()}
    assert kinds == {QuantileHistogram, CountTable, Moments, ScoreHistogram, DecisionHistogram}
    assert e.decoder is not None
    named = {(axes(m, e.decoder)[0] is not None, axes(m, e.decoder)[1] is not None)
             for m in e.monitors}
    assert named == {(False, False), (True, False), (False, True), (True, True)}


@settings(max_examples=6, deadline=None)
@given(st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_the_summaries_of_every_part_sum_to_the_pane_of_all_events(parts: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    whole, merged, orders = split_and_merge(rng.integers(0, parts, len(STREAM)).tolist(),
                                            parts)
    assert merged.keys() == whole.keys()
    for key, want in whole.items():
        assert merged[key] == want, key
    assert len(set(orders)) > 1, "every engine coded the regions alike: nothing was remapped"


def test_a_split_by_model_sums_too() -> None:
    """One part holds all of model a, the other model b: each model's panes come from one."""
    assign = [0 if orjson.loads(m)["model_id"] == "a" else 1 for m in STREAM]
    whole, merged, _ = split_and_merge(assign, 2)
    assert merged == whole


def test_relabel_moves_rows_and_columns_and_adds_what_meets() -> None:
    t = CountTable(np.array([[1, 2, 3], [4, 5, 6]], np.int64))
    got = relabel(t, np.array([1, 0]), np.array([2, 0, 2]))
    assert got.counts.tolist() == [[5, 0, 10], [2, 0, 4]]
    d = DecisionHistogram(np.array([0.5]))  # 3 bins, a decision's block is 9 columns
    d.update(np.array([[0.2, 0.0, 1.0], [0.7, 1.0, 0.0], [0.9, 1.0, np.nan]]))
    moved = relabel(d, None, np.array([1, 0]))
    assert moved.cells(None)[0, :, 0].tolist() == d.cells(None)[0, :, 1].tolist()
    assert moved.cells(None)[0, :, 1].tolist() == d.cells(None)[0, :, 0].tolist()


@pytest.mark.parametrize("fault", ["format", "names_short", "names_twice", "no_monitor",
                                   "axes", "edges", "counts"])
def test_a_summary_that_does_not_fit_is_refused(fault: str) -> None:
    e = engine()
    e.process(list(STREAM[:2000]))
    assert e.decoder is not None and e.reference is not None
    (group, pane_id), pane = next(iter(open_panes(e).items()))
    record = summarize(pane, pane_id, group, "a", e.decoder, e.monitors).to_json()
    seg = next(s for s, v in record["slots"].items() if v["rows"] and v["cols"])
    hist = next(s for s, v in record["slots"].items() if "edges" in v["sketch"])
    if fault == "format":
        record["format"] = "driftline.pane/0"
    elif fault == "names_short":
        record["slots"][seg]["rows"] = record["slots"][seg]["rows"][:1]
    elif fault == "names_twice":
        record["slots"][seg]["cols"][1] = record["slots"][seg]["cols"][0]
    elif fault == "no_monitor":
        record["slots"]['["feature:nope",null,"psi"]'] = record["slots"][hist]
    elif fault == "axes":
        record["slots"][seg]["cols"] = None
    elif fault == "edges":
        record["slots"][hist]["sketch"]["edges"][0] -= 1e-3
    else:
        record["slots"][seg]["sketch"]["counts"][0][0] = -1
    with pytest.raises(StateError):
        absorb(PaneSummary.from_json(record), e.decoder, e.monitors, e.reference)


def test_an_empty_first_row_needs_no_name() -> None:
    """A segmented count table before any segment value: one row of zeros, no names."""
    e = engine()
    e.process(list(STREAM[:2000]))
    assert e.decoder is not None and e.reference is not None
    (group, pane_id), pane = next(iter(open_panes(e).items()))
    record = summarize(pane, pane_id, group, "a", e.decoder, e.monitors).to_json()
    seg = next(s for s, v in record["slots"].items()
               if v["rows"] and v["sketch"]["kind"] == "count_table")
    record["slots"][seg]["rows"] = []
    record["slots"][seg]["sketch"]["counts"] = [[0]]
    got = absorb(PaneSummary.from_json(record), e.decoder, e.monitors, e.reference)
    assert got.sketches[("a", seg)].total == 0
