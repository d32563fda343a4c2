"""Evaluation of a closed window: every monitor of its group, for every model of the reference.

Detectors that remember across windows get their memory here, per monitor and
model, from ``Detector.new_memory``; the evaluator never asks what kind of
detector it holds. The memory is part of the engine's checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from driftline.decode import Decoder
from driftline.detectors.base import EvalContext, Memory
from driftline.detectors.table import SegmentNames
from driftline.errors import StateError
from driftline.judge import Pending
from driftline.monitors import Monitor, category_names
from driftline.reference import Reference
from driftline.windows import Pane


class Evaluator:
    """Turns a closed window's merged pane into pending evaluations: one table per monitor."""

    def __init__(self, min_reference: int) -> None:
        self.min_reference = min_reference
        self.memory: dict[tuple[str, str], Memory] = {}  # (monitor, model) → its memory

    def evaluate(self, monitors: Sequence[Monitor], content: Pane, reference: Reference,
                 decoder: Decoder) -> tuple[list[Pending], list[str]]:
        """The pending evaluations, and the monitor of each (monitor, model) evaluated."""
        pending: list[Pending] = []
        evaluated: list[str] = []
        for model in sorted(reference.models):
            for m in monitors:
                if not m.applies_to(model):
                    continue
                rsk = reference.sketch(model, m.slot)
                if rsk is None:
                    continue
                csk = content.sketches.get((model, m.slot)) or m.detector.new_sketch(rsk)
                memory = self._memory(m, model)
                table = m.detector.evaluate_table(csk, rsk, self.context(m, decoder), memory)
                pending.append(Pending(m, model, table))
                evaluated.append(m.name)
        return pending, evaluated

    def _memory(self, m: Monitor, model: str) -> Memory | None:
        key = (m.name, model)
        memory = self.memory.get(key)
        if memory is None:
            memory = m.detector.new_memory()
            if memory is not None:
                self.memory[key] = memory
        return memory

    def context(self, m: Monitor, decoder: Decoder) -> EvalContext:
        segs = None
        if m.cfg.segment_by is not None:
            vocab = decoder.segment_values[m.cfg.segment_by]
            segs = SegmentNames(vocab.names, vocab.index)
        cats = category_names(m.cfg.signal, decoder) if m.kind in ("categorical", "estimated") \
            else ()
        return EvalContext(segments=segs, categories=cats, min_reference=self.min_reference)

    def snapshot(self) -> dict[str, Any]:
        return {json.dumps(list(k), ensure_ascii=False): mem.snapshot()
                for k, mem in self.memory.items()}

    def restore(self, snap: dict[str, Any], monitors: Sequence[Monitor]) -> None:
        by_name = {m.name: m for m in monitors}
        self.memory = {}
        for key, state in snap.items():
            try:
                name, model = json.loads(key)
            except (ValueError, TypeError) as exc:
                raise StateError(f"memory: {key!r} is not a [monitor, model] key") from exc
            m = by_name.get(name) if isinstance(name, str) else None
            if m is None or not isinstance(model, str):
                raise StateError(f"memory: {key!r} names no monitor of this config")
            memory = m.detector.new_memory()
            if memory is None:
                raise StateError(f"memory: monitor {name!r} keeps no memory across windows")
            self.memory[(name, model)] = m.detector.restore_memory(state)
