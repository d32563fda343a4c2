"""The labels layer end to end through the engine: a label-only change is caught by the
performance monitors alone, a clean labelled stream raises nothing, labels that stop coming
blind the performance monitors (a coverage incident), labels that never join are said."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from labelled import Labelled, classification, crowding, ranked, regression
from sklearn.metrics import roc_auc_score

from driftline.config import Config, LabelFieldNames
from driftline.engine import Engine
from driftline.errors import StateError
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader
from driftline.labels.store import LabelStore

PERFORMANCE = ("error-rate", "precision", "recall", "gradual-error", "auc", "calibration",
               "estimated-error-rate",
               "mae", "rmse", "gradual-abs-error")
REF_START = 1_770_962_400.0 - 86_400  # the reference: the day before


def labelled_config() -> Config:
    """The labels layer on, 1-minute windows, and min_samples low enough for the per-region
    tests of these streams."""
    return Config.model_validate({"labels": {"enabled": True}, "window": {"size": "1m"},
                                  "detection": {"min_samples": 100}})


def run(stream: Labelled, reference: Labelled, tmp_path: Path, *, labels: list[bytes] | None = None,
        fields: LabelFieldNames | None = None) -> tuple[list[dict[str, Any]], list[str], Engine]:
    # 1500 events a minute: a region's positives per window are ~190, so the per-segment
    # tests need min_samples below the default 200 (else: insufficient, as coverage says)
    config = labelled_config()
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"\n".join(reference.labels + (stream.labels if labels is None else labels))
                     + b"\n")
    join = LabelJoin(LabelStore(tmp_path / "s.sqlite"), 7 * 86_400)
    join.load(path, LabelReader(fields or LabelFieldNames(), config.input.floor, 65536))
    engine = Engine(config, reference_events=reference.events, labels=join)
    events, notices = [], []
    for i in range(0, len(stream.events), 2500):
        out = engine.process(stream.events[i:i + 2500])
        events += out.incidents
        notices += out.notices
    out = engine.finish()
    return events + out.incidents, notices + out.notices, engine


def opened(events: list[dict[str, Any]]) -> set[tuple[str, str | None]]:
    return {(e["data"]["monitor"], (e["data"].get("segment") or {}).get("region"))
            for e in events if e["type"].endswith(".opened")}


def is_performance(monitor: str) -> bool:
    return monitor.startswith(PERFORMANCE) or monitor.startswith(
        ("error-rate-by-", "equal-opportunity-by-", "auc-by-", "mae-by-", "precision-by-",
         "recall-by-"))


def test_a_label_only_change_opens_only_performance_incidents(tmp_path: Path) -> None:
    """Features and decisions unchanged, the south's decisions turn wrong: the performance
    monitors see it (the south's error rate, its equal opportunity), nothing else opens."""
    ref = classification(1, 16_000, seed=1, size=3600, prefix="r", start=REF_START)
    stream = classification(10, 1500, seed=2, drift_from=5)
    events, _, engine = run(stream, ref, tmp_path)
    got = opened(events)
    assert ("error-rate-by-region", "south") in got
    assert all(is_performance(m) for m, _ in got), got
    assert engine.labels is not None and engine.labels.counts["joined"] == 15_000
    # a concept drift: the estimate (which assumes P(label | score, decision) unchanged)
    # cannot see it, by design, and says nothing
    assert not {m for m, _ in got if m.startswith("estimated-")}, got


def test_a_clean_labelled_stream_raises_nothing(tmp_path: Path) -> None:
    """Same error rate everywhere as in the reference: no incident at all (no false alarm)."""
    ref = classification(1, 16_000, seed=3, size=3600, prefix="r", start=REF_START)
    events, notices, engine = run(classification(10, 1500, seed=4), ref, tmp_path)
    assert opened(events) == set()
    assert notices == []
    cov = engine.detection.coverage.summary()["monitors"]
    assert cov["error-rate"]["evaluated"] == 10 and cov["error-rate"]["insufficient"] == 0
    sample = engine.metrics.registry.get_sample_value
    assert sample("driftline_labels_total", {"outcome": "joined"}) == 15_000
    assert sample("driftline_labelled_ratio") == 1.0
    assert sample("driftline_label_delay_seconds", {"quantile": "p50"}) is not None


def blind(events: list[dict[str, Any]], monitor: str = "coverage-labels") -> dict[str, Any]:
    """The monitors of the first coverage incident opened (by default the performance
    layer's, ``coverage-labels``), with their outcomes."""
    first = next(e for e in events if e["type"].endswith(".opened")
                 and e["data"]["monitor"] == monitor)
    monitors: dict[str, Any] = first["data"]["evidence"]["details"]["monitors"]
    return monitors


def test_labels_that_thin_out_make_the_performance_monitors_insufficient(tmp_path: Path,
                                                                         ) -> None:
    """After four windows one label in 20 comes: the performance monitors are insufficient
    (too few labelled events), a coverage incident names them; the rest go on evaluating."""
    ref = classification(1, 16_000, seed=5, size=3600, prefix="r", start=REF_START)
    stream = classification(10, 1500, seed=6)
    labels = stream.labels[:4 * 1500] + stream.labels[4 * 1500::20]
    events, _, engine = run(stream, ref, tmp_path, labels=labels)
    cov = engine.detection.coverage.summary()["monitors"]
    assert cov["error-rate"]["insufficient"] == 6 and cov["error-rate"]["evaluated"] == 4
    for name in ("auc", "calibration"):  # 75 labelled events a window: below min_samples
        assert cov[name]["insufficient"] == 6 and cov[name]["evaluated"] == 4, name
    assert cov["psi-x"]["evaluated"] == 10
    assert engine.labels is not None
    shares = [w["labelled_share"] for w in engine.labels.by_window()]
    assert shares[:4] == [1.0] * 4 and all(s == round(75 / 1500, 6) for s in shares[4:])
    outcomes = blind(events)
    assert outcomes["error-rate"]["outcome"] == "insufficient"
    assert not any(m.startswith(("psi-", "ks-", "chi2-")) for m in outcomes)


def test_labels_that_stop_coming_blind_the_performance_monitors(tmp_path: Path) -> None:
    """No label at all after four windows: the performance signal is absent (no_events),
    and a coverage incident names the performance monitors."""
    ref = classification(1, 16_000, seed=5, size=3600, prefix="r", start=REF_START)
    stream = classification(10, 1500, seed=6)
    events, _, engine = run(stream, ref, tmp_path, labels=stream.labels[:4 * 1500])
    cov = engine.detection.coverage.summary()["monitors"]
    assert cov["error-rate"]["no_events"] == 6
    assert {"error-rate", "recall", "precision"} <= set(blind(events))


def test_labels_that_never_join_are_said_loudly(tmp_path: Path) -> None:
    """The labels' id field named wrong: a warning, and the performance monitors blind."""
    ref = classification(1, 16_000, seed=7, size=3600, prefix="r", start=REF_START)
    events, notices, engine = run(classification(6, 1500, seed=8), ref, tmp_path,
                                  fields=LabelFieldNames(event_id="id"))
    assert any("none joined" in n for n in notices), notices
    assert engine.labels is not None and engine.labels.summary()["labelled"] == 0
    assert any(e["data"]["monitor"] == "coverage-labels" for e in events
               if e["type"].endswith(".opened"))


def test_a_regression_streams_growing_error_opens_mae_and_rmse(tmp_path: Path) -> None:
    """Numeric labels: regression; the prediction noise doubles, MAE and RMSE open."""
    ref = regression(1, 12_000, seed=9, size=3600)
    ref.events = [e.replace(b'"event_id":"e', b'"event_id":"r') for e in ref.events]
    ref.labels = [lab.replace(b'"event_id":"e', b'"event_id":"r') for lab in ref.labels]
    events, _, engine = run(regression(8, 1500, seed=10, drift_from=4), ref, tmp_path)
    got = {m for m, _ in opened(events)}
    assert {"mae", "rmse"} <= got, got
    assert all(is_performance(m) for m in got), got
    assert engine.decoder is not None and engine.decoder.task == "regression"


def test_a_reference_without_labels_is_said_and_never_counts_as_evaluated(tmp_path: Path,
                                                                          ) -> None:
    """The stream's labels join but the reference's are missing: a warning, and the error
    rate is untestable (nothing to compare with), never a clean evaluation."""
    ref = classification(1, 16_000, seed=11, size=3600, prefix="r", start=REF_START)
    stream = classification(5, 1500, seed=12)
    ref.labels = []
    events, notices, engine = run(stream, ref, tmp_path)
    assert any("no reference event has a label" in n for n in notices), notices
    cov = engine.detection.coverage.summary()["monitors"]
    assert cov["error-rate"]["evaluated"] == 0 and cov["error-rate"]["untestable"] == 5
    assert cov["error-rate-by-region"]["evaluated"] == 0
    for name in ("auc", "calibration"):  # no class at all in the reference
        assert cov[name]["evaluated"] == 0 and cov[name]["untestable"] == 5, name
    assert cov["auc-by-region"]["evaluated"] == 0
    assert any(e["data"]["monitor"] == "coverage-labels" for e in events)


def test_inline_labels_alone_feed_the_performance_monitors(tmp_path: Path) -> None:
    """labels.enabled and labels in the events (reference ones too), no labels file: the
    label-only change is caught the same way."""
    config = labelled_config()
    ref = classification(1, 16_000, seed=13, size=3600, prefix="r", start=REF_START, inline=True)
    stream = classification(8, 1500, seed=14, drift_from=4, inline=True)
    engine = Engine(config, reference_events=ref.events)
    events = engine.process(stream.events).incidents + engine.finish().incidents
    assert ("error-rate-by-region", "south") in opened(events)
    assert all(is_performance(m) for m, _ in opened(events))
    assert engine.labels is not None and engine.labels.counts["inline"] == 12_000


def test_a_model_that_gets_better_opens_no_performance_incident(tmp_path: Path) -> None:
    """The south's decisions turn *right* (errors 30% → 5%): the error rate falls, precision
    and recall rise — good news, and one-sided monitors raise no incident for it; the same
    change the other way round (5% → 30%) does open them. Two exceptions, rightly: equal
    opportunity (the south's recall now outruns the other regions', a gap the reference had
    not) and calibration (the same scores now mean other outcome rates: a score of 0.6 is
    right 95% of the time — miscalibrated, if in the model's favour), overall and in the
    south only."""
    ref = classification(1, 16_000, seed=1, size=3600, prefix="r", start=REF_START, wrong=0.3)
    better = classification(10, 1500, seed=2, drift_from=5, wrong=0.3, drift_wrong=0.05)
    events, _, _ = run(better, ref, tmp_path)
    got = opened(events)
    assert not {m for m, _ in got if is_performance(m) and not m.startswith(
        ("calibration", "equal-opportunity-by-"))}, got
    assert {r for m, r in got if m == "calibration-by-region"} <= {"south"}
    assert {r for m, r in got if m.startswith("equal-opportunity-by-")} <= {"north", "east",
                                                                            "west"}
    ref = classification(1, 16_000, seed=1, size=3600, prefix="r", start=REF_START, wrong=0.05)
    worse = classification(10, 1500, seed=2, drift_from=5, wrong=0.05, drift_wrong=0.3)
    (tmp_path / "worse").mkdir()
    events, _, _ = run(worse, ref, tmp_path / "worse")
    assert ("error-rate-by-region", "south") in opened(events)


def test_inline_labels_survive_a_checkpoint_mid_stream() -> None:
    """`run` with inline labels restarts from Engine.snapshot(): the task, the positive class
    and the label vocabulary come back, so the restored engine raises exactly the incidents
    of one that never stopped."""
    import orjson

    ref = classification(1, 16_000, seed=1, size=3600, prefix="r", start=REF_START, inline=True)
    stream = classification(10, 1500, seed=2, drift_from=5, inline=True)
    config = labelled_config()

    def engine() -> Engine:
        return Engine(config, reference_events=ref.events)

    def feed(e: Engine, events: list[bytes]) -> list[dict[str, Any]]:
        return [ev for i in range(0, len(events), 2500)
                for ev in e.process(events[i:i + 2500]).incidents]

    whole = engine()
    expected = feed(whole, stream.events) + whole.finish().incidents
    first = engine()
    got = feed(first, stream.events[:7500])
    restored = engine()
    restored.restore(orjson.loads(orjson.dumps(first.snapshot())))
    got += feed(restored, stream.events[7500:]) + restored.finish().incidents
    assert ("error-rate-by-region", "south") in opened(expected)
    assert [e["id"] for e in got] == [e["id"] for e in expected]
    assert [e["data"]["evidence"] for e in got] == [e["data"]["evidence"] for e in expected]


def test_a_ranking_that_degrades_in_a_region_opens_its_auc_not_its_error_rate(
        tmp_path: Path) -> None:
    """The south's flips move from scores near the threshold to confident ones: the same error
    rate at the threshold, a worse ranking. auc-by-region opens for the south, no error rate
    does; the window's AUC is within its tie bound of sklearn's on the raw events."""
    ref = ranked(1, 16_000, seed=21, size=3600, prefix="r", start=REF_START)
    stream = ranked(8, 3000, seed=22, drift_from=4)
    events, _, engine = run(stream, ref, tmp_path)
    got = opened(events)
    assert ("auc-by-region", "south") in got
    assert not any(m.startswith("error-rate") for m, _ in got), got
    assert all(is_performance(m) for m, _ in got), got
    first = next(e["data"] for e in events if e["type"].endswith(".opened")
                 and e["data"]["monitor"] == "auc-by-region")
    d = first["evidence"]["details"]
    assert first["value"] <= -0.02 and d["test"] == "delong" and d["bins"] == 200
    # the raw events of that window and region, scored as the detector reads them
    w = int(first["window"]["start"][14:16])  # 1-minute windows from 06:00
    rows = [i for i in range(len(stream.times)) if i // 3000 == w and stream.region[i] == "south"]
    assert engine.decoder is not None
    y = np.array([stream.truth[i] == engine.decoder.positive for i in rows])
    exact = roc_auc_score(y, [stream.prediction[i] for i in rows])
    exact = 1 - exact if d["score_of"] == "other" else exact
    assert abs(d["current_auc"] - exact) <= d["tie_bound"]


def test_a_clean_ranked_stream_opens_no_auc(tmp_path: Path) -> None:
    """The same ranking as the reference everywhere: nothing opens, the AUC monitors evaluate
    every window."""
    ref = ranked(1, 16_000, seed=25, size=3600, prefix="r", start=REF_START)
    events, _, engine = run(ranked(8, 3000, seed=26), ref, tmp_path)
    assert opened(events) == set()
    cov = engine.detection.coverage.summary()["monitors"]
    assert cov["auc"]["evaluated"] == 8 and cov["auc-by-region"]["evaluated"] == 8
    assert cov["calibration"]["evaluated"] == 8


def test_a_labelled_engine_restored_from_json_judges_auc_alike(tmp_path: Path) -> None:
    """Snapshot mid-stream (score histograms in the panes), a JSON round trip validated on
    restore, then the rest: the same incidents as the uninterrupted run; a pane histogram
    whose edges are not the reference's is refused."""
    config = labelled_config()
    ref = ranked(1, 16_000, seed=31, size=3600, prefix="r", start=REF_START)
    stream = ranked(6, 3000, seed=32, drift_from=2)
    for i, lab in enumerate(ref.labels):  # inline labels: no labels file to share
        ref.events[i] = ref.events[i][:-1] + b',"label":' + lab.split(b'"label":')[1][:-1] \
            .split(b',"timestamp"')[0] + b"}"
    for i, lab in enumerate(stream.labels):
        stream.events[i] = stream.events[i][:-1] + b',"label":' + lab.split(b'"label":')[1] \
            .split(b',"timestamp"')[0] + b"}"

    def engine() -> Engine:
        return Engine(config, reference_events=ref.events)

    n, cut = len(stream.events), 7_700  # mid-window: open panes hold score histograms
    straight = engine()
    want = straight.process(stream.events, np.arange(n)).incidents + straight.finish().incidents
    assert ("auc-by-region", "south") in opened(want)
    first = engine()
    got = first.process(stream.events[:cut], np.arange(cut)).incidents
    state = json.loads(json.dumps(first.snapshot(), allow_nan=False))
    assert '"score_histogram"' in json.dumps(state["windows"])
    resumed = engine()
    resumed.restore(state)
    got += resumed.process(stream.events[cut:], np.arange(cut, n)).incidents
    got += resumed.finish().incidents
    assert got == want

    bad = json.loads(json.dumps(state))
    histograms = [sk for g in bad["windows"]["groups"].values()
                  for pane in g["windows"]["panes"].values()
                  for sk in pane["sketches"].values() if sk["kind"] == "score_histogram"]
    histograms[0]["edges"][0] -= 1.0  # still sorted, the right length: not the reference's
    with pytest.raises(StateError, match="bin edges differ"):
        engine().restore(bad)


def test_scores_that_crowd_the_threshold_open_the_estimate_before_any_label(
        tmp_path: Path) -> None:
    """A covariate shift in the south (scores crowd the threshold from window 4: more wrong
    decisions, the same P(wrong | score)) and no label after the reference: the realised
    error rates are blind (a coverage incident says so), the estimated error rate opens for
    the south — flagged as estimated — and its estimate is near the hidden truth."""
    ref = crowding(1, 16_000, seed=21, size=3600, prefix="r", start=REF_START)
    stream = crowding(10, 1500, seed=22, shift_from=4)
    events, _, _ = run(stream, ref, tmp_path, labels=[])
    got = opened(events)
    assert ("estimated-error-rate-by-region", "south") in got, got
    assert not {r for m, r in got if m == "estimated-error-rate-by-region"} - {"south"}, got
    assert "error-rate" in blind(events)
    first = next(e for e in events if e["type"].endswith(".opened")
                 and e["data"]["monitor"] == "estimated-error-rate-by-region")
    details = first["data"]["evidence"]["details"]
    assert details["estimated"] is True and details["labelled"] == 0
    window = first["data"]["window"]
    lo, hi = (datetime.fromisoformat(window[k]).timestamp() for k in ("start", "end"))
    truth = [t != d for t, d, r, ts in zip(stream.truth, stream.decision, stream.region,
                                           stream.times, strict=True)
             if r == "south" and lo <= ts < hi]
    assert abs(details["estimated_error_rate"] - float(np.mean(truth))) < 0.05


def test_one_engine_is_its_two_layers(tmp_path: Path) -> None:
    """The behaviour layer's engine and the performance layer's, each fed the whole stream,
    publish together exactly the incidents of one engine with every monitor: the same
    CloudEvents, but for the reference id (each hashes only its own monitors' sketches).
    This is what lets a Kafka run judge the performance layer later, with its own engine."""
    ref = classification(1, 16_000, seed=1, size=3600, prefix="r", start=REF_START)
    stream = classification(10, 1500, seed=2, drift_from=5)
    config = labelled_config()
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"\n".join(ref.labels + stream.labels) + b"\n")

    def incidents(layer: str | None) -> list[dict[str, Any]]:
        join = LabelJoin(LabelStore(tmp_path / f"{layer}.sqlite"), 7 * 86_400)
        join.load(path, LabelReader(LabelFieldNames(), config.input.floor, 65536))
        engine = Engine(config, reference_events=ref.events, labels=join, layer=layer)
        out = [e for i in range(0, len(stream.events), 2500)
               for e in engine.process(stream.events[i:i + 2500]).incidents]
        return out + engine.finish().incidents

    def plain(e: dict[str, Any]) -> dict[str, Any]:
        return {**e, "data": {**e["data"], "evidence": {
            k: v for k, v in e["data"]["evidence"].items() if k != "reference_id"}}}

    whole = incidents(None)
    parts = incidents("behaviour") + incidents("performance")
    assert {m for m, _ in opened(whole)} & {"error-rate-by-region", "coverage"} == {
        "error-rate-by-region"}
    assert sorted((plain(e) for e in parts), key=lambda e: e["id"]) == sorted(
        (plain(e) for e in whole), key=lambda e: e["id"])
    assert len(whole) > 0


def test_a_performance_incident_cites_the_labels_its_window_joined(tmp_path: Path) -> None:
    """Each performance incident names where its window's labels were read: the least and
    greatest line of the labels file that joined a prediction of that window, recounted here
    from the raw lines; every other incident cites no label."""
    ref = classification(1, 16_000, seed=1, size=3600, prefix="r", start=REF_START)
    stream = classification(10, 1500, seed=2, drift_from=5)
    events, _, _ = run(stream, ref, tmp_path)
    line_of = {json.loads(raw)["event_id"]: n
               for n, raw in enumerate(ref.labels + stream.labels, start=1)}
    label_ts = {json.loads(raw)["event_id"]: json.loads(raw)["timestamp"]
                for raw in ref.labels + stream.labels}
    times = {json.loads(raw)["event_id"]: t for raw, t in zip(stream.events, stream.times,
                                                               strict=True)}
    checked = 0
    for e in events:
        d = e["data"]
        if not is_performance(d["monitor"]) or d["detector"] == "coverage":
            assert d["label_positions"] == [], d["monitor"]
            continue
        lo, hi = (datetime.fromisoformat(d["window"][k]).timestamp() for k in ("start", "end"))
        lines = [line_of[i] for i, t in times.items() if lo <= t < hi and i in line_of
                 and abs(label_ts[i] - t) <= 7 * 86_400]
        cited = [{k: v for k, v in c.items() if v is not None} for c in d["label_positions"]]
        assert cited == [{"source": "memory", "first_offset": min(lines),
                          "last_offset": max(lines)}], d["monitor"]
        checked += 1
    assert checked >= 3


def test_the_cited_label_positions_survive_a_checkpoint(tmp_path: Path) -> None:
    """A snapshot mid-window (panes that have joined labels), a JSON round trip, the rest:
    the incidents cite the same label lines as the uninterrupted run's; a range whose first
    line is after its last is refused on restore."""
    ref = classification(1, 16_000, seed=1, size=3600, prefix="r", start=REF_START)
    stream = classification(8, 1500, seed=2, drift_from=4)
    config = labelled_config()
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"\n".join(ref.labels + stream.labels) + b"\n")

    def engine(name: str) -> Engine:
        join = LabelJoin(LabelStore(tmp_path / f"{name}.sqlite"), 7 * 86_400,
                         {"source": "file", "path": str(path)})
        join.load(path, LabelReader(LabelFieldNames(), config.input.floor, 65536))
        return Engine(config, reference_events=ref.events, labels=join)

    n, cut = len(stream.events), 6_700
    straight = engine("straight")
    want = straight.process(stream.events, np.arange(n)).incidents + straight.finish().incidents
    assert any(e["data"]["label_positions"] for e in want)
    first = engine("first")
    got = first.process(stream.events[:cut], np.arange(cut)).incidents
    state = json.loads(json.dumps(first.snapshot(), allow_nan=False))
    resumed = engine("resumed")
    resumed.restore(state)
    got += resumed.process(stream.events[cut:], np.arange(cut, n)).incidents
    assert got + resumed.finish().incidents == want

    facts = [f for g in state["windows"]["groups"].values()
             for pane in g["windows"]["panes"].values() for f in pane["models"].values()
             if f["label_positions"]]
    facts[0]["label_positions"]["-1"] = [9, 3]
    with pytest.raises(StateError, match="first <= last"):
        engine("bad").restore(state)
