"""librdkafka settings for driftline's Kafka clients: defaults, pass-through, secrets, redaction.

Precedence, lowest first (as quix-streams does it): driftline's defaults for the client's
role < ``kafka.settings`` (shared by every client) < ``kafka.settings.<role>`` (a nested map
for one role: ``consumer``, ``producer``, ``admin``) < what driftline must force for
correctness (manual commits, idempotence, the transactional id, read_committed changelog
reads). A forced value that the settings contradict is overridden and reported.

Secret values are written in the config as ``{env: NAME}`` or ``{file: PATH}`` and resolved
only here, when a client is built; ``driftline.redact`` is what the logs see.

>>> from driftline.config import KafkaConfig
>>> from driftline.redact import redact
>>> cfg = KafkaConfig(settings={"sasl.password": {"env": "HOME"}, "client.id": "x"})
>>> conf = client_settings(cfg, "admin")
>>> conf["sasl.password"] != "***", redact(conf)["sasl.password"]
(True, '***')
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from driftline.config import KafkaConfig
from driftline.errors import ConfigError

Role = Literal["consumer", "producer", "admin", "changelog"]
ROLES = ("consumer", "producer", "admin")


DEFAULTS: dict[str, dict[str, Any]] = {
    "consumer": {
        # inputs written by transactional producers: never read what may still be aborted
        "isolation.level": "read_committed",
        # librdkafka's default (1 s) idles the fetcher whenever the local queue is full
        "fetch.queue.backoff.ms": 20,
        "reconnect.backoff.max.ms": 2000,
    },
    "producer": {
        "linger.ms": 5,
        # a 30 s broker outage must fit into one transaction
        "transaction.timeout.ms": 60000,
        "reconnect.backoff.max.ms": 2000,
    },
    "admin": {},
}
# restores read to the end: do not let the broker hold an empty fetch for 500 ms
DEFAULTS["changelog"] = {"reconnect.backoff.max.ms": 2000, "fetch.wait.max.ms": 10}

FORCED: dict[str, dict[str, Any]] = {
    # auto.offset.reset=error: every partition is started at an explicit offset (its
    # checkpoint, or the beginning), so a position outside the log is never reset silently:
    # librdkafka reports it and the run loop resets it by its documented policy, loudly.
    "consumer": {"enable.auto.commit": False, "enable.auto.offset.store": False,
                 "auto.offset.reset": "error"},
    "producer": {"enable.idempotence": True, "acks": "all"},
    "admin": {},
    "changelog": {"enable.auto.commit": False, "isolation.level": "read_committed",
                  "enable.partition.eof": True, "auto.offset.reset": "earliest"},
}

# Shared settings that only one side understands; librdkafka warns about the others.
_CONSUMER_ONLY = re.compile(
    r"^(group\.|session\.timeout|heartbeat\.|max\.poll|partition\.assignment|auto\.|"
    r"isolation\.level|fetch\.|queued\.|enable\.auto|enable\.partition\.eof|check\.crcs|"
    r"max\.partition\.fetch|consume\.callback|offset\.store)")
_PRODUCER_ONLY = re.compile(
    r"^(acks|request\.required\.acks|linger\.ms|queue\.buffering|batch\.|compression\.|"
    r"transaction|enable\.idempotence|message\.send\.max|retries|delivery\.|message\.timeout|"
    r"enable\.gapless|sticky\.|partitioner|request\.timeout|compression)")


def resolve(key: str, value: Any) -> tuple[Any, bool]:
    """A setting's value with ``{env: NAME}``/``{file: PATH}`` resolved; and whether it was one."""
    if not isinstance(value, Mapping):
        return value, False
    if set(value) == {"env"}:
        name = str(value["env"])
        if name not in os.environ:
            raise ConfigError(f"kafka.settings.{key}: environment variable {name} is not set")
        return os.environ[name], True
    if set(value) == {"file"}:
        path = Path(str(value["file"]))
        try:
            return path.read_text().strip(), True
        except OSError as exc:
            raise ConfigError(f"kafka.settings.{key}: cannot read {path}: {exc.strerror}") from exc
    raise ConfigError(f"kafka.settings.{key}: a value must be a scalar, {{env: NAME}} or "
                      "{file: PATH}")


def _applies(key: str, role: Role) -> bool:
    if role in ("consumer", "changelog"):
        return not _PRODUCER_ONLY.match(key)
    if role == "producer":
        return not _CONSUMER_ONLY.match(key)
    return not (_CONSUMER_ONLY.match(key) or _PRODUCER_ONLY.match(key))


def client_settings(cfg: KafkaConfig, role: Role, **explicit: Any) -> dict[str, Any]:
    """The librdkafka dict for one client: defaults < settings < role settings < forced."""
    conf: dict[str, Any] = dict(DEFAULTS[role])
    shared = {k: v for k, v in cfg.settings.items() if k not in ROLES}
    own = cfg.settings.get("producer" if role == "producer" else
                           "admin" if role == "admin" else "consumer") or {}
    if not isinstance(own, Mapping):
        raise ConfigError(f"kafka.settings.{role}: must be a mapping of librdkafka settings")
    for key, value in shared.items():
        if _applies(key, role):
            conf[key] = resolve(key, value)[0]
    for key, value in own.items():
        conf[key] = resolve(key, value)[0]
    conf["bootstrap.servers"] = cfg.bootstrap
    conf.update(FORCED[role])
    conf.update({k.replace("_", "."): v for k, v in explicit.items()})
    return conf


def overridden(cfg: KafkaConfig, role: Role) -> list[str]:
    """Settings the user gave that driftline overrides for correctness (to warn about)."""
    given = {k: v for k, v in cfg.settings.items() if k not in ROLES}
    own = cfg.settings.get("producer" if role == "producer" else "consumer") or {}
    given.update(own if isinstance(own, Mapping) else {})
    return sorted(k for k, v in given.items()
                  if k in FORCED[role] and _same(v) != _same(FORCED[role][k]))


def _same(value: Any) -> str:
    """A setting's value compared case-blind, librdkafka's synonyms of 'earliest' included."""
    text = str(value).lower()
    return "earliest" if text in ("smallest", "beginning") else text


def secret_keys(cfg: KafkaConfig) -> set[str]:
    """Keys whose values came from ``{env}``/``{file}`` references (anywhere in settings)."""
    out = set()
    for key, value in cfg.settings.items():
        if key in ROLES and isinstance(value, Mapping):
            out |= {k for k, v in value.items() if isinstance(v, Mapping)}
        elif isinstance(value, Mapping):
            out.add(key)
    return out
