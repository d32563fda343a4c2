"""The join: each prediction gets the label of its event id, if that label came in time.

**The rule** (event time, so a streaming run and a replay agree): a label counts for its
prediction when ``|label.timestamp − prediction.timestamp| ≤ labels.ttl`` (a label stamped a
little before its prediction is a skewed clock; one a TTL before it is not this prediction's);
another is counted as ``late`` and the prediction stays unlabelled. The prediction's window sees the
label (performance is per prediction window), which is final once the watermark has passed
window end + TTL — no label that counts can come later. A replay knows every label up front,
so it joins at once and gets what a streaming run gets by waiting that long.

A label inline in the event wins over the labels file's (``inline``); predictions without
either are ``unlabelled``; labels no prediction asked for are ``orphan`` (at the end). Two
predictions with one id both get its label (each by its own timestamp). Counts, the share
labelled and label delay quantiles go to the summary and to metrics, once per batch.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from driftline.config import LabelsConfig, WindowSpec, parse_duration
from driftline.decode import Batch, Decoder
from driftline.io.files import read_batches
from driftline.labels.lines import LabelReader, Row
from driftline.labels.store import LabelStore
from driftline.timestamps import iso

if TYPE_CHECKING:
    from driftline.metrics import Metrics

#: label outcomes (the ``outcome`` label of driftline_labels_total)
OUTCOMES = ("joined", "inline", "late", "unlabelled", "orphan", "invalid", "duplicate",
            "corrupt")
QUANTILES = (0.5, 0.9, 0.99)
WINDOWS_KEPT = 500  # per-window label shares kept (and shown in the summary): the latest
#: label delay histogram edges, seconds: 1 s to ~1 year, 4 per decade (quantiles to ~±30%)
DELAY_EDGES = np.concatenate([[0.0], np.logspace(0, 7.5, 31)])


class LabelJoin:
    """The labels store and the join's counts."""

    def __init__(self, store: LabelStore, ttl: float,
                 origin: dict[str, Any] | None = None) -> None:
        self.store, self.ttl = store, ttl
        #: where the labels come from, as an incident's ``label_positions`` name it (the
        #: positions follow: a partition's offsets, or a file's lines): the caller's to say
        self.origin: dict[str, Any] = origin or {"source": "memory"}
        self.counts: Counter[str] = Counter()
        self.invalid: Counter[str] = Counter()
        self.delays = np.zeros(DELAY_EDGES.size, np.int64)  # last bin: beyond the last edge
        self.files = 0
        #: time windows (start → [predictions, labelled]), the latest WINDOWS_KEPT of them
        self.windows: dict[float, list[int]] = {}
        self.window_size: float | None = None

    def load(self, path: str | Path, reader: LabelReader, batch_size: int = 10_000) -> None:
        """Every label of a labels file into the store (bounded memory: a batch at a time)."""
        for lines, numbers in read_batches(path, batch_size, max_bytes=reader.max_bytes):
            self.add(reader.rows(lines, numbers.tolist()))
        self.invalid += reader.invalid
        self.counts["invalid"] = sum(self.invalid.values())
        self.files += 1

    def add(self, rows: list[Row]) -> None:
        """Valid labels into the store: a labels file's batch, or the demo's label stream."""
        self.counts["duplicate"] += self.store.add(rows)

    def join(self, batch: Batch, decoder: Decoder, tally: bool = True,
             ) -> tuple[Batch, Counter[str]]:
        """``batch`` with the labels that count; and this batch's counts by outcome (added to
        the totals unless ``tally`` is off: reference events are not predictions watched)."""
        if not batch.labelled or not len(batch):
            return batch, Counter()
        assert batch.event_key is not None and batch.label is not None
        assert batch.label_value is not None
        inline = batch.label >= 0
        key = batch.event_key
        found = self.store.lookup(np.unique(key[key != 0]))
        at, hit = _positions(found.keys, key)
        delay = np.where(hit, found.times[at] if hit.any() else 0.0, np.nan) - batch.timestamp
        with np.errstate(invalid="ignore"):
            on_time = hit & ~inline & (np.abs(delay) <= self.ttl)
            late = hit & ~inline & (np.abs(delay) > self.ttl)
        label, value = batch.label.copy(), batch.label_value.copy()
        part, pos = np.full(len(batch), -1, np.int64), np.full(len(batch), -1, np.int64)
        if on_time.any():
            texts = pa.array([found.labels[i] for i in at[on_time]], pa.string())
            label[on_time] = decoder.labels.encode(texts)[0]
            value[on_time] = found.values[at[on_time]]
            part[on_time], pos[on_time] = found.partitions[at[on_time]], found.positions[at[on_time]]
            if tally:
                self.delays += np.bincount(np.searchsorted(DELAY_EDGES, np.maximum(
                    delay[on_time], 0.0), side="right") - 1, minlength=DELAY_EDGES.size)
        counts = Counter({"joined": int(on_time.sum()), "inline": int(inline.sum()),
                          "late": int(late.sum()),
                          "unlabelled": int((~inline & ~on_time).sum())})
        if tally:
            self.counts += counts
            if self.window_size is not None:
                self._per_window(batch.timestamp, inline | on_time)
        return dataclasses.replace(batch, label=label, label_value=value, label_partition=part,
                                   label_position=pos), counts

    @classmethod
    def inline(cls, cfg: LabelsConfig) -> LabelJoin | None:
        """The join of a run without a labels file: inline labels only (None: layer off).
        Its store stays empty, so it is SQLite's in-memory one: no file to clean up."""
        return cls(LabelStore(":memory:"), parse_duration(cfg.ttl)) if cfg.enabled else None

    def absorb(self, batch: Batch, decoder: Decoder, metrics: Metrics,
               spec: WindowSpec | None = None) -> Batch:
        """``join`` on the hot path: the batch's counts to metrics, once; with time windows
        (``spec``), the share labelled per window too."""
        self.window_size = spec.size if spec is not None and spec.kind == "time" else None
        batch, counts = self.join(batch, decoder)
        if counts:
            metrics.count_labels(counts, self)
        return batch

    def finish(self, metrics: Metrics, decoder: Decoder | None = None) -> list[str]:
        """The input has ended: labels no prediction asked for are orphans; returns what a
        person must be told."""
        self.counts["orphan"] = self.store.unmatched()
        self.counts["corrupt"] = self.store.corrupt
        metrics.count_labels({k: self.counts[k] for k in ("orphan", "corrupt")}, self)
        unreferenced = [] if decoder is None or decoder.task is not None else [
            "no reference event has a label: the performance monitors have no reference "
            "performance to compare with (label the reference events, inline or in the "
            "labels file)"]
        return self.warnings() + unreferenced

    def delay_quantiles(self) -> dict[str, float | None]:
        """Label delay quantiles of the joined labels (histogram upper edges, seconds)."""
        total = int(self.delays.sum())
        out: dict[str, float | None] = {}
        for q in QUANTILES:
            if not total:
                out[f"p{round(q * 100)}"] = None
                continue
            i = int(np.searchsorted(np.cumsum(self.delays), q * total))
            out[f"p{round(q * 100)}"] = float(DELAY_EDGES[min(i + 1, DELAY_EDGES.size - 1)])
        return out

    def _per_window(self, times: np.ndarray, labelled: np.ndarray) -> None:
        """Predictions and labelled ones per window (windows aligned on multiples of the
        size, as the engine's; with hopping windows, every size/hop-th window)."""
        assert self.window_size is not None
        starts, at = np.unique(np.floor(times / self.window_size) * self.window_size,
                               return_inverse=True)
        n, k = np.bincount(at), np.bincount(at, weights=labelled)
        for start, total, hit in zip(starts.tolist(), n.tolist(), k.tolist(), strict=True):
            cell = self.windows.setdefault(start, [0, 0])
            cell[0] += total
            cell[1] += int(hit)
        while len(self.windows) > WINDOWS_KEPT:
            del self.windows[min(self.windows)]

    def by_window(self) -> list[dict[str, Any]]:
        """The share labelled per time window (the latest ``WINDOWS_KEPT``), oldest first."""
        return [{"start": iso(start), "predictions": n, "labelled": k,
                 "labelled_share": round(k / n, 6)}
                for start, (n, k) in sorted(self.windows.items())]

    def labelled_share(self) -> float | None:
        """Share of the predictions so far that have a label that counts."""
        c = self.counts
        predictions = c["joined"] + c["inline"] + c["unlabelled"]
        return (c["joined"] + c["inline"]) / predictions if predictions else None

    def summary(self) -> dict[str, Any]:
        """The ``labels`` block of replay's summary."""
        c = self.counts
        share = self.labelled_share()
        return {"predictions": c["joined"] + c["inline"] + c["unlabelled"],
                "labelled": c["joined"] + c["inline"],
                "labelled_share": None if share is None else round(share, 6),
                **{k: c[k] for k in OUTCOMES if k not in ("unlabelled",)},
                "unlabelled": c["unlabelled"], "invalid_by_reason": dict(self.invalid),
                "stored": len(self.store), "ttl_seconds": self.ttl,
                "delay_seconds": self.delay_quantiles(), "by_window": self.by_window()}

    def warnings(self) -> list[str]:
        """What a person must hear: labels given, none joined (a wrong field name, ids that
        do not match, a TTL too short)."""
        c = self.counts
        if c["joined"] + c["inline"]:
            return []
        if self.files and (len(self.store) or c["invalid"]):
            return [f"labels were given but none joined a prediction ({len(self.store)} stored, "
                    f"{c['invalid']} invalid, {c['late']} late beyond the TTL): check "
                    "labels.fields and input.fields.event_id, and labels.ttl"]
        return ["the labels layer is on but no prediction has a label"]


def _positions(found: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each key, its index in the sorted ``found`` keys, and whether it is there."""
    if not found.size:
        return np.zeros(key.size, np.int64), np.zeros(key.size, bool)
    at = np.minimum(np.searchsorted(found, key), found.size - 1)
    return at, (key != 0) & (found[at] == key)
