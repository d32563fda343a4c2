"""Prometheus metrics, all in one place, on an injected registry.

Counters are updated once per batch or per closed window — never per event (a
labelled ``inc()`` costs microseconds). The engine's state (open incidents, the
last closed window's statistics and breach levels) is read at scrape time by one
custom collector from the engines' published ``EngineGauges``, so however many
engines a process runs, one writer exports it and a scrape never sees half an
update. Segment label values beyond ``limits.metric_segment_cardinality`` fold
into ``__other__`` so hostile input cannot explode the series count.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftline import __version__
from driftline.decode import REASONS, REPORTS, Batch, Decoder, native
from driftline.decode.vocab import OTHER
from driftline.detectors.sketches import IntArray
from driftline.errors import DriftlineError
from driftline.judge import Coverage, Verdicts

ALL = "__all__"
SEVERITIES = ("low", "medium", "high", "critical")
#: (monitor, model, detector, signal, segment label)
StatisticLabels = tuple[str, str, str, str, str]


NAMESPACE = "driftline"

@dataclass(frozen=True)
class EngineGauges:
    """What one engine shows at scrape time; replaced whole (never mutated) when it changes."""

    monitors: tuple[str, ...] = ()
    #: (monitor, severity) → open incidents
    open_incidents: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: (monitor, model) → labels → (value, breach level 0/1/2, direction), its last window's
    statistics: Mapping[tuple[str, str], Mapping[StatisticLabels, tuple[float, int, str]]] = \
        field(default_factory=dict)
    #: (monitor, model) → a segmented monitor's last window in aggregate
    coverage: Mapping[tuple[str, str], Coverage] = field(default_factory=dict)

    def shown(self, verdicts: Verdicts, evaluated: Iterable[tuple[str, str]],
              segment_label: Callable[[str | None, str | None], str],
              ) -> EngineGauges:
        """These gauges with a closed window's statistics on top.

        Each (monitor, model) ``evaluated`` in the window replaces its series: a segment
        shown last window that is neither breaching nor followed now disappears, instead of
        showing a stale breach. Segments folded into one label (beyond the metric cap) share
        a series: it shows the worst of them.
        """
        shown: dict[tuple[str, str], dict[StatisticLabels, tuple[float, int, str]]] = {
            key: {} for key in evaluated}
        for s in verdicts.series:
            labels = (s.monitor, s.model, s.detector, s.signal,
                      segment_label(s.segment, s.segment_by))
            series = shown.setdefault((s.monitor, s.model), {})
            old = series.get(labels)
            if old is None or s.level > old[1]:
                series[labels] = (s.value, s.level, s.direction)
        if not shown:
            return self
        coverage = {**self.coverage, **{(c.monitor, c.model): c for c in verdicts.coverage}}
        return EngineGauges(self.monitors, self.open_incidents, {**self.statistics, **shown},
                            coverage)


class EngineCollector(Collector):
    """Exports open incidents, last statistics and breach levels, and segment coverage."""

    def __init__(self) -> None:
        self.sources: Callable[[], Iterable[EngineGauges]] = lambda: ()

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on the engines' state: nothing fixed to check at register

    def collect(self) -> Iterator[Metric]:
        views = list(self.sources())
        yield _open_incidents(views)
        stat = GaugeMetricFamily("driftline_statistic", "Statistic of the last closed window.",
                                 labels=["monitor", "model", "detector", "signal", "segment"])
        breach = GaugeMetricFamily(
            "driftline_breach", "0 ok, 1 warning, 2 critical, for the last closed window.",
            labels=["monitor", "model", "detector", "signal", "segment", "direction"])
        for v in views:
            for series in v.statistics.values():
                for labels, (value, level, direction) in series.items():
                    stat.add_metric(list(labels), value)
                    breach.add_metric([*labels, direction], level)
        yield stat
        yield breach
        yield from _coverage(views)


def _open_incidents(views: Sequence[EngineGauges]) -> Metric:
    open_ = GaugeMetricFamily("driftline_incidents_open", "Open incidents.",
                              labels=["monitor", "severity"])
    counts: dict[tuple[str, str], int] = {}
    for v in views:
        for m in v.monitors:
            for sev in SEVERITIES:
                counts.setdefault((m, sev), 0)
        for key, n in v.open_incidents.items():
            counts[key] = counts.get(key, 0) + n
    for (m, sev), n in sorted(counts.items()):
        open_.add_metric([m, sev], n)
    return open_


def _coverage(views: Sequence[EngineGauges]) -> Iterator[Metric]:
    """Segment values per segmented monitor and state, and the worst q-value, summed/minimised."""
    segments = GaugeMetricFamily(
        "driftline_segments", "Segment values of a segmented monitor in its last closed window: "
        "judged, breaching (of the judged), too_small (events, but too few to judge).",
        labels=["monitor", "model", "state"])
    worst = GaugeMetricFamily(
        "driftline_segment_worst_q_value", "Smallest BH q-value among a segmented monitor's "
        "segments in its last closed window.", labels=["monitor", "model"])
    counts: dict[tuple[str, str, str], int] = {}
    qs: dict[tuple[str, str], float] = {}
    for v in views:
        for (monitor, model), c in v.coverage.items():
            for state, n in (("judged", c.judged), ("breaching", c.breaching),
                             ("too_small", c.too_small)):
                counts[(monitor, model, state)] = counts.get((monitor, model, state), 0) + n
            if c.worst_q is not None:
                qs[(monitor, model)] = min(qs.get((monitor, model), 1.0), c.worst_q)
    for labels, n in sorted(counts.items()):
        segments.add_metric(list(labels), n)
    for (monitor, model), q in sorted(qs.items()):
        worst.add_metric([monitor, model], q)
    yield segments
    yield worst


def own_registry(registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """The registry driftline serves, with the process and platform collectors on it
    (process_resident_memory_bytes, _cpu_seconds_total, _open_fds …, python_info).

    Counters and histograms export no ``_created`` series: no panel or rule reads them (they
    were 274 of the demo's 731 sample lines). The switch is client_python's, process-wide.
    """
    disable_created_metrics()  # type: ignore[no-untyped-call]  # client_python has no annotations
    r = registry if registry is not None else CollectorRegistry()
    ProcessCollector(registry=r)
    PlatformCollector(registry=r)
    return r


def model_names(codes: np.ndarray, names: Sequence[str]) -> set[str]:
    """The model names of a batch's model codes (a code of -1 is ``unknown``)."""
    return {names[c] if c >= 0 else "unknown" for c in np.unique(codes).tolist()}


def model_counts(codes: np.ndarray, names: Sequence[str]) -> list[tuple[str, int]]:
    """Events per model name of a batch's model codes (a code of -1 is ``unknown``)."""
    found, counts = np.unique(codes, return_counts=True)
    return [(names[c] if c >= 0 else "unknown", int(n))
            for c, n in zip(found, counts, strict=True)]


class Metrics:
    """The metric families driftline exports (names: docs/operations.md, "Metrics")."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 segment_cardinality: int = 100) -> None:
        r = self.registry = own_registry(registry)
        self._segment_cap = segment_cardinality
        self._segments: dict[str, set[str]] = {}  # segment key → values with their own label
        self._statistic_segments: dict[str, set[str]] = {}
        self._slot_cache: dict[int, tuple[list[str], IntArray]] = {}
        self._slot_index: dict[str, dict[str, int]] = {}  # key → label → slot
        self._models: set[str] = set()
        self._thresholds: set[tuple[str, str]] = set()  # (monitor, model) declared
        self._lock = threading.Lock()
        ns = NAMESPACE
        self.events = Counter("events", "Events read, by model and outcome (valid, invalid, late).",
                              ["model", "outcome"], namespace=ns, registry=r)
        self.invalid = Counter("events_invalid", "Rejected events by reason.", ["reason"],
                               namespace=ns, registry=r)
        self.late = Counter("events_late", "Events behind the watermark (dead-lettered).",
                            namespace=ns, registry=r)
        self.dead_letters = Counter("dead_letters", "Dead-letter records written, by reason.",
                                    ["reason"], namespace=ns, registry=r)
        self.segment_events = Counter("segment_events", "Events per segment value (capped).",
                                      ["model", "segment_key", "segment"], namespace=ns, registry=r)
        self.engines = EngineCollector()
        r.register(self.engines)
        self.threshold = Gauge("threshold", "Thresholds the statistic is compared with.",
                               ["monitor", "model", "detector", "signal", "level", "direction"],
                               namespace=ns, registry=r)
        self.incident_events = Counter("incident_events", "Incident lifecycle events emitted.",
                                       ["type", "monitor", "severity"], namespace=ns, registry=r)
        self.windows_closed = Counter("windows_closed", "Windows closed and evaluated.",
                                      ["monitor"], namespace=ns, registry=r)
        self._coverage(r)
        self._labels(r)
        self.window_close_lag = Histogram(
            "window_close_lag_seconds",
            "Wall-clock seconds between a window's end (event time) and its evaluation: "
            "allowed lateness plus pipeline delay in a live stream; large in a backfill.",
            namespace=ns, registry=r,
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 900, 3600, 86400))
        self.batch_seconds = Histogram(
            "batch_processing_seconds", "Seconds to decode and process one batch.",
            namespace=ns, registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.watermark = Gauge("watermark_seconds", "Event-time watermark (unix seconds).",
                               ["model"], namespace=ns, registry=r)
        self.last_event = Gauge("last_event_timestamp_seconds", "Newest event time seen.",
                                ["model"], namespace=ns, registry=r)
        self._kafka(r)
        self.overflow = Counter(
            "cap_overflow", "Past a cap: events whose value is counted as __other__ "
            "(cardinality_overflow), names left out (feature_overflow, segment_key_overflow, "
            "monitor_overflow).", ["reason"], namespace=ns, registry=r)
        for reason in ("cardinality_overflow", "feature_overflow", "segment_key_overflow",
                       "monitor_overflow"):
            self.overflow.labels(reason)
        self.build_info = Gauge("build_info", "Build information: the version, and the decoder "
                                "that runs (native or python).", ["version", "decoder"],
                                namespace=ns, registry=r)
        self.build_info.labels(__version__, native.name()).set(1)
        # invalid events have no trustworthy model: counted under model="*"; present from the
        # start, so rate() sees the first
        self.events.labels("*", "invalid")
        for reason in REASONS:  # likewise, and a clean stream shows 0 per reason, not "no data"
            self.dead_letters.labels(reason)
            if reason != "late" and reason not in REPORTS:
                self.invalid.labels(reason)

    def _kafka(self, r: CollectorRegistry) -> None:
        """What only `driftline run` sets: consumer progress, state read back, placement."""
        ns = NAMESPACE
        self.consumer_lag = Gauge("consumer_lag", "Messages behind the partition's high watermark.",
                                  ["topic", "partition"], namespace=ns, registry=r)
        self.consumer_position = Gauge("consumer_position", "Next offset to read.",
                                       ["topic", "partition"], namespace=ns, registry=r)
        self.checkpoint_invalid = Counter(
            "checkpoint_invalid", "Changelog records or checkpoints skipped as invalid, by "
            "reason (docs/operations.md).", ["reason"], namespace=ns, registry=r)
        self.input_resets = Counter(
            "input_resets", "Partitions resumed elsewhere than their checkpoint, by reason "
            "(topic_recreated, older_checkpoint, no_valid_checkpoint, events_expired).",
            ["reason"], namespace=ns, registry=r)
        self.input_split = Gauge(
            "input_split", "1 when the input is not partitioned by model id, by evidence: "
            "several_partitions (a model's events in more than one partition), keys (null "
            "keys, or more distinct keys than models, on a topic of several partitions).",
            ["reason"], namespace=ns, registry=r)
        self.model_partitions = Gauge(
            "model_partitions", "Input partitions this instance decoded the model's events "
            "from (more than 1: the model is judged in pieces).", ["model"], namespace=ns,
            registry=r)

    def _coverage(self, r: CollectorRegistry) -> None:
        """What each monitor could judge per window (docs/incidents.md, "Coverage")."""
        ns = NAMESPACE
        self.monitor_windows = Counter(
            "monitor_windows", "Closed windows per monitor by outcome: evaluated, insufficient "
            "(too few events), untestable (nothing to test against), no_events (signal absent), "
            "no_reference (absent from the reference).",
            ["monitor", "outcome"], namespace=ns, registry=r)
        self.blind_windows = Gauge(
            "monitor_blind_windows", "Consecutive closed windows without an evaluation (the "
            "longest run over the monitor's models); 0 while it sees.",
            ["monitor"], namespace=ns, registry=r)

    def _labels(self, r: CollectorRegistry) -> None:
        """The labels layer's (docs/labels.md): bounded label sets, updated once per batch."""
        ns = NAMESPACE
        self.labels = Counter(
            "labels", "The labels layer by outcome: predictions joined, inline, unlabelled; "
            "labels late (beyond labels.ttl), late_arrival (a labels topic's label below its "
            "partition's watermark), ahead (a bad timestamp: beyond window.max_ahead of its "
            "partition's recent labels), lost (to a topic's retention), expired (from the "
            "store), orphan (no prediction), invalid, duplicate, corrupt (store rows).",
            ["outcome"], namespace=ns, registry=r)
        self.label_delay = Gauge("label_delay_seconds", "Label delay quantiles of the joined "
                                 "labels (upper edge of a log histogram bin).", ["quantile"],
                                 namespace=ns, registry=r)
        self.labelled_ratio = Gauge("labelled_ratio", "Share of predictions so far with a "
                                    "label that counts.", namespace=ns, registry=r)
        self.labels_watermark = Gauge(
            "labels_watermark_seconds", "The labels topic's watermark (epoch s; -Inf until "
            "every partition carried a label): a prediction is judged for performance once "
            "it is past its time + labels.ttl.", namespace=ns, registry=r)
        self.labels_watermark.set(float("nan"))  # no labels topic: no value, not 1970
        self.labels_silent_partitions = Gauge(
            "labels_silent_partitions", "Partitions of the labels topic that never carried a "
            "label: they hold the labels' watermark, and the performance layer, back.",
            namespace=ns, registry=r)
        self.performance_held = Gauge(
            "performance_held_events", "Predictions read by the performance layer and held "
            "until their labels are final.", namespace=ns, registry=r)

    def count_labels(self, counts: Mapping[str, int], join: Any) -> None:
        """One batch's label outcomes, and the join's delay quantiles and labelled share."""
        for outcome, n in counts.items():
            if n:
                self.labels.labels(outcome).inc(n)
        for q, v in join.delay_quantiles().items():
            if v is not None:
                self.label_delay.labels(q).set(v)
        share = join.labelled_share()
        if share is not None:
            self.labelled_ratio.set(share)

    def declare_thresholds(self, monitors: Sequence[Any], models: Sequence[str] = ()) -> None:
        """Each monitor's incident series at 0, and its warning and critical thresholds for
        each of ``models`` it applies to (labelled by model, as the statistics are)."""
        for m in monitors:
            self.declare_monitor(m.name)
            for model in models:
                if (m.name, model) in self._thresholds or not m.applies_to(model):
                    continue
                self._thresholds.add((m.name, model))
                for level, value in (("warning", m.warning), ("critical", m.critical)):
                    self.threshold.labels(m.name, model, m.detector.name, m.cfg.signal, level,
                                          m.direction).set(value)

    def models_seen(self) -> list[str]:
        """Models with a valid event so far (in any engine of this process)."""
        return sorted(self._models)

    def show_time(self, models: Sequence[str], watermark: float, newest: float) -> None:
        """An engine's watermark and newest event time, for each of its models that had a
        valid event (a model only in the reference has no time of its own)."""
        for model in models:
            if model not in self._models:
                continue
            self.watermark.labels(model).set(watermark)
            self.last_event.labels(model).set(newest)

    def declare_monitor(self, monitor: str) -> None:
        """Create a monitor's incident series at 0, so increase() sees the first event."""
        for kind in ("opened", "updated", "escalated", "resolved"):
            for severity in SEVERITIES:
                self.incident_events.labels(kind, monitor, severity)

    def segment_label(self, value: str | None, key: str | None = "") -> str:
        """The label for a segment value: itself while its key is under the cap, else ``__other__``.

        The cap is per segment key, so a flood in one key cannot take the labels of another.
        """
        with self._lock:
            return self._label(self._segments, value, key)

    def statistic_label(self, value: str | None, key: str | None = "") -> str:
        """``segment_label`` for the statistic gauges, whose labels are counted apart.

        Gauges are written for breaching and followed segments only, so their label slots go
        to the first ``cap`` segment values that breach, not to the first that had traffic.
        """
        with self._lock:
            return self._label(self._statistic_segments, value, key)

    def _label(self, spaces: dict[str, set[str]], value: str | None, key: str | None) -> str:
        if value is None:
            return ALL
        seen = spaces.setdefault(key or "", set())
        if value in seen:
            return value
        if len(seen) < self._segment_cap:
            seen.add(value)
            return value
        return OTHER

    def _slots(self, key: str, names: list[str]) -> tuple[IntArray, list[str]]:
        """Code → label slot for a decoder's vocabulary ``names`` of ``key``; the slots' labels.

        Cached per vocabulary (engines have their own) and extended as it grows, so counting
        a batch costs one bincount, not one label lookup per segment value.
        """
        with self._lock:
            entry = self._slot_cache.get(id(names))
            if entry is None or entry[0] is not names:
                if len(self._slot_cache) >= 256:  # engines come and go (rebalances): bounded
                    self._slot_cache.pop(next(iter(self._slot_cache)))
                entry = self._slot_cache[id(names)] = (names, np.empty(0, np.int64))
            slots = self._slot_index.setdefault(key, {})
            codes = entry[1]
            if codes.size < len(names):
                new = [slots.setdefault(self._label(self._segments, n, key), len(slots))
                       for n in names[codes.size:]]
                codes = np.concatenate([codes, np.asarray(new, np.int64)])
                self._slot_cache[id(names)] = (names, codes)
            return codes, list(slots)

    def count_dead_letters(self, reasons: Mapping[str, int]) -> None:
        """Dead letters by reason; rejected events also count as invalid, late ones as late.

        ``cardinality_overflow`` events were processed (as ``__other__``), so they are
        dead-lettered for the record but are neither invalid nor late.
        """
        for reason, n in reasons.items():
            self.dead_letters.labels(reason).inc(n)
            if reason == "late":
                self.late.inc(n)  # events_total{outcome="late"} is counted per model by the engine
            elif reason not in REPORTS:
                self.invalid.labels(reason).inc(n)
                self.events.labels("*", "invalid").inc(n)

    def count_events(self, counts: Sequence[tuple[str, int]], outcome: str) -> list[str]:
        """``driftline_events_total{model, outcome}`` for a batch's events of one outcome
        (``model_counts``); the models that had no valid event before (their first valid events).

        A model's ``late`` series exists at 0 from its first valid event, so ``rate()``
        sees the first late one.
        """
        new = []
        for name, n in counts:
            self.events.labels(name, outcome).inc(n)
            if outcome == "valid" and name not in self._models:
                self._models.add(name)
                self.events.labels(name, "late")
                new.append(name)
        return new

    def count_valid(self, batch: Batch, decoder: Decoder,
                    counts: Sequence[tuple[str, int]]) -> list[str]:
        """Count a batch's valid events (``counts``: theirs per model); the models seen for the
        first time."""
        new = self.count_events(counts, "valid")
        self.count_segments(batch, decoder)
        return new

    def count_segments(self, batch: Batch, decoder: Decoder) -> None:
        """Events per (model, segment key, segment label): one unique per key, a few incs."""
        models = decoder.models.names
        for key, col in batch.segments.items():
            ok = (col >= 0) & (batch.model >= 0)
            if not ok.any():
                continue
            slot_of, labels = self._slots(key, decoder.segment_values[key].names)
            counts = np.bincount(batch.model[ok] * len(labels) + slot_of[col[ok]])
            for pair in np.flatnonzero(counts):
                m, slot = divmod(int(pair), len(labels))
                self.segment_events.labels(models[m], key, labels[slot]).inc(int(counts[pair]))

    def watch(self, sources: Callable[[], Iterable[EngineGauges]]) -> None:
        """Export at scrape time the gauges of the engines ``sources`` returns."""
        self.engines.sources = sources


def serve(metrics: Metrics, addr: str, port: int) -> int:
    """Serve /metrics over HTTP in a daemon thread; returns the bound port (0 picks one).

    A port that cannot be bound is a ``DriftlineError`` naming the address and the port.
    """
    try:
        server, _thread = start_http_server(port, addr=addr, registry=metrics.registry)
    except OSError as exc:
        why = "address already in use" if exc.errno == errno.EADDRINUSE else \
            (exc.strerror or str(exc))
        hint = "; another process listens there: choose another port with --metrics-port " \
               "(0 picks a free one)" if exc.errno == errno.EADDRINUSE else ""
        raise DriftlineError(f"metrics: cannot listen on {addr}:{port}: {why}{hint}") from exc
    return int(server.server_address[1])
