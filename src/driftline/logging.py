"""structlog set-up: readable on a terminal, JSON lines otherwise; secrets redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from driftline.redact import HIDDEN, is_secret, redact


def redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: secret-looking keys of the event, at any depth, become ``***``."""
    for k in list(event):
        if k != "event" and is_secret(k):
            event[k] = HIDDEN
        elif isinstance(event[k], dict):
            event[k] = redact(event[k])
    return event


class _Stderr:
    """``sys.stderr`` as it is at each write, not at ``configure``: whoever swaps it later (a
    test's capture, an embedding tool) gets the lines, and a closed one is never written to."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "info", json: bool | None = None) -> None:
    json = not sys.stderr.isatty() if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    redact_event, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


def get_logger(name: str = "driftline") -> Any:
    return structlog.get_logger(name)
