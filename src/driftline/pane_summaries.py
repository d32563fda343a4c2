"""Pane summaries by name: one model's pane as another engine can add it to its own.

A pane's sketches count *codes*, and codes are each decoder's own: two engines that read
different partitions of a topic give a segment value or a category the code of its first
appearance in what each read. A summary therefore carries, beside each sketch, the names of
its coded axes — the segment values of its rows, and the categories (or decisions) of its
columns where the signal is categorical — and its model versions by name. The receiver
encodes the names into its own vocabularies and moves every count to its own codes: the
sum of the summaries of a model's pane from every partition is then the pane one engine
would have built from all of their events (counts exactly; floating sums — moments, score
sums — up to the order of the additions). Bin edges are not remapped: every engine must
build its sketches from the same reference (the caller checks them against its own, as a
checkpoint's are checked).

This is the record of the two-stage runtime's pane topic: ``to_json`` / ``from_json`` (a
strict, versioned schema, validated before use like every state driftline reads back).
Exact below the vocabulary caps: an engine past a cap counts new names as ``__other__``, and
which names those are depends on what it read first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from pydantic import Field

from driftline.coherence import check_sketch
from driftline.decode import Decoder
from driftline.decode.vocab import Vocabulary
from driftline.detectors.sketches import (
    CountTable,
    DecisionHistogram,
    IntArray,
    Moments,
    QuantileHistogram,
    ScoreHistogram,
    Sketch,
    sketch_from_state,
)
from driftline.errors import StateError
from driftline.monitors import Monitor
from driftline.reference import Reference
from driftline.state import FactsState, SketchState, State, validated
from driftline.windows.panes import Facts, Pane

FORMAT = "driftline.pane/1"


class NamedFactsState(FactsState):
    versions: list[str]  # type: ignore[assignment]  # names, not one decoder's codes


class SlotState(State):
    rows: list[str] | None
    cols: list[str] | None
    sketch: SketchState


class PaneSummaryState(State):
    format: Literal["driftline.pane/1"]
    model: str = Field(min_length=1)
    group: str
    pane: int
    facts: NamedFactsState
    slots: dict[str, SlotState]


@dataclass(frozen=True)
class SlotSummary:
    """One sketch, with the names of its coded axes (None: the axis is not coded)."""

    sketch: Sketch
    rows: list[str] | None
    cols: list[str] | None


@dataclass(frozen=True)
class PaneSummary:
    """One model's pane of one window group: its facts and sketches, by name."""

    model: str
    group: str
    pane: int
    facts: Facts
    versions: list[str]  # the facts' versions by name (``facts.versions`` is left empty)
    slots: dict[str, SlotSummary]

    def to_json(self) -> dict[str, Any]:
        facts = {**self.facts.snapshot(), "versions": list(self.versions)}
        return {"format": FORMAT, "model": self.model, "group": self.group, "pane": self.pane,
                "facts": facts,
                "slots": {slot: {"rows": s.rows, "cols": s.cols, "sketch": s.sketch.snapshot()}
                          for slot, s in sorted(self.slots.items())}}

    @classmethod
    def from_json(cls, data: Any) -> PaneSummary:
        """A summary from its JSON object, validated (``StateError`` says what is wrong)."""
        s = validated(PaneSummaryState, data, "pane summary")
        facts = replace(Facts.from_state(s.facts), versions=set())  # by name: ``versions``
        slots = {}
        for slot, st in s.slots.items():
            sk = sketch_from_state(st.sketch)
            _check_names(slot, sk, st.rows, st.cols)
            slots[slot] = SlotSummary(sk, st.rows, st.cols)
        return cls(s.model, s.group, s.pane, facts, list(s.facts.versions), slots)


def summarize(pane: Pane, pane_id: int, group: str, model: str, decoder: Decoder,
              monitors: Sequence[Monitor]) -> PaneSummary:
    """``model``'s part of ``pane`` (of window group ``group``), its codes named."""
    by_slot = {m.slot: m for m in monitors}
    slots = {}
    for (owner, slot), sk in pane.sketches.items():
        m = by_slot.get(slot)
        if owner != model or m is None:
            continue
        rows_vocab, cols_vocab = axes(m, decoder)
        rows = None if rows_vocab is None else rows_vocab.names[:_rows(sk)]
        cols = None if cols_vocab is None else cols_vocab.names[:_cols(sk)]
        slots[slot] = SlotSummary(sk, rows, cols)
    facts = pane.facts(model)
    versions = [decoder.versions.names[v] for v in sorted(facts.versions)]
    return PaneSummary(model, group, pane_id, replace(facts, versions=set()), versions, slots)


def absorb(summary: PaneSummary, decoder: Decoder, monitors: Sequence[Monitor],
           reference: Reference) -> Pane:
    """The summary as a pane in ``decoder``'s codes (its vocabularies grow by the names they
    lack), each sketch checked against the monitor that reads it and ``reference``'s layout:
    merge it into the receiver's pane of the same id. ``StateError``: it does not fit."""
    by_slot = {m.slot: m for m in monitors}
    sketches: dict[tuple[str, str], Sketch] = {}
    for slot, s in summary.slots.items():
        m = by_slot.get(slot)
        like = reference.sketch(summary.model, slot)
        if m is None or like is None:
            raise StateError(f"pane summary of {summary.model!r}: a sketch {slot!r} that no "
                             "monitor of this model reads")
        rows_vocab, cols_vocab = axes(m, decoder)
        if (rows_vocab is None) != (s.rows is None) or (cols_vocab is None) != (s.cols is None):
            raise StateError(f"pane summary of {summary.model!r}: slot {slot!r} names axes "
                             "its monitor does not code")
        sk = relabel(s.sketch, _codes(rows_vocab, s.rows), _codes(cols_vocab, s.cols))
        check_sketch(f"pane summary {summary.model!r} {slot!r}", sk, m, decoder, like)
        sketches[(summary.model, slot)] = sk
    facts = replace(summary.facts, versions={decoder.versions.code(v) for v in summary.versions},
                    positions=dict(summary.facts.positions),
                    label_positions=dict(summary.facts.label_positions))
    decoder.models.code(summary.model)
    return Pane(sketches, {summary.model: facts})


def axes(m: Monitor, decoder: Decoder) -> tuple[Vocabulary | None, Vocabulary | None]:
    """The vocabularies that code the rows and the columns of ``m``'s sketch (None: an axis
    of plain numbers — one row without segments, bins, 0/1 outcomes)."""
    rows = None if m.cfg.segment_by is None else decoder.segment_values[m.cfg.segment_by]
    cols: Vocabulary | None = None
    if m.kind == "categorical":
        name = m.cfg.signal.removeprefix("feature:")
        cols = decoder.decisions if m.cfg.signal == "decision" else decoder.categories[name]
    elif m.kind == "estimated":
        cols = decoder.decisions  # a decision histogram's blocks of cells
    return rows, cols


def relabel(sk: Sketch, rows: IntArray | None, cols: IntArray | None) -> Sketch:
    """``sk`` with row ``i`` moved to row ``rows[i]`` and coded column ``j`` to ``cols[j]``
    (None: kept); rows or columns that land on one code (an ``__other__``) add up."""
    if isinstance(sk, Moments):
        return Moments(_move_rows(sk.data, rows), sk.shift)
    if isinstance(sk, QuantileHistogram):
        return QuantileHistogram(sk.edges, _move_rows(sk.counts, rows))
    if isinstance(sk, ScoreHistogram):
        return ScoreHistogram(sk.edges, _move_rows(sk.counts, rows), _move_rows(sk.sums, rows))
    if isinstance(sk, CountTable):
        return CountTable(_move_rows(_move_cols(sk.counts, cols, 1), rows))
    block = 3 * sk.bins  # a decision's cells
    return DecisionHistogram(sk.edges, _move_rows(_move_cols(sk.counts, cols, block), rows))


def _move_rows(a: Any, to: IntArray | None) -> Any:
    if to is None:
        return a.copy()
    out = np.zeros((max(int(to.max()) + 1, 1) if to.size else 1, a.shape[1]), a.dtype)
    to = to[: a.shape[0]]
    np.add.at(out, to, a[: to.size])
    return out


def _move_cols(a: IntArray, to: IntArray | None, block: int) -> IntArray:
    """Columns in blocks of ``block`` (one per code) moved to the blocks ``to`` names."""
    if to is None:
        return a.copy()
    codes = a.shape[1] // block
    to = to[:codes]
    width = (max(int(to.max()) + 1, 1) if to.size else 1) * block
    out = np.zeros((a.shape[0], width), a.dtype)
    src = a.reshape(a.shape[0], codes, block)[:, : to.size].transpose(1, 0, 2)
    np.add.at(out.reshape(a.shape[0], -1, block).transpose(1, 0, 2), to, src)  # views of out
    return out


def _codes(vocab: Vocabulary | None, names: list[str] | None) -> IntArray | None:
    if vocab is None or names is None:
        return None
    return np.fromiter((vocab.code(n) for n in names), np.int64, len(names))


def _rows(sk: Sketch) -> int:
    return int((sk.data if isinstance(sk, Moments) else sk.counts).shape[0])


def _cols(sk: Sketch) -> int:
    if isinstance(sk, DecisionHistogram):
        return sk.decisions
    return int(sk.counts.shape[1]) if isinstance(sk, CountTable) else 0


def _check_names(slot: str, sk: Sketch, rows: list[str] | None, cols: list[str] | None) -> None:
    """No name comes twice, and every row and column that counts something has a name (a
    sketch's first row exists before any segment value does: it may go unnamed, empty)."""
    body = sk.data if isinstance(sk, Moments) else sk.counts
    block = 3 * sk.bins if isinstance(sk, DecisionHistogram) else 1
    for axis, names in (("rows", rows), ("cols", cols)):
        if names is None:
            continue
        if len(set(names)) != len(names):
            raise StateError(f"pane summary slot {slot!r}: a name twice in its {axis}")
        unnamed = body[len(names):] if axis == "rows" else body[:, len(names) * block:]
        if np.any(unnamed):
            raise StateError(f"pane summary slot {slot!r}: counts in {axis} without a name "
                             f"({len(names)} names)")
