"""The performance signals are exact: on a window's raw data, error rate, precision and recall
equal scikit-learn's; MAE and RMSE equal them to float tolerance. Task and positive class are
decided from the reference's labels as documented."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pytest
from labelled import Labelled, classification, regression
from sklearn import metrics as skm

from driftline import performance
from driftline.config import LabelFieldNames, LabelsConfig
from driftline.decode import Batch, Decoder, Schema
from driftline.detectors import MeanShift, SegmentRate
from driftline.detectors.sketches import CountTable, Moments
from driftline.labels.join import LabelJoin
from driftline.labels.lines import LabelReader
from driftline.labels.store import LabelStore

SCHEMA = Schema(("x",), (), ("region",), labels=True)


def decoded(s: Labelled, tmp_path: Path) -> tuple[Decoder, Batch]:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"\n".join(s.labels) + b"\n")
    join = LabelJoin(LabelStore(tmp_path / "s.sqlite"), 7 * 86400)
    join.load(path, LabelReader(LabelFieldNames(), 946_684_800.0, 65536))
    d = Decoder(SCHEMA)
    batch, dead = d.decode(s.events)
    assert not dead
    return d, join.join(batch, d)[0]


def rate(signal: str, d: Decoder, batch: Batch, segments: np.ndarray | None = None,
         code: int | None = None) -> tuple[int, int]:
    """(successes, trials) of a binary signal as the segment_rate sketch counts them."""
    sketch = SegmentRate().fit(performance.extract(signal, batch, d), segments)
    assert isinstance(sketch, CountTable)
    row = sketch.row(code, 2)
    return int(row[1]), int(row.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_error_precision_recall_are_sklearns_exactly(seed: int, tmp_path: Path) -> None:
    """Counts-based metrics from the sketches equal sklearn's on the raw labels, to the bit."""
    s = classification(1, 3000, seed=seed, wrong=0.2)
    d, batch = decoded(s, tmp_path)
    d.task, d.positive = performance.decide(LabelsConfig(), batch, d)
    assert d.task == "classification"
    pos = d.positive
    assert pos is not None
    wrong, n = rate("error", d, batch)
    # accuracy as a count (normalize=False): 1 − accuracy would round differently
    assert n == 3000 and n - wrong == skm.accuracy_score(s.truth, s.decision, normalize=False)
    hits, n_dec = rate("precision", d, batch)
    assert hits / n_dec == skm.precision_score(s.truth, s.decision, pos_label=pos)
    found, n_pos = rate("recall", d, batch)
    assert found / n_pos == skm.recall_score(s.truth, s.decision, pos_label=pos)
    region = batch.segments["region"]
    for code, name in enumerate(d.segment_values["region"].names):
        rows = [i for i, r in enumerate(s.region) if r == name]
        w, m = rate("error", d, batch, region, code)
        assert m == len(rows) and m - w == skm.accuracy_score(
            [s.truth[i] for i in rows], [s.decision[i] for i in rows], normalize=False)
        f, p = rate("recall", d, batch, region, code)
        assert f / p == skm.recall_score([s.truth[i] for i in rows],
                                         [s.decision[i] for i in rows], pos_label=pos)


def test_mae_and_rmse_are_sklearns(tmp_path: Path) -> None:
    """MAE and RMSE from the moments equal sklearn's to float tolerance."""
    s = regression(1, 2000, seed=4)
    d, batch = decoded(s, tmp_path)
    assert performance.decide(LabelsConfig(), batch, d) == ("regression", None)
    truth = [float(t) for t in s.truth]
    det = MeanShift()
    for signal, want in (("abs_error", skm.mean_absolute_error(truth, s.prediction)),
                         ("squared_error", skm.mean_squared_error(truth, s.prediction))):
        sketch = det.fit(performance.extract(signal, batch, d), None)
        assert isinstance(sketch, Moments)
        assert math.isclose(sketch.stats(None)[1], want, rel_tol=1e-12)
    sketch = det.fit(performance.extract("squared_error", batch, d), None)
    mse = sketch.stats(None)[1]
    assert math.isclose(math.sqrt(mse), skm.root_mean_squared_error(truth, s.prediction),
                        rel_tol=1e-12)


def events_with(labels: list[object]) -> tuple[Decoder, Batch]:
    d = Decoder(SCHEMA)
    batch, dead = d.decode([orjson.dumps({"model_id": "m", "timestamp": 1_770_962_400,
                                          "features": {}, "prediction": 0.5, "label": v})
                            for v in labels])
    assert not dead
    return d, batch


@pytest.mark.parametrize(("labels", "cfg", "want"), [
    (["a", "b", "b"], {}, ("classification", "a")),  # the least frequent label
    ([True, False, False], {}, ("classification", "true")),
    ([1, 0, 0, 1], {}, ("regression", None)),  # numbers are regression unless configured
    ([1, 0, 0, 0], {"task": "classification"}, ("classification", "1")),
    (["a", "b"], {"positive": "b"}, ("classification", "b")),
    ([None, None], {}, (None, None)),  # no reference label: the task is unknown
    (["a", 2.5], {}, ("classification", "a")),  # any text: classification; a tie: first seen
])
def test_task_and_positive_class_from_the_reference(labels: list[object], cfg: dict[str, str],
                                                    want: tuple[str | None, str | None]) -> None:
    """The documented rules: numbers → regression, text/booleans → classification; the
    positive class: config, else true, else 1, else the least frequent label."""
    d, batch = events_with(labels)
    assert performance.decide(LabelsConfig(**cfg), batch, d) == want  # type: ignore[arg-type]


def test_signals_are_minus_one_without_a_label_or_a_decision() -> None:
    """An unlabelled event, or one without a decision, is outside every rate."""
    d = Decoder(SCHEMA)
    batch, _ = d.decode([orjson.dumps({"model_id": "m", "timestamp": 1_770_962_400,
                                       "features": {}, "prediction": 0.5, **extra})
                         for extra in ({"decision": "a"}, {"label": "a"},
                                       {"decision": "a", "label": "a"})])
    d.positive = "a"
    assert list(performance.extract("error", batch, d)) == [-1, -1, 0]
    assert list(performance.extract("recall", batch, d)) == [-1, -1, 1]
    assert list(performance.extract("precision", batch, d)) == [-1, -1, 1]
    assert np.isnan(performance.extract("abs_error", batch, d)).all()
