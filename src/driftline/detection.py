"""Detection: closed windows → evaluations → judgement → the incident lifecycle.

What happens when the watermark closes windows, in every group: each window is
evaluated (``evaluate.py``), its tests judged together (``judge.py``), the
findings advance the incident manager, and the statistics are published for
scrape time. Everything it emits derives from the data, never from the clock
(the clock only feeds the close-lag histogram).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from driftline.config import Config
from driftline.coverage import Coverage
from driftline.decode import Decoder
from driftline.evaluate import Evaluator
from driftline.incidents import IncidentManager
from driftline.judge import FactsByModel, judge
from driftline.metrics import EngineGauges, Metrics
from driftline.monitors import Monitor
from driftline.reference import Reference
from driftline.totals import Totals
from driftline.windows import ClosedWindow, Group, WindowGroups
from driftline.windows.groups import DEFAULT


class Detection:
    """The engine's evaluate stage: memory, incident lifecycle and what it shows."""

    def __init__(self, config: Config, metrics: Metrics, origin: Mapping[str, Any],
                 config_hash: str, clock: Callable[[], float], layer: str | None = None,
                 label_origin: Mapping[str, Any] | None = None) -> None:
        d = config.detection
        self.alpha = d.fdr_alpha
        self.show_every = config.limits.metric_segment_cardinality
        #: True: a finding for every segment of every window, clean ones too (slower; for
        #: whoever compares with a per-segment view: tests, a recorded investigation)
        self.every_finding = False
        self.metrics, self.origin, self.config_hash, self.clock = metrics, origin, config_hash, clock
        #: where the joined labels come from (what performance findings cite): None, no labels
        self.label_origin = label_origin
        self.evaluator = Evaluator(d.min_reference)
        self.incidents = IncidentManager(
            source=f"driftline/{config.instance}", open_after=d.open_after,
            resolve_after=d.resolve_after, update_every=d.update_every)
        self.gauges = EngineGauges()
        self.coverage = Coverage(d.coverage_after)
        # the models the reference lacks (coverage-reference): reported once, by the engine
        # of every monitor or of the behaviour layer
        self.unreferenced = layer != "performance"

    def monitors_declared(self, monitors: list[Monitor]) -> None:
        self.gauges = EngineGauges(tuple(m.name for m in monitors))
        self.coverage.declare(monitors)

    def close(self, windowing: WindowGroups[Monitor], decoder: Decoder, reference: Reference,
              totals: Totals) -> tuple[list[dict[str, Any]], int]:
        """Evaluate every window the watermark passed; the incident events and the count."""
        events: list[dict[str, Any]] = []
        closed = 0
        for group, win in windowing.close_ready():
            if group.spec.kind == "time":
                # how stale a window's verdict is: wall clock at evaluation − window end
                self.metrics.window_close_lag.observe(max(0.0, self.clock() - win.end))
            events += self._window(group, win, decoder, reference, totals)
            closed += 1
        totals.windows += closed
        default = windowing.default
        if default is not None and default.spec.kind == "time" \
                and np.isfinite(default.windows.watermark):
            self.metrics.show_time(decoder.models.names, default.windows.watermark,
                                   default.windows.mark)
        if closed:  # incidents change only when a window closes
            self.gauges = EngineGauges(self.gauges.monitors, self.incidents.open_incidents(),
                                       self.gauges.statistics, self.gauges.coverage)
        return events, closed

    def _window(self, group: Group[Monitor], win: ClosedWindow, decoder: Decoder,
                reference: Reference, totals: Totals) -> list[dict[str, Any]]:
        pending, evaluated = self.evaluator.evaluate(group.monitors, win.content, reference,
                                                     decoder)
        for name in evaluated:
            self.metrics.windows_closed.labels(name).inc()
        facts = FactsByModel(win, group.spec.kind, decoder.versions.names, self.origin,
                             reference.id, self.config_hash, self.label_origin)
        verdicts = judge(pending, facts, self.alpha, self.incidents.followed(),
                         self.show_every, self.every_finding)
        self.gauges = self.gauges.shown(verdicts, [(p.monitor.name, p.model) for p in pending],
                                        self.metrics.statistic_label)
        outcome, blind = self.coverage.window(group.monitors, verdicts, pending, reference,
                                              facts, win.content, group.key)
        if group.key == DEFAULT and self.unreferenced:
            blind += self.coverage.models(group.monitors, facts)
        self._show_coverage(outcome)
        events: list[dict[str, Any]] = []
        for f in [*verdicts.findings, *blind]:
            for ev in self.incidents.observe(f):
                kind = ev["type"].rsplit(".", 1)[1]
                severity = ev["data"]["severity"]
                totals.incidents[(kind, f.evaluation.detector, severity)] += 1
                self.metrics.incident_events.labels(kind, f.monitor.name, severity).inc()
                events.append(ev)
        return events

    def models_seen(self, per_model: list[tuple[str, int]], reference: Reference) -> list[str]:
        """Count the accepted events of models the reference lacks (never compared); a
        notice for each such model seen for the first time."""
        new = self.coverage.seen(per_model, reference)
        return [f"model {m!r}: events but no reference (it holds {sorted(reference.models)}); "
                "they are counted, not compared, and a coverage incident opens" for m in new]

    def _show_coverage(self, outcome: dict[str, str]) -> None:
        for name, o in outcome.items():
            self.metrics.monitor_windows.labels(name, o).inc()
        for name, streak in self.coverage.blind_windows().items():
            if name in outcome:
                self.metrics.blind_windows.labels(name).set(streak)

    def snapshot(self) -> dict[str, Any]:
        return {"incidents": self.incidents.snapshot(), "memory": self.evaluator.snapshot(),
                "coverage": self.coverage.snapshot()}

    def restore(self, incidents: dict[str, Any], memory: dict[str, Any],
                monitors: list[Monitor], coverage: dict[str, Any] | None = None) -> None:
        self.incidents.restore(incidents)
        self.evaluator.restore(memory, monitors)
        if coverage is not None:
            self.coverage.restore(coverage)
        self.gauges = EngineGauges(self.gauges.monitors, self.incidents.open_incidents())
