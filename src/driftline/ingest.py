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
        pane_keys = keys if mask is None else keys[mask]
        pane = windows.pane(pane_id)
        models = np.unique(rows.model)
        for code in models:
            one = None if models.size == 1 else rows.model == code
            sub = rows if one is None else rows.take(one)
            model = decoder.models.names[code]
            pane.facts_of(model).note(
                pane_keys if one is None else pane_keys[one], sub.timestamp, sub.version,
                sub.partitions, sub.positions, sub.label_partition, sub.label_position)
            update_slots(pane.sketches, model, sub, monitors, decoder, reference)


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
