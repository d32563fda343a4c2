"""The engine: decode → windows → detectors → incidents, wired, with no I/O of its own.

Sources hand the engine batches of raw messages with their positions; the
engine returns what to emit (incident CloudEvents, dead letters) and keeps all
state that a checkpoint must hold (``snapshot``/``restore``). Files, Kafka and
the demo generator are sources and sinks around it (``io/``), so ``replay`` and
``run`` share every line of detection logic.

Per batch the work is columnar: one Arrow parse, then per (pane, model) slice
one ``update`` per slot — a searchsorted + bincount for a numeric signal shared
by its PSI and KS monitors.
"""

from __future__ import annotations

import math
import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.config import Config, WindowSpec, parse_duration
from driftline.decode import Batch, DeadLetter, Decoder, Schema, infer_schema
from driftline.detectors.base import EvalContext, Evaluation
from driftline.detectors.gradual import GradualDrift
from driftline.detectors.gradual import Sequence as Memory
from driftline.detectors.sketches import CountTable
from driftline.errors import CheckpointError, ConfigError, ReferenceError_
from driftline.incidents import Finding, IncidentManager, WindowRef
from driftline.metrics import Metrics
from driftline.monitors import (
    Monitor,
    category_names,
    compile_monitors,
    extract,
    preset,
)
from driftline.reference import Reference, fit
from driftline.windows import ClosedWindow, Windows

NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                43200, 86400)
MAX_WARMUP_EVENTS = 1_000_000
DECISION_SLOT = "decision||count_table"
DEFAULT = "default"
STATE_FORMAT = "driftline.state/1"
MAX_FUTURE_SKEW = 86400.0  # an event this far ahead of the stream is a bad timestamp
RECENT_TIMES = 1000  # event times kept to anchor the far-future check


def benjamini_hochberg(p: Sequence[float]) -> np.ndarray:
    """BH-adjusted q-values, in input order."""
    p_arr = np.asarray(p, dtype=np.float64)
    n = p_arr.size
    if n == 0:
        return p_arr
    order = np.argsort(p_arr)
    ranked = p_arr[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def auto_window(timestamps: np.ndarray, target_events: int) -> WindowSpec:
    """A window holding about ``target_events`` at the observed rate, rounded to a nice size."""
    ts = timestamps[np.isfinite(timestamps)]
    span = float(ts.max() - ts.min()) if ts.size > 1 else 0.0
    if span <= 0:
        return WindowSpec(kind="count", size=float(target_events))
    seconds = target_events * span / (ts.size - 1)
    nice = min(NICE_SECONDS, key=lambda s: abs(math.log(s / seconds)))
    return WindowSpec(kind="time", size=float(nice))


@dataclass
class Output:
    """What one step of the engine asks the caller to emit."""

    incidents: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    windows_closed: int = 0

    def extend(self, other: Output) -> None:
        self.incidents += other.incidents
        self.dead_letters += other.dead_letters
        self.windows_closed += other.windows_closed


@dataclass
class Totals:
    read: int = 0
    valid: int = 0
    late: int = 0
    invalid: Tally[str] = field(default_factory=Tally)
    windows: int = 0
    incidents: Tally[str] = field(default_factory=Tally)


@dataclass
class Group:
    """Monitors that share a window: its spec, panes and watermark.

    The global window is group ``default``; a monitor with its own ``window``
    gets a group per distinct (size, hop). All groups see every accepted event.
    """

    key: str
    spec: WindowSpec
    windows: Windows
    monitors: list[Monitor] = field(default_factory=list)


class Engine:
    """Stateful detection over a stream of raw-message batches."""

    def __init__(self, config: Config, *, reference: Reference | None = None,
                 reference_events: list[bytes] | None = None, window: str | int | None = None,
                 metrics: Metrics | None = None, schema: Schema | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock  # only for the close-lag metric; detection never reads the clock
        self.metrics = metrics if metrics is not None else Metrics(
            segment_cardinality=config.limits.metric_segment_cardinality)
        self.config_hash = config.digest()
        self._window_arg = window if window is not None else config.window.size
        self._schema = schema
        self.decoder: Decoder | None = None
        self.reference = reference
        self._reference_events = reference_events
        self.monitors: list[Monitor] = []
        self.groups: dict[str, Group] = {}
        self._cut: float | None = None  # first key evaluated after a warm-up
        self.incidents = IncidentManager(
            source=f"driftline/{config.instance}", open_after=config.detection.open_after,
            resolve_after=config.detection.resolve_after, update_every=config.detection.update_every)
        self.memory: dict[str, Memory] = {}
        self.totals = Totals()
        self._count = 0  # running index of valid events, the key of count windows
        self._recent = np.empty(0, np.float64)  # recent event times (far-future check)
        self._models_seen: set[int] = set()
        self._warmup: list[Batch] = []
        self._warmup_keys: list[np.ndarray] = []
        self._warmup_end: float | None = None

    @property
    def windows(self) -> Windows | None:
        """The global window's panes and watermark (None before the first event)."""
        g = self.groups.get(DEFAULT)
        return g.windows if g else None

    @property
    def spec(self) -> WindowSpec | None:
        g = self.groups.get(DEFAULT)
        return g.spec if g else None

    # -- set-up on the first batch ------------------------------------------------
    def _start(self, messages: list[bytes]) -> None:
        cfg = self.config
        sample = self._reference_events or messages
        schema = self._schema
        if schema is None and self.reference is not None:
            s = self.reference.decoder["schema"]
            schema = Schema(tuple(s["numeric"]), tuple(s["categorical"]), tuple(s["segments"]),
                            cfg.input.fields)
        if schema is None:
            inferred = infer_schema(sample, cfg.input.fields)
            schema = Schema(
                tuple(cfg.input.numeric_features) if cfg.input.numeric_features is not None
                else inferred.numeric,
                tuple(cfg.input.categorical_features) if cfg.input.categorical_features is not None
                else inferred.categorical,
                tuple(cfg.input.segment_keys) if cfg.input.segment_keys is not None
                else inferred.segments,
                cfg.input.fields)
        lim = cfg.limits
        self.decoder = Decoder(schema, models=cfg.input.models,
                               max_message_bytes=cfg.input.max_message_bytes,
                               segment_cardinality=lim.segment_cardinality,
                               category_cardinality=lim.category_cardinality,
                               model_cardinality=lim.models)
        if self.reference is not None:
            self.decoder.restore(self.reference.decoder)
            self._compile()
        elif self._reference_events is not None:
            batch, _ = self.decoder.decode(self._reference_events)
            if not len(batch):
                raise ReferenceError_("the reference events hold no valid event")
            self._compile(batch)
            self.reference = fit(batch, self.monitors, self.decoder, "events")
            self._reference_events = None

    def _compile(self, reference_batch: Batch | None = None) -> None:
        assert self.decoder is not None
        cfgs = self.config.monitors
        if not cfgs:
            cfgs = preset(self.decoder.schema, self._decisions_by_frequency(reference_batch))
        self.monitors = compile_monitors(cfgs, self.decoder.schema, self.config.detection)
        if self.reference is not None:
            missing = self.reference.covers(self.monitors)
            if missing:
                raise ReferenceError_(f"the reference profile has no sketch for {missing}; "
                                      "rebuild it with this config (driftline reference build)")
        self._assign_groups()
        for m in self.monitors:
            self.metrics.declare_monitor(m.name)
            self.metrics.threshold.labels(m.name, "*", m.detector.name, m.cfg.signal, "warning",
                                          m.direction).set(m.warning)
            self.metrics.threshold.labels(m.name, "*", m.detector.name, m.cfg.signal, "critical",
                                          m.direction).set(m.critical)

    def _decisions_by_frequency(self, batch: Batch | None) -> list[str]:
        assert self.decoder is not None
        names = self.decoder.decisions.names
        if batch is None:
            # a loaded profile: frequencies from its decision counts (zero-config keeps them)
            counts = np.zeros(len(names), np.int64)
            for slots in (self.reference.models.values() if self.reference else ()):
                table = slots.get(DECISION_SLOT)
                if isinstance(table, CountTable):
                    counts = counts + table.row(None, len(names))[: len(names)]
        else:
            codes = batch.decision[batch.decision >= 0]
            counts = np.bincount(codes, minlength=len(names))
        return [names[i] for i in np.argsort(-counts, kind="stable") if counts[i] > 0]

    def _make_windows(self, batch: Batch) -> None:
        arg = self._window_arg
        spec = auto_window(batch.timestamp, self.config.window.target_events) if arg == "auto" \
            else WindowSpec.parse(arg)
        self.groups[DEFAULT] = self._group(DEFAULT, spec, self.config.window.hop)
        self._assign_groups()

    def _group(self, key: str, spec: WindowSpec, hop_arg: str | int | None) -> Group:
        hop_spec = spec if hop_arg is None else WindowSpec.parse(hop_arg)
        if hop_spec.kind != spec.kind:
            raise ConfigError(f"window {key}: hop must be of the same kind (time or count) as size")
        k = max(1, round(spec.size / hop_spec.size))
        if abs(k * hop_spec.size - spec.size) > 1e-9 * spec.size:
            raise ConfigError(f"window {key}: size {spec} must be a multiple of its hop")
        lateness = parse_duration(self.config.window.lateness) if spec.kind == "time" else 0.0
        return Group(key, spec, Windows(hop_spec.size, k, lateness))

    def _assign_groups(self) -> None:
        """Give every monitor its group, creating the groups of per-monitor windows."""
        default = self.groups.get(DEFAULT)
        if default is None or not self.monitors:
            return
        for g in self.groups.values():
            g.monitors = []
        for m in self.monitors:
            if m.cfg.window is None:
                default.monitors.append(m)
                continue
            key = m.cfg.window.key
            if key not in self.groups:
                spec = WindowSpec.parse(m.cfg.window.size)
                if spec.kind != default.spec.kind:
                    raise ConfigError(f"monitor {m.name}: its window must be of the same kind "
                                      f"({default.spec.kind}) as the global window")
                g = self._group(key, spec, m.cfg.window.hop)
                if self._cut is not None:
                    _start_at(g.windows, self._cut)
                self.groups[key] = g
            self.groups[key].monitors.append(m)

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
        if self.decoder is None:
            self._start(messages)
        assert self.decoder is not None
        batch, dead = self.decoder.decode(messages, positions, partitions)
        self.totals.read += len(messages)
        out.dead_letters += dead
        if self.windows is None and len(batch):
            self._make_windows(batch)
        if len(batch):
            batch = self._drop_future(batch, messages, out)
            self._absorb(batch, messages, out)
        reasons = Tally(d.reason for d in out.dead_letters)
        self.totals.invalid.update(reasons)
        self.metrics.count_dead_letters(reasons)
        self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        return out

    def _keys(self, batch: Batch) -> np.ndarray:
        assert self.spec is not None
        if self.spec.kind == "time":
            return batch.timestamp
        keys = np.arange(self._count, self._count + len(batch), dtype=np.float64)
        self._count += len(batch)
        return keys

    def _drop_future(self, batch: Batch, messages: list[bytes], out: Output) -> Batch:
        assert self.windows is not None and self.spec is not None
        if self.spec.kind != "time":
            return batch
        # The anchor is the 99th percentile of the recent event times (accepted or not) and
        # this batch's: one absurd timestamp is rejected instead of dragging the watermark
        # (and so closing every window) into the future, while a stream that resumes after
        # a long gap is accepted again after ~1% of the recent sample.
        ts = batch.timestamp
        recent = np.concatenate([self._recent, ts])
        anchor = float(np.quantile(recent, 0.99, method="lower"))
        self._recent = recent[-RECENT_TIMES:]
        future = ts > anchor + MAX_FUTURE_SKEW
        if not future.any():
            return batch
        for i in np.flatnonzero(future):
            out.dead_letters.append(DeadLetter(messages[batch.rows[i]], "bad_timestamp",
                                               f"more than {MAX_FUTURE_SKEW:.0f}s ahead of the stream",
                                               int(batch.positions[i]), int(batch.partitions[i])))
        return batch.take(~future)

    def _absorb(self, batch: Batch, messages: list[bytes], out: Output) -> None:
        assert self.windows is not None
        keys = self._keys(batch)
        if self.reference is None:
            self._warm(batch, keys, out)
            return
        # an event is accepted only if every window it belongs to is still open
        late = np.zeros(len(batch), bool)
        for g in self.groups.values():
            late |= g.windows.late(g.windows.pane_ids(keys))
        if late.any():
            for i in np.flatnonzero(late):
                out.dead_letters.append(DeadLetter(messages[batch.rows[i]], "late",
                                                   "behind the watermark",
                                                   int(batch.positions[i]), int(batch.partitions[i])))
            self.totals.late += int(late.sum())
            self._count_outcome(batch.model[late], "late")
            keep = ~late
            batch, keys = batch.take(keep), keys[keep]
        self.totals.valid += len(batch)
        self._count_models(batch)
        self._feed(batch, keys)
        self._close(out, final=False)

    def _feed(self, batch: Batch, keys: np.ndarray) -> None:
        if not len(batch):
            return
        for g in self.groups.values():
            self._update_panes(g, batch, g.windows.pane_ids(keys))
            g.windows.observe(float(keys.max()))

    def _count_outcome(self, model_codes: np.ndarray, outcome: str) -> None:
        assert self.decoder is not None
        codes, counts = np.unique(model_codes, return_counts=True)
        for c, n in zip(codes, counts, strict=True):
            name = self.decoder.models.names[c] if c >= 0 else "unknown"
            self.metrics.events.labels(name, outcome).inc(int(n))

    def _count_models(self, batch: Batch) -> None:
        assert self.decoder is not None
        self._count_outcome(batch.model, "valid")
        for code in np.unique(batch.model):  # late series exist at 0 once a model is seen
            if code >= 0 and code not in self._models_seen:
                self._models_seen.add(int(code))
                self.metrics.events.labels(self.decoder.models.names[code], "late")
        models = self.decoder.models.names
        for key, col in batch.segments.items():
            names = self.decoder.segment_values[key].names
            ok = (col >= 0) & (batch.model >= 0)
            # one unique over (model, segment) pairs: a few labelled incs per batch
            pairs, counts = np.unique(batch.model[ok] * (len(names) + 1) + col[ok],
                                      return_counts=True)
            for pair, n in zip(pairs, counts, strict=True):
                m, c = divmod(int(pair), len(names) + 1)
                self.metrics.segment_events.labels(
                    models[m], key, self.metrics.segment_label(names[c], key)).inc(int(n))

    def _update_panes(self, group: Group, batch: Batch, panes: np.ndarray) -> None:
        assert self.decoder is not None
        single_pane = panes[0] == panes[-1] and (panes == panes[0]).all()
        pane_groups = [(int(panes[0]), None)] if single_pane else \
            [(int(p), panes == p) for p in np.unique(panes)]
        for pane_id, mask in pane_groups:
            rows = batch if mask is None else batch.take(mask)
            pane = group.windows.pane(pane_id)
            pane.count += len(rows)
            pane.note_positions(rows.partitions, rows.positions)
            pane.versions.update(int(v) for v in np.unique(rows.version) if v >= 0)
            models = np.unique(rows.model)
            for code in models:
                sub = rows if models.size == 1 else rows.take(rows.model == code)
                self._update_slots(pane.sketches, self.decoder.models.names[code], sub,
                                   group.monitors)

    def _update_slots(self, sketches: dict[Any, Any], model: str, rows: Batch,
                      monitors: list[Monitor]) -> None:
        assert self.decoder is not None and self.reference is not None
        done: set[str] = set()
        for m in monitors:
            if m.slot in done or not m.applies_to(model):
                continue
            done.add(m.slot)
            key = f"{model}|{m.slot}"
            sk = sketches.get(key)
            if sk is None:
                ref = self.reference.sketch(model, m.slot)
                if ref is None:
                    continue  # a model the reference has never seen: counted, not compared
                sk = sketches[key] = m.detector.new_sketch(ref)
            values = extract(m.cfg.signal, rows, self.decoder)
            segs = rows.segments[m.cfg.segment_by] if m.cfg.segment_by else None
            if segs is not None and (segs < 0).any():
                keep = segs >= 0
                values, segs = values[keep], segs[keep]
            sk.update(values, segs)  # type: ignore[arg-type]  # the slot's kind matches its signal

    # -- warm-up: the first window(s) become the reference ---------------------------
    def _warm(self, batch: Batch, keys: np.ndarray, out: Output) -> None:
        assert self.windows is not None and self.decoder is not None
        w = self.windows
        if self._warmup_end is None:
            # a robust start: one stray ancient timestamp must not become the whole reference
            # (it still joins the reference, as every event before the cut does)
            first = int(w.pane_ids(keys[:1])[0]) if self.spec and self.spec.kind == "count" \
                else int(np.floor(float(np.quantile(keys, 0.01, method="lower")) / w.hop))
            self._warmup_end = (first + w.k * self.config.reference.warmup_windows) * w.hop
        self._warmup.append(batch)
        self._warmup_keys.append(keys)
        w.observe(float(keys.max()))
        n = sum(len(b) for b in self._warmup)
        if w.watermark < self._warmup_end and n < MAX_WARMUP_EVENTS:
            return
        self.finish_warmup(out)

    def finish_warmup(self, out: Output) -> None:
        """Fit the reference from the warm-up events; replay the rest into panes."""
        if self.reference is not None or not self._warmup:
            return
        assert self.windows is not None and self._warmup_end is not None
        allb = Batch.concat(self._warmup)
        keys = np.concatenate(self._warmup_keys)
        self._warmup, self._warmup_keys = [], []
        cut = self._warmup_end
        n_all = len(allb)
        if n_all >= MAX_WARMUP_EVENTS:  # bounded memory: the warm-up ends at the cap
            cut = float(np.floor(np.sort(keys)[MAX_WARMUP_EVENTS - 1] / self.windows.hop)
                        * self.windows.hop) or cut
        ref_rows = keys < cut
        # windows before the cut are the reference; evaluation starts at the cut
        self._cut = cut
        for g in self.groups.values():
            _start_at(g.windows, cut)
        self._compile(allb.take(ref_rows))
        assert self.decoder is not None
        self.reference = fit(allb.take(ref_rows), self.monitors, self.decoder, "warm-up")
        self.totals.valid += int(ref_rows.sum())
        self._count_models(allb.take(ref_rows))
        rest = ~ref_rows
        if rest.any():
            batch, rkeys = allb.take(rest), keys[rest]
            self.totals.valid += len(batch)
            self._count_models(batch)
            self._feed(batch, rkeys)
            self._close(out, final=False)

    # -- windows close: evaluate, judge, lifecycle ----------------------------------
    def _close(self, out: Output, final: bool) -> None:
        closed = out.windows_closed
        for group in self.groups.values():
            for win in group.windows.close_ready(final=final):
                if group.spec.kind == "time":
                    # how stale a window's verdict is: wall clock at evaluation − window end
                    self.metrics.window_close_lag.observe(max(0.0, self._clock() - win.end))
                out.incidents += self._evaluate(group, win)
                out.windows_closed += 1
                self.totals.windows += 1
        w = self.windows
        if w is not None and np.isfinite(w.watermark) and self.spec is not None \
                and self.spec.kind == "time":
            self.metrics.watermark.labels("*").set(w.watermark)
            self.metrics.last_event.labels("*").set(w.max_key)
        if out.windows_closed > closed:  # incidents change only when a window closes
            self.metrics.set_open_incidents(self.incidents.open_incidents(),
                                            [m.name for m in self.monitors])

    def _evaluate(self, group: Group, win: ClosedWindow) -> list[dict[str, Any]]:
        assert self.decoder is not None and self.reference is not None
        ref = WindowRef(win.index, win.start, win.end, group.spec.kind)
        versions = sorted(self.decoder.versions.names[v] for v in win.content.versions)
        positions = [{"source": "stream", "partition": p, "first_offset": lo, "last_offset": hi}
                     for p, (lo, hi) in sorted(win.content.positions.items())]
        pending: list[tuple[Monitor, str, Evaluation]] = []
        for model in sorted(self.reference.models):
            for m in group.monitors:
                if not m.applies_to(model):
                    continue
                rsk = self.reference.sketch(model, m.slot)
                if rsk is None:
                    continue
                csk = win.content.sketches.get(f"{model}|{m.slot}") or m.detector.new_sketch(rsk)
                ctx = self._context(m)
                if isinstance(m.detector, GradualDrift):
                    mem = self.memory.setdefault(f"{m.name}|{model}", Memory())
                    evals = m.detector.evaluate_window(csk, rsk, ctx, mem)
                else:
                    evals = m.detector.evaluate(csk, rsk, ctx)
                pending += [(m, model, e) for e in evals]
                self.metrics.windows_closed.labels(m.name).inc()
        return self._judge(pending, ref, versions, positions)

    def _context(self, m: Monitor) -> EvalContext:
        assert self.decoder is not None
        segs = None
        if m.cfg.segment_by:
            segs = list(enumerate(self.decoder.segment_values[m.cfg.segment_by].names))
        cats = category_names(m.cfg.signal, self.decoder) if m.kind == "categorical" else ()
        return EvalContext(segments=segs, categories=cats,
                           min_reference=self.config.detection.min_reference)

    def _sufficient(self, m: Monitor, e: Evaluation) -> bool:
        if m.detector.name == "segment_volume":
            return float(e.details.get("expected", 0.0)) >= m.min_samples / 10
        return e.n_current >= m.min_samples

    def _judge(self, pending: list[tuple[Monitor, str, Evaluation]], ref: WindowRef,
               versions: list[str], positions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        alpha = self.config.detection.fdr_alpha
        tested = [i for i, (m, _, e) in enumerate(pending)
                  if e.p_value is not None and self._sufficient(m, e)]
        q = benjamini_hochberg([pending[i][2].p_value for i in tested])  # type: ignore[misc]
        qvals: dict[int, float] = dict(zip(tested, q.tolist(), strict=True))
        events: list[dict[str, Any]] = []
        # segments folded into one label (beyond the metric cap) share a series: it shows the
        # worst of them, so a breach cannot be overwritten by a clean segment of the same label
        gauges: dict[tuple[str, str, str, str, str], tuple[int, float]] = {}
        for i, (m, model, e) in enumerate(pending):
            labels = (m.name, model, m.detector.name, m.cfg.signal,
                      self.metrics.segment_label(e.segment, m.cfg.segment_by or ""))
            level: int | None
            if not self._sufficient(m, e):
                level = None
            elif e.p_value is None:  # sequential detector: the change detector decides
                level = max(1, m.level(e.value)) if e.details.get("latched") else 0
            else:
                level = m.level(e.value) if qvals.get(i, 1.0) <= alpha else 0
            shown = gauges.get(labels)
            if shown is None or (level or 0) > shown[0]:
                gauges[labels] = (level or 0, e.value)
            finding = Finding(
                monitor=m.cfg, model=model, signal=m.cfg.signal,
                segment={m.cfg.segment_by: e.segment} if m.cfg.segment_by and e.segment else {},
                evaluation=e, level=level,
                threshold=m.critical if level == 2 else m.warning, critical=m.critical,
                direction=m.direction, q_value=qvals.get(i), window=ref, versions=versions,
                positions=positions, reference_id=self.reference.id if self.reference else "",
                config_hash=self.config_hash)
            for ev in self.incidents.observe(finding):
                kind = ev["type"].rsplit(".", 1)[1]
                self.totals.incidents[f"{kind}:{m.detector.name}:{ev['data']['severity']}"] += 1
                self.metrics.incident_events.labels(kind, m.name, ev["data"]["severity"]).inc()
                events.append(ev)
        directions = {m.name: m.direction for m, _, _ in pending}
        for labels, (level, value) in gauges.items():
            self.metrics.statistic.labels(*labels).set(value)
            self.metrics.breach.labels(*labels, directions[labels[0]]).set(level)
        return events

    # -- checkpoint --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this engine is (JSON-serialisable)."""
        if self.decoder is None:
            return {"format": STATE_FORMAT, "started": False}
        t = self.totals
        return {
            "format": STATE_FORMAT, "started": True, "config_hash": self.config_hash,
            "decoder": self.decoder.snapshot(),
            "reference": self.reference.to_json() if self.reference else None,
            "groups": {k: {"spec": g.spec.model_dump(), "hop": g.windows.hop,
                           "windows": g.windows.snapshot(str)} for k, g in self.groups.items()},
            "cut": self._cut,
            "incidents": self.incidents.snapshot(),
            "memory": {k: m.snapshot() for k, m in self.memory.items()},
            "count": self._count,
            "recent": self._recent.tolist(),
            "warmup": [b.snapshot() for b in self._warmup],
            "warmup_keys": [k.tolist() for k in self._warmup_keys],
            "warmup_end": self._warmup_end,
            "totals": {"read": t.read, "valid": t.valid, "late": t.late,
                       "invalid": dict(t.invalid), "windows": t.windows,
                       "incidents": dict(t.incidents)},
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Continue from ``snapshot()``; the config must be the one that produced it."""
        if snap.get("format") != STATE_FORMAT:
            raise CheckpointError(f"unknown state format {snap.get('format')!r}")
        if not snap["started"]:
            return
        if snap["config_hash"] != self.config_hash:
            raise CheckpointError("the checkpoint was written with another config "
                                  f"({snap['config_hash']} != {self.config_hash})")
        d = snap["decoder"]["schema"]
        schema = Schema(tuple(d["numeric"]), tuple(d["categorical"]), tuple(d["segments"]),
                        self.config.input.fields)
        self._schema = schema
        if snap["reference"] is not None:
            self.reference = Reference.from_json(snap["reference"])
        self._reference_events = None
        saved_ref = self.reference
        self.reference = None  # _start would otherwise overwrite the decoder with the profile's
        self._start([])
        self.reference = saved_ref
        assert self.decoder is not None
        self.decoder.restore(snap["decoder"])
        if self.reference is not None:
            self._compile()
        self._cut = snap["cut"]
        for key, gs in snap["groups"].items():
            ws = gs["windows"]
            g = Group(key, WindowSpec(**gs["spec"]), Windows(ws["hop"], ws["k"], ws["lateness"]))
            g.windows.restore(ws, str)
            self.groups[key] = g
        self._assign_groups()
        self.incidents.restore(snap["incidents"])
        self.memory = {k: Memory.restore(v) for k, v in snap["memory"].items()}
        self._count = snap["count"]
        self._recent = np.asarray(snap["recent"], np.float64)
        self._warmup = [Batch.restore(b) for b in snap["warmup"]]
        self._warmup_keys = [np.asarray(k, np.float64) for k in snap["warmup_keys"]]
        self._warmup_end = snap["warmup_end"]
        t = snap["totals"]
        self.totals = Totals(t["read"], t["valid"], t["late"], Tally(t["invalid"]), t["windows"],
                             Tally(t["incidents"]))

    # -- end of input ------------------------------------------------------------------
    def finish(self) -> Output:
        """The input has ended: close every complete window (no more data is coming)."""
        out = Output()
        if self.windows is None:
            return out
        if self.reference is None and self._warmup:
            self.finish_warmup(out)
        if self.reference is not None:
            if self.spec is not None and self.spec.kind == "count":
                # keys are event indices: every one below the count has arrived, so a
                # window ending at the count is complete (its last key is count − 1)
                for g in self.groups.values():
                    g.windows.observe(float(self._count))
            self._close(out, final=True)
        return out


def _start_at(windows: Windows, cut: float) -> None:
    """Evaluation starts at key ``cut`` (the end of the warm-up): nothing before it closes."""
    windows.first_pane = int(np.floor(cut / windows.hop))
    windows.last_closed = windows.first_pane - 1
    windows.max_key = -np.inf
    windows.panes.clear()
