"""A restored state's parts must agree with each other, not only each with its schema.

Codes in sketches index the decoder's vocabularies, sketches of a pane must have
the layout of the reference's, versions name versions the decoder knows. A state
whose parts disagree (written by hand, by another driftline, or corrupted in a
way its schema cannot see) is refused with a ``StateError`` before any of it is
used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from driftline.decode import Decoder
from driftline.detectors.sketches import (
    CountTable,
    DecisionHistogram,
    Moments,
    QuantileHistogram,
    ScoreHistogram,
    Sketch,
)
from driftline.errors import StateError
from driftline.monitors import Monitor
from driftline.reference import Reference
from driftline.windows import Windows
from driftline.windows.panes import LEGACY


def _width(m: Monitor, decoder: Decoder) -> int | None:
    """The most columns a count table of ``m`` can have (None: not a count table)."""
    if m.kind == "binary":
        return 2
    if m.kind == "volume":
        return 1
    if m.kind == "categorical":
        name = m.cfg.signal.removeprefix("feature:")
        vocab = decoder.decisions if m.cfg.signal == "decision" else decoder.categories.get(name)
        return len(vocab) if vocab is not None else 0
    return None


def _rows(m: Monitor, decoder: Decoder) -> int:
    if m.cfg.segment_by is None:
        return 1
    vocab = decoder.segment_values.get(m.cfg.segment_by)
    return max(1, len(vocab)) if vocab is not None else 1


def check_sketch(where: str, sk: Sketch, m: Monitor, decoder: Decoder,
                 like: Sketch | None) -> None:
    """``sk`` fits monitor ``m``'s slot, the decoder's vocabularies and, given, ``like``."""
    if like is not None and type(sk) is not type(like):
        raise StateError(f"{where}: a {type(sk).__name__} where the reference has a "
                         f"{type(like).__name__}")
    if isinstance(sk, QuantileHistogram | ScoreHistogram | DecisionHistogram):
        if isinstance(like, QuantileHistogram | ScoreHistogram | DecisionHistogram) \
                and not np.array_equal(sk.edges, like.edges):
            raise StateError(f"{where}: bin edges differ from the reference's")
        if isinstance(sk, DecisionHistogram) and sk.decisions > max(len(decoder.decisions), 1):
            raise StateError(f"{where}: {sk.decisions} decisions, the vocabulary has "
                             f"{len(decoder.decisions)}")
        rows = sk.counts.shape[0]
    elif isinstance(sk, CountTable):
        width = _width(m, decoder)
        if width is None or sk.counts.shape[1] > max(width, 1):
            raise StateError(f"{where}: {sk.counts.shape[1]} columns for a signal of "
                             f"{width} values")
        rows = sk.counts.shape[0]
    else:
        assert isinstance(sk, Moments)
        rows = sk.data.shape[0]
    if rows > _rows(m, decoder):
        raise StateError(f"{where}: {rows} segment rows, the vocabulary has {_rows(m, decoder)}")


def check(decoder: Decoder, reference: Reference | None, monitors: Sequence[Monitor],
          windows: Iterable[Windows]) -> None:
    """Every sketch of the reference and of every pane fits; every version is known."""
    by_slot = {m.slot: m for m in monitors}
    models = set(decoder.models.names)
    for model, slots in (reference.models.items() if reference else ()):
        for slot, sk in slots.items():
            m = by_slot.get(slot)
            if m is not None:
                check_sketch(f"reference {model} {slot}", sk, m, decoder, None)
    for w in windows:
        for pane_id, pane in w.panes.items():
            if any(v >= len(decoder.versions) for v in pane.versions):
                raise StateError(f"pane {pane_id}: a model version the decoder does not know")
            if set(pane.models) - models - {LEGACY}:
                raise StateError(f"pane {pane_id}: facts of a model the decoder does not know")
            for key, sk in pane.sketches.items():
                model, slot = key
                m = by_slot.get(slot)
                like = reference.sketch(model, slot) if reference else None
                if m is None or like is None or model not in models:
                    raise StateError(f"pane {pane_id}: a sketch {key!r} that no monitor reads")
                check_sketch(f"pane {pane_id} {key}", sk, m, decoder, like)
