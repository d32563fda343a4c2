"""Prometheus metrics, all in one place, on an injected registry.

Updated once per batch or per closed window — never per event (a labelled
``inc()`` costs microseconds). Segment label values beyond
``limits.metric_segment_cardinality`` fold into ``__other__`` so hostile input
cannot explode the series count.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from driftline import __version__
from driftline.decode import REASONS
from driftline.vocab import OTHER

ALL = "__all__"


class Metrics:
    """The metric families driftline exports (names: docs/metrics.md)."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 segment_cardinality: int = 100) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self._segment_cap = segment_cardinality
        self._segments: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        ns = "driftline"
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
        self.statistic = Gauge("statistic", "Statistic of the last closed window.",
                               ["monitor", "model", "detector", "signal", "segment"],
                               namespace=ns, registry=r)
        self.threshold = Gauge("threshold", "Thresholds the statistic is compared with.",
                               ["monitor", "model", "detector", "signal", "level", "direction"],
                               namespace=ns, registry=r)
        self.breach = Gauge("breach", "0 ok, 1 warning, 2 critical, for the last closed window.",
                            ["monitor", "model", "detector", "signal", "segment", "direction"],
                            namespace=ns, registry=r)
        self.incidents_open = Gauge("incidents_open", "Open incidents.", ["monitor", "severity"],
                                    namespace=ns, registry=r)
        self.incident_events = Counter("incident_events", "Incident lifecycle events emitted.",
                                       ["type", "monitor", "severity"], namespace=ns, registry=r)
        self.windows_closed = Counter("windows_closed", "Windows closed and evaluated.",
                                      ["monitor"], namespace=ns, registry=r)
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
        self.consumer_lag = Gauge("consumer_lag", "Messages behind the partition's high watermark.",
                                  ["topic", "partition"], namespace=ns, registry=r)
        self.consumer_position = Gauge("consumer_position", "Next offset to read.",
                                       ["topic", "partition"], namespace=ns, registry=r)
        self.build_info = Gauge("build_info", "Build information.", ["version"], namespace=ns,
                                registry=r)
        self.build_info.labels(__version__).set(1)
        # invalid events have no trustworthy model: counted under model="*"; present from the
        # start, so rate() sees the first
        self.events.labels("*", "invalid")
        for reason in REASONS:  # likewise, and a clean stream shows 0 per reason, not "no data"
            self.dead_letters.labels(reason)
            if reason not in ("late", "cardinality_overflow"):
                self.invalid.labels(reason)

    def declare_monitor(self, monitor: str) -> None:
        """Create a monitor's incident series at 0, so increase() sees the first event."""
        for kind in ("opened", "updated", "escalated", "resolved"):
            for severity in ("low", "medium", "high", "critical"):
                self.incident_events.labels(kind, monitor, severity)

    def segment_label(self, value: str | None, key: str = "") -> str:
        """The label for a segment value: itself while its key is under the cap, else ``__other__``.

        The cap is per segment key, so a flood in one key cannot take the labels of another.
        """
        if value is None:
            return ALL
        with self._lock:
            seen = self._segments.setdefault(key, set())
            if value in seen:
                return value
            if len(seen) < self._segment_cap:
                seen.add(value)
                return value
        return OTHER

    def count_dead_letters(self, reasons: Mapping[str, int]) -> None:
        """Dead letters by reason; rejected events also count as invalid, late ones as late.

        ``cardinality_overflow`` events were processed (as ``__other__``), so they are
        dead-lettered for the record but are neither invalid nor late.
        """
        for reason, n in reasons.items():
            self.dead_letters.labels(reason).inc(n)
            if reason == "late":
                self.late.inc(n)  # events_total{outcome="late"} is counted per model by the engine
            elif reason != "cardinality_overflow":
                self.invalid.labels(reason).inc(n)
                self.events.labels("*", "invalid").inc(n)

    def set_open_incidents(self, counts: Mapping[tuple[str, str], int], monitors: list[str]) -> None:
        for m in monitors:
            for sev in ("low", "medium", "high", "critical"):
                self.incidents_open.labels(m, sev).set(counts.get((m, sev), 0))


def serve(metrics: Metrics, addr: str, port: int) -> int:
    """Serve /metrics over HTTP in a daemon thread; returns the bound port (0 picks one)."""
    server, _thread = start_http_server(port, addr=addr, registry=metrics.registry)
    return int(server.server_address[1])
