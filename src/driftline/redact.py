"""The one rule for what never reaches a log: secret-looking keys, at any depth.

Used by the structured log (every event) and for the Kafka client settings that
``run`` logs at start-up; values that came from ``{env: …}``/``{file: …}``
references are hidden too, whatever their key (``extra``).

>>> redact({"sasl.password": "p", "client.id": "x", "nested": {"api_key": "k"}})
{'sasl.password': '***', 'client.id': 'x', 'nested': {'api_key': '***'}}
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

SECRET_KEY = re.compile(
    r"password|passwd|secret|token|credential|private|api[._-]?key|sasl\.username|"
    r"sasl\.oauthbearer\.config|ssl\.key|ssl\.keystore|ssl_key", re.I)
HIDDEN = "***"


def is_secret(key: object) -> bool:
    return bool(SECRET_KEY.search(str(key)))


def redact(mapping: Mapping[Any, Any], extra: Collection[str] = ()) -> dict[Any, Any]:
    """A copy with secret values (by key, or named in ``extra``) as ``***``; callables dropped."""
    out: dict[Any, Any] = {}
    for key, value in mapping.items():
        if callable(value):
            continue  # a logger, a callback: not configuration to show
        if key in extra or is_secret(key):
            out[key] = HIDDEN
        elif isinstance(value, Mapping):
            out[key] = redact(value)
        else:
            out[key] = value
    return out
