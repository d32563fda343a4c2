"""structlog set-up: readable on a terminal, JSON lines otherwise; secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET = re.compile(r"(password|secret|token|sasl\.|ssl\.key|credential)", re.I)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the value of any key that looks like a secret, at any depth."""
    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: "***" if _SECRET.search(str(k)) else walk(v) for k, v in obj.items()}
        return obj
    for k in list(event):
        event[k] = "***" if _SECRET.search(k) and k != "event" else walk(event[k])
    return event


def configure(level: str = "info", json: bool | None = None) -> None:
    json = not sys.stderr.isatty() if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str = "driftline") -> Any:
    return structlog.get_logger(name)
