"""The engine wires the stages: decode → windows → detectors → judgement → incidents.

It owns no I/O: sources hand it batches of raw messages with their positions
and it returns what to emit (incident CloudEvents, dead letters); ``snapshot``
and ``restore`` hold every piece of state a checkpoint needs. Files, Kafka and
the demo generator are sources and sinks around it, so ``replay`` and ``run``
share every line of detection logic. Each stage lives in its own module:
``startup`` (schema, decoder, monitors), ``decode``, ``windows`` (panes, groups,
sizing), ``warmup``, ``ingest`` (panes' sketches), ``evaluate``, ``judge`` and
``incidents``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline import coherence
from driftline.config import Config, WindowSpec
from driftline.decode import Batch, DeadLetter, Decoder, Schema
from driftline.decode.contract import Contract
from driftline.detection import Detection
from driftline.errors import CheckpointError, ReferenceError_, StateError
from driftline.eventtime import EventTime
from driftline.incidents import IncidentManager
from driftline.ingest import ingest
from driftline.labels.join import LabelJoin
from driftline.metrics import EngineGauges, Metrics, model_counts, model_names
from driftline.monitors import Monitor
from driftline.prelude import Prelude
from driftline.reference import Reference, fit
from driftline.startup import (
    compile_for,
    decoder_from_state,
    left_out_letters,
    new_decoder,
    resolve_schema,
)
from driftline.state import ENGINE_FORMAT, EngineState, EngineStateIdle, validated
from driftline.totals import Totals
from driftline.warmup import WarmUp
from driftline.windows import Group, WindowGroups, Windows
from driftline.windows.clock import Tick

STATE_FORMAT = ENGINE_FORMAT
MEMORY = {"source": "memory"}  # positions of events handed over directly (tests, benchmarks)


@dataclass
class Output:
    """What one step of the engine asks the caller to emit."""

    incidents: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    windows_closed: int = 0
    #: what the caller should tell a person (a log line, the console): caps reached, …
    notices: list[str] = field(default_factory=list)
    #: the models of the events decoded in this step (the runtime checks a model's events
    #: come from one input partition)
    models: set[str] = field(default_factory=set)
    #: an ingest engine's (stages.py): what its panes gained, by name, and its watermark then
    panes: list[dict[str, Any]] = field(default_factory=list)
    watermark: float | None = None


def account(totals: Totals, metrics: Metrics, out: Output, t0: float) -> None:
    """A step's dead letters into the totals and metrics, and its time."""
    reasons = Counter(d.reason for d in out.dead_letters)
    totals.invalid.update(reasons)
    if reasons.keys() - totals.examples.keys():
        totals.note_examples(out.dead_letters)
    metrics.count_dead_letters(reasons)
    metrics.batch_seconds.observe(time.perf_counter() - t0)


def _join(config: Config, labels: LabelJoin | None, layer: str | None) -> LabelJoin | None:
    """An engine's join: the one given, else the events' inline labels if the layer is on —
    none for a behaviour-layer engine, whose monitors read no label."""
    if labels is not None or layer == "behaviour":
        return labels
    return LabelJoin.inline(config.labels)


class Engine:
    """Stateful detection over a stream of raw-message batches.

    ``origin`` names the source in every incident's ``source_positions``
    (``{"source": "file", "path": ...}``, ``{"source": "kafka", "topic": ...}``);
    the positions themselves are the ones ``process`` is given.
    """

    def __init__(self, config: Config, *, reference: Reference | None = None,
                 reference_events: list[bytes] | None = None, window: str | int | None = None,
                 metrics: Metrics | None = None, schema: Schema | None = None,
                 clock: Callable[[], float] = time.time,
                 origin: Mapping[str, Any] = MEMORY, labels: LabelJoin | None = None,
                 layer: str | None = None) -> None:
        self.config, self.layer = config, layer  # layer: None, "behaviour", "performance"
        self.labels = _join(config, labels, layer)
        if metrics is None:
            metrics = Metrics(segment_cardinality=config.limits.metric_segment_cardinality)
            metrics.watch(lambda: (self.detection.gauges,))
        self.metrics = metrics
        self.config_hash = config.digest()
        self.origin = dict(origin)
        self._window_arg = window if window is not None else config.window.size
        self._schema = schema
        self.decoder: Decoder | None = None
        self.reference, self._reference_events = reference, reference_events
        self.monitors: list[Monitor] = []
        self.windowing: WindowGroups[Monitor] = WindowGroups()
        self.detection = Detection(config, self.metrics, self.origin, self.config_hash, clock, layer,
                                   None if self.labels is None else self.labels.origin)
        self.warmup = WarmUp(config.reference.warmup_windows)
        self.totals = Totals()
        self.time = EventTime(config.window, self._window_arg)  # the window and its clock
        i = config.input
        inferring = schema is None and reference is None and reference_events is None and None in (
            i.numeric_features, i.categorical_features, i.segment_keys)
        self.prelude = Prelude(inferring, self._window_arg == "auto",
                               Contract(None, i.fields, i.model_id, i.floor))

    @property
    def groups(self) -> dict[str, Group[Monitor]]:
        return self.windowing.groups

    @property
    def incidents(self) -> IncidentManager:
        return self.detection.incidents

    @property
    def gauges(self) -> EngineGauges:
        """What this engine shows at scrape time (open incidents, last statistics)."""
        return self.detection.gauges

    @property
    def windows(self) -> Windows | None:
        """The global window's panes and watermark (None before the first event)."""
        g = self.windowing.default
        return g.windows if g else None

    @property
    def spec(self) -> WindowSpec | None:
        g = self.windowing.default
        return g.spec if g else None

    # -- set-up on the first batch ------------------------------------------------
    def _start(self, messages: list[bytes]) -> dict[str, tuple[str, int]]:
        """Schema, decoder, monitors; returns the names left out of ``messages``' schema."""
        cfg = self.config
        inferred = resolve_schema(cfg, self.reference, self._reference_events or messages)
        self.decoder = new_decoder(cfg, self._schema or inferred.schema)
        left_out = {} if self._schema or self._reference_events else inferred.left_out
        for reason, _ in left_out.values():
            self.totals.overflow[reason] += 1
            self.metrics.overflow.labels(reason).inc()
        if self.reference is not None:
            self.decoder.restore(self.reference.decoder)
            self._compile(None)
        elif self._reference_events is not None:
            batch, dead = self.decoder.decode(self._reference_events)
            if self.labels is not None:  # the reference performance: its labels, not counted
                batch, _ = self.labels.join(batch, self.decoder, tally=False)
            if not len(batch):
                raise ReferenceError_("the reference events hold no valid event; the commonest "
                                      f"reasons: {Totals.of_letters(dead).why_invalid()}")
            self._compile(batch)
            self.reference = fit(batch, self.monitors, self.decoder, "events")
            self._reference_events = None
        return left_out

    def _compile(self, reference_batch: Batch | None) -> None:
        assert self.decoder is not None
        self.monitors, left_out = compile_for(self.config, self.decoder, self.reference,
                                              reference_batch, self.layer)
        if left_out:
            self.totals.overflow["monitor_overflow"] += len(left_out)
            self.metrics.overflow.labels("monitor_overflow").inc(len(left_out))
        self.windowing.assign(self.monitors)
        self.metrics.declare_thresholds(self.monitors, self.metrics.models_seen())
        self.detection.monitors_declared(self.monitors)

    def _make_windows(self, batch: Batch) -> None:
        self.windowing.start(self.time.choose(batch.timestamp), self.config.window.hop)
        self.windowing.assign(self.monitors)

    def prepare(self, messages: list[bytes]) -> None:
        """Set up decoder, monitors and (given reference events) the reference, without data."""
        if self.decoder is None:
            self._start(messages)

    # -- the hot path --------------------------------------------------------------
    def process(self, messages: list[bytes], positions: np.ndarray | None = None,
                partitions: np.ndarray | None = None) -> Output:
        """Decode and absorb one batch; returns incidents and dead letters it produced."""
        t0 = time.perf_counter()
        out = Output()
        if not messages:
            return out
        pos = np.arange(len(messages)) if positions is None else np.asarray(positions)
        part = np.full(len(messages), -1) if partitions is None else np.asarray(partitions)
        self.totals.read += len(messages)
        if self.decoder is None:
            self.prelude.add(messages, pos, part)
            if self.prelude.ready:
                self._begin(out)
        else:
            self._decode(messages, pos, part, out)
        account(self.totals, self.metrics, out, t0)
        return out

    def _begin(self, out: Output) -> None:
        """The prelude is complete: decide schema and decoder, then decode what it held."""
        messages, pos, part = self.prelude.take()
        out.dead_letters += left_out_letters(self._start(messages), messages, pos, part)
        if messages:
            self._decode(messages, pos, part, out)

    def _valid(self, batch: Batch) -> list[tuple[str, int]]:
        """Count a batch's valid events; returns them per model."""
        assert self.decoder is not None
        self.totals.valid += len(batch)
        counts = model_counts(batch.model, self.decoder.models.names)
        new_models = self.metrics.count_valid(batch, self.decoder, counts)
        if new_models:  # their thresholds, labelled by model as their statistics will be
            self.metrics.declare_thresholds(self.monitors, new_models)
        return counts

    def _decode(self, messages: list[bytes], pos: np.ndarray, part: np.ndarray,
                out: Output) -> None:
        assert self.decoder is not None
        overflowed = self.decoder.overflowed_events
        batch, dead = self.decoder.decode(messages, pos, part)
        if self.decoder.overflowed_events > overflowed:
            n = self.decoder.overflowed_events - overflowed
            self.totals.overflow["cardinality_overflow"] += n
            self.metrics.overflow.labels("cardinality_overflow").inc(n)
        out.dead_letters += dead
        out.models |= model_names(batch.model, self.decoder.models.names)
        if self.time.clock is None and len(batch):
            self._make_windows(batch)
        if self.labels is not None:
            batch = self.labels.absorb(batch, self.decoder, self.metrics, self.spec)
        if len(batch):
            self._absorb(batch, messages, out)

    def _absorb(self, batch: Batch, messages: list[bytes], out: Output) -> None:
        """Event time (keys, the watermark; too far ahead, late), then warm-up or windows."""
        assert self.decoder is not None
        timed = self.time.sort(batch, messages, self.windowing)
        out.dead_letters += timed.dead_letters
        if timed.late_models.size:
            self.totals.late += timed.late_models.size
            self.metrics.count_events(model_counts(timed.late_models, self.decoder.models.names),
                                      "late")
        self.totals.ahead += timed.ahead
        batch, tick = timed.batch, timed.tick
        if self.reference is None:
            batch, tick = self._warm(batch, tick, out)
        if self.reference is not None:
            self._windowed(batch, tick, out)

    def _windowed(self, batch: Batch, tick: Tick, out: Output) -> None:
        """Each slice is fed, then the windows its closing mark passed close: an event reaches
        only windows that were open when it came."""
        if not len(batch):  # all late, or the warm-up took them: the mark still moved
            self._accept(batch, tick.keys, tick.mark, out)
        for a, b, mark in self.windowing.slices(tick.marks_before, tick.mark):
            part = batch if (a, b) == (0, len(batch)) else batch.take(slice(a, b))
            self._accept(part, tick.keys[a:b], mark, out)

    def _accept(self, batch: Batch, keys: np.ndarray, mark: float, out: Output) -> None:
        """Count, feed into panes, then close what the watermark passed (``mark``)."""
        per_model = self._valid(batch)
        if len(batch):
            assert self.decoder is not None and self.reference is not None
            for g in self.windowing:
                ingest(g.windows, g.monitors, batch, keys, self.decoder, self.reference)
            out.notices += self.detection.models_seen(per_model, self.reference)
        self.windowing.observe(mark)
        self._close(out)

    # -- warm-up: the first window(s) become the reference ---------------------------
    def _warm(self, batch: Batch, tick: Tick, out: Output) -> tuple[Batch, Tick]:
        """Buffer the warm-up's part of a batch; past its end, fit and return the rest."""
        clock = self.time.clock
        assert self.windows is not None and clock is not None
        if clock.start is not None:
            self.warmup.begin(clock.start, self.windows)
        cut = self.warmup.split(tick.marks_before)
        head = slice(0, len(batch) if cut is None else cut)
        self.warmup.add(batch.take(head), tick.keys[head])
        if cut is None:
            return batch.take(slice(0, 0)), tick.take(slice(0, 0))
        self.finish_warmup(out, float(tick.marks_before[cut]) if cut < len(batch) else tick.mark)
        return batch.take(slice(cut, None)), tick.take(slice(cut, None))

    def finish_warmup(self, out: Output, mark: float) -> None:
        """Fit the reference from the warm-up events; replay the rest into panes up to ``mark``."""
        if self.reference is not None or not self.warmup:
            return
        assert self.windows is not None and self.decoder is not None
        allb, keys, cut = self.warmup.take(self.windows)
        ref_rows = keys < cut
        # windows before the cut are the reference; evaluation starts at the cut
        self.windowing.start_at(cut)
        self._compile(allb.take(ref_rows))
        self.reference = fit(allb.take(ref_rows), self.monitors, self.decoder, "warm-up")
        self._valid(allb.take(ref_rows))
        self._accept(allb.take(~ref_rows), keys[~ref_rows], mark, out)

    # -- windows close: evaluate, judge, lifecycle ----------------------------------
    def _close(self, out: Output) -> None:
        assert self.decoder is not None and self.reference is not None
        events, closed = self.detection.close(self.windowing, self.decoder, self.reference,
                                              self.totals)
        out.incidents += events
        out.windows_closed += closed

    # -- checkpoint --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this engine is (JSON-serialisable)."""
        if self.decoder is None:
            return {"format": STATE_FORMAT, "started": False, "prelude": self.prelude.snapshot(),
                    "totals": self.totals.snapshot()}
        return {
            "format": STATE_FORMAT, "started": True, "config_hash": self.config_hash,
            "decoder": self.decoder.snapshot(),
            "reference": self.reference.to_json() if self.reference else None,
            "windows": self.windowing.snapshot(),
            **self.detection.snapshot(),
            "time": self.time.snapshot(),
            "warmup": self.warmup.snapshot(),
            "totals": self.totals.snapshot(),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Continue from ``snapshot()``; the config must be the one that produced it.

        Everything is validated before use (``StateError`` names the fault): a state of
        another format version is refused by its version, one of another config by its hash.
        """
        if not isinstance(snap, dict) or snap.get("format") != STATE_FORMAT:
            got = snap.get("format") if isinstance(snap, dict) else type(snap).__name__
            raise CheckpointError(f"unknown state format {got!r} (this driftline reads "
                                  f"{STATE_FORMAT}; see docs/kafka.md for the rebuild)")
        if snap.get("started") is False:
            idle = validated(EngineStateIdle, snap, "engine state")
            self.prelude.restore(idle.prelude)
            self.totals = Totals.restore(idle.totals)
            return
        s = validated(EngineState, snap, "engine state")
        if s.config_hash != self.config_hash:
            raise CheckpointError("the checkpoint was written with another config "
                                  f"({s.config_hash} != {self.config_hash})")
        self.decoder = decoder_from_state(self.config, s.decoder)
        self._schema = self.decoder.schema
        try:
            self.reference = Reference.from_json(s.reference) if s.reference else None
        except ReferenceError_ as exc:
            raise StateError(f"engine state: {exc}") from exc
        self._reference_events = None
        if self.reference is not None:
            self._compile(None)
        self.windowing.restore(s.windows, self.monitors)
        coherence.check(self.decoder, self.reference, self.monitors,
                        (g.windows for g in self.windowing))
        self.detection.restore(s.incidents, s.memory, self.monitors, s.coverage)
        if s.time is not None:
            if self.spec is None:
                raise StateError("engine state: a clock without windows")
            self.time.restore(s.time, self.spec)
        self.warmup.restore(s.warmup)
        self.totals = Totals.restore(s.totals)

    # -- end of input ------------------------------------------------------------------
    def finish(self) -> Output:
        """The input has ended: close every complete window (no more data is coming)."""
        t0 = time.perf_counter()
        out = Output()
        if self.decoder is None and len(self.prelude):
            self._begin(out)
        if self.time.clock is not None and self.windows is not None:
            final = self.time.clock.final()
            if self.reference is None and self.warmup:
                self.finish_warmup(out, final)
            if self.reference is not None:
                self.windowing.observe(final)
                self._close(out)
        if self.labels is not None:
            out.notices += self.labels.finish(self.metrics, self.decoder)
        account(self.totals, self.metrics, out, t0)
        return out
