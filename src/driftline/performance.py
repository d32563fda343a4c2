"""The performance layer's signals: labels joined to predictions, as columns monitors read.

Binary signals (0/1, −1 where the event does not count — unlabelled, or outside the rate's
population), read by the count detectors (``segment_rate``, ``disparate_impact``) and the
gradual detector:

- ``error``: the decision is not the label (classification; −1 without a label or a decision);
- ``recall``: among events whose label is the positive class, the decision is positive too
  (true-positive rate; per segment by ``disparate_impact`` it is equal opportunity);
- ``precision``: among events decided positive, the label is positive.

Numeric signals (NaN where unlabelled), read by ``mean_shift`` and ``gradual``: ``abs_error``
= |prediction − label| and ``squared_error`` (their means are MAE and MSE; RMSE is the root).

The scored signal ``score_label`` (read by ``auc`` and ``calibration``) is the one column that
carries the score and the label together, so one sketch ``update`` sees both: an (n, 2) float
array of (prediction, 1.0 if the label is the positive class, 0.0 if another, NaN unlabelled).

The estimated signal ``estimated_error`` (read by ``cbpe``, the error rate estimated before
labels come) is an (n, 3) float array of (prediction, decision code — −1 without a decision —,
``error`` as 1.0 / 0.0, NaN unlabelled): every event counts, labelled or not.

The task (classification or regression) and the positive class are decided once, from the
reference's labels (``decide``), and kept with the decoder's vocabularies.
"""

from __future__ import annotations

import numpy as np

from driftline.config import LabelsConfig
from driftline.decode import Batch, Decoder
from driftline.detectors.sketches import FloatArray, IntArray

BINARY = ("error", "precision", "recall")
#: what 0 and 1 of each binary signal are, for a person (explain's bars)
OUTCOME_NAMES = {"error": ("right", "wrong"), "precision": ("false positive", "true positive"),
                 "recall": ("false negative", "true positive")}
NUMERIC = ("abs_error", "squared_error")
SCORED = ("score_label",)
ESTIMATED = ("estimated_error",)
#: the positive class when the config names none and the labels hold one of these
DEFAULT_POSITIVE = ("true", "1")


def kind(signal: str) -> str | None:
    """'binary', 'numeric', 'scored' or 'estimated' for a performance signal, None for any
    other."""
    return "binary" if signal in BINARY else "numeric" if signal in NUMERIC else \
        "scored" if signal in SCORED else "estimated" if signal in ESTIMATED else None


def extract(signal: str, batch: Batch, decoder: Decoder) -> FloatArray | IntArray:
    """The signal's column (all −1 / NaN for a batch without the labels layer's columns)."""
    n = len(batch)
    if signal in ESTIMATED:
        error = extract("error", batch, decoder)
        wrong = np.where(error < 0, np.nan, error.astype(np.float64))
        out3: FloatArray = np.column_stack([batch.prediction, batch.decision, wrong])
        return out3
    if batch.label is None or batch.label_value is None:
        return np.full(n, -1, np.int64) if signal in BINARY else np.full(
            (n, 2) if signal in SCORED else n, np.nan)
    if signal in SCORED:
        pos_label = decoder.labels.index.get(decoder.positive or "", -2)
        y = np.where(batch.label < 0, np.nan, (batch.label == pos_label).astype(np.float64))
        scored: FloatArray = np.column_stack([batch.prediction, y])
        return scored
    if signal in NUMERIC:
        diff = batch.prediction - batch.label_value
        out: FloatArray = np.abs(diff) if signal == "abs_error" else diff * diff
        return out
    label, decision = batch.label, batch.decision
    if signal == "error":
        # the decision code of each label's text (-2: a label no decision ever was)
        as_decision = np.array([decoder.decisions.index.get(t, -2) for t in decoder.labels.names]
                               + [-2], np.int64)
        wrong = decision != as_decision[label]
        return np.where((label < 0) | (decision < 0), -1, wrong).astype(np.int64)
    pos = decoder.positive or ""
    pos_label, pos_decision = decoder.labels.index.get(pos, -2), decoder.decisions.index.get(pos, -2)
    if signal == "recall":
        return np.where((label == pos_label) & (decision >= 0), decision == pos_decision,
                        -1).astype(np.int64)
    return np.where((decision == pos_decision) & (label >= 0), label == pos_label,
                    -1).astype(np.int64)


def decide(cfg: LabelsConfig, batch: Batch, decoder: Decoder) -> tuple[str | None, str | None]:
    """(task, positive class) from the config, else from the reference's labels.

    Task: regression when every reference label is a number, classification when any is a
    string or a boolean (None: no reference event has a label). Positive class: the config's,
    else ``true``, else ``1``, else the least frequent reference label (the rarer class is
    the one precision and recall are usually asked about).
    """
    if batch.label is None or batch.label_value is None:
        return None, None
    has = batch.label >= 0
    task: str | None = cfg.task if cfg.task != "auto" else (
        None if not has.any() else
        "regression" if np.isfinite(batch.label_value[has]).all() else "classification")
    if task != "classification":
        return task, None
    if cfg.positive is not None:
        return task, cfg.positive
    for name in DEFAULT_POSITIVE:
        if name in decoder.labels.index:
            return task, name
    counts = np.bincount(batch.label[has], minlength=len(decoder.labels))
    seen = np.flatnonzero(counts)
    if not seen.size:
        return task, None
    return task, decoder.labels.names[int(seen[np.argmin(counts[seen])])]
