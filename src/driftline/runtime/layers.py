"""``driftline run --labels-topic``: the behaviour layer and the performance layer, together.

The behaviour layer's ``Runtime`` runs in the calling thread (it owns the signals); the
performance layer's (``performance.py``) in a thread of its own, with its own Kafka clients,
labels store and transactions — they share nothing but the exported metrics. A stop of one
stops the other; a failure of the performance layer stops the run with its error.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from driftline.config import Config
from driftline.errors import DriftlineError
from driftline.metrics import Metrics
from driftline.runtime.loop import Runtime
from driftline.runtime.performance import PerformanceRuntime

JOIN_MARGIN = 10.0  # seconds beyond the performance layer's shutdown timeout


class Layers:
    """Both layers of one ``driftline run`` with a labels topic."""

    def __init__(self, config: Config, *, labels_topic: str, store: str | Path,
                 metrics: Metrics, **kwargs: Any) -> None:
        self.failure: BaseException | None = None
        self.until_idle = kwargs.get("until_idle")
        self.performance = PerformanceRuntime(config, labels_topic=labels_topic, store=store,
                                              metrics=metrics, **kwargs)
        self.behaviour = Runtime(config, metrics=metrics, layer="behaviour",
                                 stop_when=self._performance_gone, **kwargs)
        both = (self.behaviour, self.performance)
        metrics.watch(lambda: [p.engine.gauges for rt in both for p in list(rt.parts.values())])
        self._summary: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run_performance, name="performance",
                                         daemon=True)

    @property
    def abandoned(self) -> bool:
        """A producer of either layer wedged inside librdkafka (see kafka_sink)."""
        return bool(self.behaviour.sink.abandoned or self.performance.sink.abandoned)

    def _stop_performance(self, reason: str) -> None:
        """Stop the performance layer and wait for it, bounded by its shutdown timeout (a
        layer wedged in a commit is an error, not a hang)."""
        self.performance.request_stop(reason)
        self._thread.join(self.performance.stop.timeout + JOIN_MARGIN)
        if self._thread.is_alive() and self.failure is None:
            self.failure = DriftlineError(
                f"the performance layer did not stop within {self.performance.stop.timeout:.0f}"
                "s of the shutdown timeout; its last uncommitted work is redone at the restart")

    def _run_performance(self) -> None:
        try:
            self._summary = self.performance.run(install_signals=False)
        except BaseException as exc:  # reported by run(): the run stops with it
            self.failure = exc

    def _performance_gone(self, _: Runtime) -> bool:
        """Stop the behaviour layer when the performance layer failed (or, outside
        until_idle, stopped)."""
        return self.failure is not None or (
            self.until_idle is None and not self._thread.is_alive())

    def run(self) -> dict[str, Any]:
        """Run both until stopped or idle; the behaviour layer's summary with the
        performance layer's under ``performance``."""
        self._thread.start()
        try:
            summary = self.behaviour.run()
        except BaseException:
            self._stop_performance("the behaviour layer failed")
            raise
        if self.until_idle is None or self.behaviour.stop.requested:
            self._stop_performance(self.behaviour.stop.reason or "behaviour stopped")
        else:
            self._thread.join()  # until_idle: it drains and exits by itself
        if self.failure is not None:
            if isinstance(self.failure, DriftlineError):
                raise self.failure
            raise DriftlineError(f"the performance layer failed: {self.failure!r}") \
                from self.failure
        return {**summary, "performance": self._summary}
