"""Two stages, in process: ingest engines hand on pane summaries; one evaluator judges them.

A topic keyed by request id spreads every model over every partition, and one engine per
partition judges each model on a fraction of its events (duplicate incidents, false alarms
from small samples). Split instead:

- **Ingest** (``IngestEngine``, one per input partition): decode, validate, dead letters,
  event time and lateness by the partition's own watermark, and the pane sketches — then,
  where an engine would judge the windows the watermark closed, it hands on their panes, one
  summary by name per (window group, pane, model), with its watermark, and forgets them
  (a pane of hopping windows may gain events for its later windows: those go as a second
  summary). Open panes stay in the engine and its checkpoint. Nothing is judged there.
- **Evaluate** (``PaneEvaluator``): sums the summaries of every source per model and pane,
  and closes a window once **every** source's watermark has passed its end (the least of
  them): the panes it closes then hold every event any source accepted for them, since a
  source counts as late what comes for a window its own watermark has closed. It judges
  them with the engine's own detection, incidents and coverage.

What comes out is what one engine over all the partitions' events gives — same incident ids,
statistics (floating sums up to their order) and counts — when no event is late by either
watermark: the sources' watermarks (each the median of its partition's recent events) and
one engine's (over all of them) then accept the same events, and windows hold the same
sketches whatever order they close in. At the end of a finite input, each source's final
mark is handed on, and the evaluator closes what the highest of them has passed (every
source has ended). Both stages need the reference decided up front (a reference file or
reference events, the same for every source: its bin edges are the sketches' layout) and a
time window of a set size; a warm-up, ``auto`` windows or count windows are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from driftline.config import Config
from driftline.engine import Engine, Output
from driftline.errors import ConfigError, StateError
from driftline.pane_summaries import PaneSummary, absorb, summarize
from driftline.reference import Reference
from driftline.state import Finite, State, validated
from driftline.windows.groups import DEFAULT


class EvaluatorState(State):
    engine: dict[str, Any]  # validated by Engine.restore
    marks: dict[str, Finite | None]


def two_stage_problem(config: Config, reference: Reference | None,
                      reference_events: list[bytes] | None) -> str | None:
    """Why ``config`` cannot run in two stages (None: it can)."""
    if reference is None and reference_events is None:
        return ("two stages need the reference up front (--reference: a profile or events), "
                "the same for every ingest engine; a warm-up is fitted from one engine's events")
    if config.window.size == "auto" or isinstance(config.window.size, int):
        return "two stages need a time window of a set size (window.size: 15m, 1h, …)"
    return None


class IngestEngine(Engine):
    """An engine that judges nothing: its closing step hands on the panes it would close."""

    def __init__(self, config: Config, **kwargs: Any) -> None:
        problem = two_stage_problem(config, kwargs.get("reference"),
                                    kwargs.get("reference_events"))
        if problem:
            raise ConfigError(problem)
        super().__init__(config, **kwargs)

    def _close(self, out: Output) -> None:
        """Hand on each pane whose first window the watermark has closed, and forget it: a
        tumbling window's pane goes once; a hopping window's pane may gain events for its
        later windows, which go as a second summary (the evaluator adds them up)."""
        assert self.decoder is not None
        for g in self.windowing:
            w = g.windows
            done = w.closed_through(np.array([w.mark]))[0]  # panes up to it: first window closed
            for pane_id in sorted(p for p in w.panes if p <= done):
                pane = w.panes.pop(pane_id)
                out.panes += [summarize(pane, pane_id, g.key, model, self.decoder,
                                        g.monitors).to_json() for model in sorted(pane.models)]
            for _ in w.close_ready():  # no pane left that it closes: it only moves what is late
                pass
            out.watermark = w.mark


class PaneEvaluator:
    """The second stage: summaries of ``sources`` summed, windows closed by the least of their
    watermarks, judged by an engine that never sees an event."""

    def __init__(self, config: Config, sources: Iterable[int], *,
                 reference: Reference | None = None, reference_events: list[bytes] | None = None,
                 **kwargs: Any) -> None:
        problem = two_stage_problem(config, reference, reference_events)
        if problem:
            raise ConfigError(problem)
        e = self.engine = Engine(config, reference=reference, reference_events=reference_events,
                                 **kwargs)
        e.prepare([])
        e.windowing.start(e.time.choose(np.empty(0)), config.window.hop)
        e.windowing.assign(e.monitors)
        self.marks = {s: -np.inf for s in sources}
        if not self.marks:
            raise ValueError("an evaluator needs at least one source")
        #: summaries of a pane whose every window had closed here (by construction none:
        #: a source hands a pane on before its watermark passes it): counted, not added
        self.late = 0

    def add(self, source: int, records: Sequence[dict[str, Any]], watermark: float | None,
            ) -> Output:
        """One source's summaries (pane topic records, validated here) and its watermark
        after them; returns the incidents of the windows every source has now passed."""
        e = self.engine
        assert e.decoder is not None and e.reference is not None
        if source not in self.marks:
            raise ValueError(f"source {source} is not one of this evaluator's "
                             f"{sorted(self.marks)}")
        for record in records:
            s = PaneSummary.from_json(record)
            g = e.windowing.groups.get(s.group)
            if g is None:
                raise ValueError(f"a pane summary of window group {s.group!r}, which this "
                                 "config does not have")
            got = absorb(s, e.decoder, g.monitors, e.reference)
            w = g.windows
            if w.last_closed is not None and s.pane + w.k - 1 <= w.last_closed:
                self.late += 1
                continue
            if g.key == DEFAULT and s.model not in e.reference.models:
                e.detection.models_seen([(s.model, s.facts.count)], e.reference)
            w.panes[s.pane] = w.pane(s.pane).merge(got)
        if watermark is not None:
            self.marks[source] = max(self.marks[source], watermark)
        return self._close(min(self.marks.values()))

    def holding(self) -> tuple[float, list[int]]:
        """The evaluator's mark (the least of the sources') and the sources at it: what a
        caller must say when windows stop closing (−inf: a source that has not yet told a
        watermark — too few events — holds every window)."""
        mark = min(self.marks.values())
        return mark, sorted(s for s, m in self.marks.items() if m == mark)

    def finish(self, finals: Iterable[float]) -> Output:
        """Every source has ended, its final mark given: close what the highest has passed."""
        return self._close(max([*finals, *self.marks.values()]))

    def snapshot(self) -> dict[str, Any]:
        """The evaluator's checkpoint: its engine's, and each source's watermark."""
        return {"engine": self.engine.snapshot(),
                "marks": {str(s): (m if np.isfinite(m) else None) for s, m in self.marks.items()}}

    def restore(self, snap: dict[str, Any]) -> None:
        """Continue from ``snapshot()``, validated (``StateError`` names the fault)."""
        s = validated(EvaluatorState, snap, "evaluator")
        if set(s.marks) != {str(k) for k in self.marks}:
            raise StateError(f"an evaluator of sources {sorted(s.marks)}, this one reads "
                             f"{sorted(self.marks)}")
        self.engine.restore(s.engine)
        self.marks = {int(k): -np.inf if m is None else m for k, m in s.marks.items()}

    def _close(self, mark: float) -> Output:
        e, out = self.engine, Output()
        assert e.decoder is not None and e.reference is not None
        if not np.isfinite(mark):
            return out
        e.windowing.observe(mark)
        out.incidents, out.windows_closed = e.detection.close(e.windowing, e.decoder,
                                                              e.reference, e.totals)
        return out
