"""Windows evaluated again, with the engine's own stages, from the events an incident cites.

Nothing here re-implements a statistic: events are decoded by the engine's decoder (the
contract is applied again), added to panes by ``ingest``, evaluated by ``Evaluator`` (the
monitor's detector) and judged by ``judge`` (one Benjamini–Hochberg step over every test of
the window's group, as when the window closed). What this module adds is which events belong
to a window:

- a *cited* window (one an incident event names) holds the valid events between its
  ``first_offset`` and ``last_offset`` whose key falls in its panes — time windows by event
  time ``[start, end)``, count windows by event index. Neighbouring windows' events in that
  range are left out by the key, late events cannot be in it (they arrive after the window
  closed, past its last offset);
- a *context* window (around the incident, not cited) holds the events read whose key falls
  in its panes and that arrived before the watermark passed its end — the engine's watermark
  (a median of recent event times less the lateness), run over the events read: close, not
  exact, since the engine's mark also saw the events before them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from driftline.config import Config, WindowConfig, WindowSpec
from driftline.decode import Batch, Decoder
from driftline.engine import Engine
from driftline.errors import ConfigError
from driftline.evaluate import Evaluator
from driftline.incidents import Finding
from driftline.ingest import ingest
from driftline.investigate.history import window_end, window_start
from driftline.investigate.sources import Events
from driftline.judge import FactsByModel, judge
from driftline.monitors import Monitor
from driftline.reference import Reference
from driftline.windows import ClosedWindow, Pane, Windows
from driftline.windows.clock import Clock
from driftline.windows.groups import make_group

if TYPE_CHECKING:
    from driftline.labels.join import LabelJoin


@dataclass(frozen=True)
class Setup:
    """What the engine runs against a reference: its decoder (the reference's vocabularies),
    its compiled monitors and the config hash."""

    config: Config
    reference: Reference
    decoder: Decoder
    monitors: list[Monitor]
    config_hash: str
    #: the labels the run joined (``--labels``; inline labels: an empty store)
    labels: LabelJoin | None = None

    @classmethod
    def of(cls, config: Config, reference: Reference, labels: LabelJoin | None = None) -> Setup:
        engine = Engine(config, reference=reference, labels=labels)
        engine.prepare([])
        assert engine.decoder is not None
        return cls(config, reference, engine.decoder, engine.monitors, engine.config_hash,
                   engine.labels)

    def monitor(self, name: str) -> Monitor:
        for m in self.monitors:
            if m.name == name:
                return m
        labels = "" if self.decoder.schema.labels else (
            "; a performance monitor (error rate, precision, recall, MAE …) needs the labels "
            "the run joined (--labels FILE, or labels.enabled for inline labels)")
        raise ConfigError(f"monitor {name!r} is not one of this config's monitors "
                          f"({', '.join(m.name for m in self.monitors[:8])}…): pass the config "
                          f"the incident was raised with (--config){labels}")

    def group(self, m: Monitor) -> list[Monitor]:
        """The monitors judged together with ``m``: those of its window group."""
        key = m.window.key if m.window is not None else None
        return [x for x in self.monitors if (x.window.key if x.window is not None else None) == key]


@dataclass(frozen=True)
class Shape:
    """A window group's layout: panes of ``hop`` keys, ``k`` per window, and its clock."""

    kind: str
    windows: Windows
    spec: WindowSpec
    time: WindowConfig  # lateness and max_ahead of the engine's clock

    @classmethod
    def of(cls, config: Config, m: Monitor, window: Mapping[str, Any]) -> Shape:
        """The layout of the group that produced ``window`` (an incident's ``data.window``)."""
        kind = str(window.get("kind", "time"))
        size = window_end(window) - window_start(window)
        hop = m.window.hop if m.window is not None else config.window.hop
        spec = WindowSpec(kind="count" if kind == "count" else "time", size=size)
        return cls(kind, make_group("explain", spec, hop).windows, spec, config.window)

    @property
    def size(self) -> float:
        return self.windows.size

    def index(self, window: Mapping[str, Any]) -> int:
        """The engine's index of a window: its last pane."""
        return round(window_end(window) / self.windows.hop) - 1

    def bounds(self, e: int) -> tuple[float, float]:
        return self.windows.bounds(e)

    def member(self, pane_ids: np.ndarray, e: int) -> np.ndarray:
        return (pane_ids >= e - self.windows.k + 1) & (pane_ids <= e)


@dataclass(frozen=True)
class Decoded:
    """The valid events read, in arrival order, with their window keys and pane ids."""

    batch: Batch
    keys: np.ndarray
    pane_ids: np.ndarray
    #: per event: the last window index already closed when it arrived (lateness rule)
    closed_before: np.ndarray
    #: the engine's mark at the end of these events (``Clock.final``): windows ending past it
    #: were never closed
    final: float


def decode(setup: Setup, events: Events, shape: Shape,
           anchor: tuple[int, float] | None = None) -> Decoded:
    """Decode ``events`` with the engine's decoder; keys are event times, or for count windows
    event indices counted from ``anchor`` (a position whose event has a known index)."""
    batch, _ = setup.decoder.decode(events.messages, events.positions, events.partitions)
    if setup.labels is not None:  # the labels that counted in the run, by the same rule
        batch, _ = setup.labels.join(batch, setup.decoder, tally=False)
    if shape.kind == "count":
        assert anchor is not None, "count windows need an anchor"
        at = int(np.searchsorted(batch.positions, anchor[0]))
        keys = anchor[1] + (np.arange(len(batch), dtype=np.float64) - at)
        closed = np.full(len(batch), np.iinfo(np.int64).min)
        final = float(keys[-1]) + 1 if len(keys) else -np.inf
    else:
        keys = batch.timestamp
        clock = Clock.of(shape.spec, shape.time)
        before = clock.tick(keys).marks_before
        final = clock.final()
        with np.errstate(invalid="ignore"):
            closed = np.where(np.isfinite(before), np.floor(before / shape.windows.hop) - 1,
                              np.iinfo(np.int64).min).astype(np.int64)
    return Decoded(batch, keys, shape.windows.pane_ids(keys), closed, final)


def select(d: Decoded, shape: Shape, e: int, cited: tuple[int, int] | None) -> np.ndarray:
    """The events of window ``e``: cited (a position range) or by the lateness rule."""
    mask = shape.member(d.pane_ids, e)
    if cited is not None:
        pos = d.batch.positions
        return mask & (pos >= cited[0]) & (pos <= cited[1])
    return mask & (d.closed_before < e)


def content(setup: Setup, monitors: Sequence[Monitor], d: Decoded, shape: Shape,
            mask: np.ndarray) -> Pane:
    """The merged pane of the selected events, built by the engine's ``ingest``."""
    if not mask.any():
        return Pane()
    w = shape.windows
    scratch = Windows(w.hop, w.k)
    ingest(scratch, monitors, d.batch.take(mask), d.keys[mask], setup.decoder, setup.reference)
    panes = [scratch.panes[p] for p in sorted(scratch.panes)]
    merged = panes[0]
    for p in panes[1:]:
        merged = merged.merge(p)
    return merged


def findings(setup: Setup, monitors: Sequence[Monitor], pane: Pane, shape: Shape, e: int,
             origin: Mapping[str, Any]) -> list[Finding]:
    """Every finding of the window, evaluated and judged as the engine does when it closes."""
    pending, _ = Evaluator(setup.config.detection.min_reference).evaluate(
        monitors, pane, setup.reference, setup.decoder)
    start, end = shape.bounds(e)
    facts = FactsByModel(ClosedWindow(e, start, end, pane), shape.kind,
                         setup.decoder.versions.names, origin, setup.reference.id,
                         setup.config_hash)
    return judge(pending, facts, setup.config.detection.fdr_alpha, {}, every=True).findings


def matching(found: Sequence[Finding], monitor: str, model: str,
             segment: Mapping[str, str]) -> Finding | None:
    """The finding of one (monitor, model, segment), if the window produced it."""
    for f in found:
        if f.monitor.name == monitor and f.model == model and f.segment == dict(segment):
            return f
    return None


@dataclass(frozen=True)
class WindowResult:
    """One window evaluated again: its content and every finding of its group."""

    index: int
    start: float
    end: float
    exact: bool
    pane: Pane
    findings: list[Finding]
    events: int


def evaluate_window(setup: Setup, m: Monitor, d: Decoded, shape: Shape, e: int,
                    cited: tuple[int, int] | None, origin: Mapping[str, Any]) -> WindowResult:
    group = setup.group(m)
    mask = select(d, shape, e, cited)
    pane = content(setup, group, d, shape, mask)
    start, end = shape.bounds(e)
    return WindowResult(e, start, end, cited is not None, pane,
                        findings(setup, group, pane, shape, e, origin), int(mask.sum()))
