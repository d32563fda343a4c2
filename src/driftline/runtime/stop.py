"""Stopping: why, since when, and how long the shutdown may take (SIGTERM, SIGINT, a
watchdog that exits when the final commit hangs)."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any


class Stop:
    """A requested stop: the batch in hand is finished and committed within ``timeout``."""

    def __init__(self, timeout: float, log: Any) -> None:
        self.timeout = timeout
        self.log = log
        self.reason: str | None = None
        self.at: float | None = None
        self._watchdog: threading.Timer | None = None

    @property
    def requested(self) -> bool:
        return self.reason is not None

    def request(self, reason: str) -> None:
        """The first request counts: its reason is logged, its time starts the deadline."""
        if self.reason is None:
            self.reason = reason
            self.at = time.monotonic()

    def deadline(self) -> float:
        """When the final commit must be done: 5 s before the watchdog exits (1 s at least)."""
        start = self.at if self.at is not None else time.monotonic()
        return start + max(1.0, self.timeout - 5.0)

    def give_up(self) -> bool:
        """Retry loops stop once a requested shutdown has used up its time."""
        return self.reason is not None and time.monotonic() > self.deadline()

    def install_signals(self) -> dict[int, Any]:
        """SIGTERM/SIGINT request a stop (a second one exits at once); the previous handlers."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}

        def handler(signum: int, _frame: Any) -> None:
            name = signal.Signals(signum).name
            if self.reason is not None:
                self.log.error("second signal: exiting without commit", signal=name)
                os._exit(128 + signum)
            self.request(name)
            self._watchdog = threading.Timer(self.timeout, self._hard_exit)
            self._watchdog.daemon = True
            self._watchdog.start()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def restore_signals(self, previous: dict[int, Any]) -> None:
        """The handlers from before ``install_signals``; the watchdog is called off."""
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if self._watchdog is not None:
            self._watchdog.cancel()

    def _hard_exit(self) -> None:
        self.log.error("shutdown did not finish in time; exiting without commit",
                       timeout_seconds=self.timeout)
        os._exit(3)
