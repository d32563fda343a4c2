"""Ingest: accepted events into the sketches of their panes.

Per (pane, model) slice of a batch, one ``update`` per slot: monitors that read
the same sketch of the same signal share it (PSI and KS bin a feature once).
A model the reference has never seen gets no sketch: it is counted, not compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from driftline.decode import Batch, Decoder
from driftline.monitors import Monitor, values
from driftline.reference import Reference
from driftline.windows import Windows


def ingest(windows: Windows, monitors: Sequence[Monitor], batch: Batch, keys: np.ndarray,
           decoder: Decoder, reference: Reference) -> None:
    """Add ``batch`` (events already accepted, at window keys ``keys``) to its panes."""
    pane_ids = windows.pane_ids(keys)
    single = pane_ids[0] == pane_ids[-1] and (pane_ids == pane_ids[0]).all()
    slices = [(int(pane_ids[0]), None)] if single else \
        [(int(p), pane_ids == p) for p in np.unique(pane_ids)]
    for pane_id, mask in slices:
        rows = batch if mask is None else batch.take(mask)
        pane = windows.pane(pane_id)
        pane.note_last(keys if mask is None else keys[mask], rows.timestamp)
        pane.count += len(rows)
        pane.note_positions(rows.partitions, rows.positions)
        if rows.label_partition is not None and rows.label_position is not None:
            pane.note_labels(rows.label_partition, rows.label_position)
        pane.versions.update(int(v) for v in np.unique(rows.version) if v >= 0)
        models = np.unique(rows.model)
        for code in models:
            sub = rows if models.size == 1 else rows.take(rows.model == code)
            update_slots(pane.sketches, decoder.models.names[code], sub, monitors, decoder,
                         reference)


def update_slots(sketches: dict[tuple[str, str], Any], model: str, rows: Batch, monitors: Sequence[Monitor],
                 decoder: Decoder, reference: Reference) -> None:
    """Update each slot the monitors of ``model`` read, once."""
    done: set[str] = set()
    for m in monitors:
        if m.slot in done or not m.applies_to(model):
            continue
        done.add(m.slot)
        key = (model, m.slot)
        sk = sketches.get(key)
        if sk is None:
            ref = reference.sketch(model, m.slot)
            if ref is None:
                continue  # a model the reference has never seen: counted, not compared
            sk = sketches[key] = m.detector.new_sketch(ref)
        column = values(m, rows, decoder)
        segs = rows.segments[m.cfg.segment_by] if m.cfg.segment_by is not None else None
        if segs is not None and (segs < 0).any():
            keep = segs >= 0
            column, segs = column[keep], segs[keep]
        sk.update(column, segs)  # type: ignore[arg-type]  # the slot's kind matches its signal
