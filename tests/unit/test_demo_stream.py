"""The demo's label stream: the events unchanged, delayed labels, and a label-only failure.

Short scenarios, so each check runs in about a second; the full demo and its incidents are
tests/e2e/test_demo.py's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import orjson

from driftline import demo
from driftline.cli.demo import LabelFeed
from driftline.config import LabelFieldNames, load_config
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader
from driftline.labels.store import LabelStore

#: the concept drift in windows 2–3 of a 5-window stream, no other failure
SHORT = demo.Scenario(windows=5, warmup=1, region_start=99, region_end=99, concept_start=2,
                      concept_end=4, creep_start=99, unit_start=99, unit_end=99)
NO_DRIFT = dataclasses.replace(SHORT, concept_start=99)


def test_the_labelled_stream_has_the_events_of_the_stream() -> None:
    """Labels draw from their own generator: the events are byte for byte the unlabelled
    stream's (produce-demo, replays of demo events), and no drift touches them."""
    plain = [ms for _, ms in demo.stream(7, SHORT)]
    assert [ms for _, ms, _ in demo.labelled_stream(7, SHORT)] == plain
    assert [ms for _, ms, _ in demo.labelled_stream(7, NO_DRIFT)] == plain


def test_labels_are_delayed_and_some_never_come() -> None:
    """Every label names an event of its window and comes after it: minutes to hours
    (median ~40 min), and about a tenth of the predictions get none."""
    n = labelled = 0
    delays = []
    for _, messages, labels in demo.labelled_stream(7, NO_DRIFT):
        ts = {e["event_id"]: e["timestamp"] for e in map(orjson.loads, messages)}
        assert set(labels.event_ids) <= set(ts)
        delays += [t - ts[e] for e, t in zip(labels.event_ids, labels.timestamps, strict=True)]
        n, labelled = n + len(messages), labelled + len(labels.event_ids)
        assert set(labels.labels) == {"prioritize", "standard"}
    assert 0.87 < labelled / n < 0.93
    assert min(delays) > 0 and 30 * 60 < np.median(delays) < 50 * 60
    assert np.quantile(delays, 0.9) > 2 * 3600


def _errors(sc: demo.Scenario) -> dict[tuple[int, str], float]:
    """Error rate of the decisions against the labels, per (window, region)."""
    out: dict[tuple[int, str], list[bool]] = {}
    for w, messages, labels in demo.labelled_stream(7, sc):
        events = {e["event_id"]: e for e in map(orjson.loads, messages)}
        for eid, label in zip(labels.event_ids, labels.labels, strict=True):
            e = events[eid]
            out.setdefault((w, e["segments"]["region"]), []).append(e["decision"] != label)
    return {k: float(np.mean(v)) for k, v in out.items()}


def test_the_concept_drift_changes_the_east_labels_only() -> None:
    """During the drift only the east region's truth moves: its error rate rises by ten
    points or more, every other region's labels are the drift-free stream's."""
    drift, base = _errors(SHORT), _errors(NO_DRIFT)
    for (w, region), rate in drift.items():
        if region == "east" and SHORT.concept_start <= w < SHORT.concept_end:
            assert rate > base[(w, region)] + 0.10
        else:
            assert rate == base[(w, region)]
    assert max(base.values()) < 0.25  # the model is right ~80% of the time


def test_the_feed_stores_what_replay_would_read_from_its_lines(tmp_path: Path) -> None:
    """The demo puts rows in the store directly; they are the rows LabelReader makes of the
    label lines --labels-out writes (so replay --labels of that file joins the same)."""
    path = tmp_path / "labels.jsonl"
    config = load_config(demo_config())
    feed = LabelFeed.of(config, str(path))
    assert feed is not None
    _, _, labels = next(demo.labelled_stream(7, SHORT))
    feed.add(labels)
    direct = feed.join.store.lookup(np.array(sorted(
        k for k, *_ in LabelReader(LabelFieldNames(), 0.0, 1 << 20).rows(
            labels.lines(), range(len(labels.lines())))),
        np.int64))
    feed.close()
    reader = LabelReader(config.labels.fields, config.input.floor, config.input.max_message_bytes)
    replayed = LabelJoin(LabelStore(), 21600.0)
    replayed.load(path, reader)
    again = replayed.store.lookup(direct.keys)
    replayed.store.close()
    assert len(direct.keys) == len(labels.event_ids) and reader.invalid == {}
    assert (again.keys == direct.keys).all() and again.labels == direct.labels
    assert (again.times == direct.times).all()
    # and each label cites the line it has in the file
    assert (again.partitions == direct.partitions).all() and (direct.partitions == -1).all()
    assert (again.positions == direct.positions).all()


def test_the_label_only_failure_is_listed_only_with_labels() -> None:
    """Without labels nothing could show the concept drift, so the schedule omits it."""
    sc = demo.Scenario()
    names = [n for n, _, _ in sc.describe()]
    assert any(n.startswith("concept-drift") for n in names)
    assert not any(n.startswith("concept-drift") for n, _, _ in sc.describe(labels=False))
    spans = sorted((a, b) for _, a, b in sc.describe())
    (a, b), = [(a, b) for n, a, b in sc.describe() if n.startswith("concept-drift")]
    others = [(x, y) for x, y in spans if (x, y) != (a, b)]
    assert all(y <= a or x >= b for x, y in others)  # it overlaps no other failure


def demo_config() -> str:
    return str(Path(__file__).parents[2] / "configs" / "demo-labels.yaml")
