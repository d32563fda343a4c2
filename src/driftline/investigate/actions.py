"""Actions on incidents: acknowledge, annotate, close — as deterministic CloudEvents.

An action's id is ``act-`` + sha256(incident id, action, actor, stated time): recording the same
action again (a retry, the same command run twice with the same ``--at``) gives the same id, and
readers count it once. Besides the actor as stated (``--by``), the event records who recorded it
as the system knows them: the Kafka SASL username when the action goes to a topic over SASL,
else the OS user.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

from driftline.events import ActionEvent, ActionKind, Principal
from driftline.investigate.history import IncidentHistory, kind_of
from driftline.timestamps import iso

VERBS: dict[str, ActionKind] = {"ack": "acknowledged", "note": "annotated", "close": "closed"}
SOURCE = "driftline/cli"


def action_id(incident_id: str, action: str, actor: str, at: str) -> str:
    digest = hashlib.sha256("\x1f".join((incident_id, action, actor, at)).encode()).hexdigest()
    return "act-" + digest[:24]


def os_principal() -> Principal:
    """The OS user running the command (the uid when the system has no name for it)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid:{os.getuid()}"
    return Principal(kind="os_user", name=name)


def kafka_principal(settings: Mapping[str, Any]) -> Principal:
    """The SASL username the producer authenticates with, if SASL gives one; else the OS user."""
    protocol = str(settings.get("security.protocol", "")).upper()
    username = settings.get("sasl.username")
    if protocol.startswith("SASL") and username:
        return Principal(kind="sasl", name=str(username))
    return os_principal()


def action_event(incident_id: str, kind: ActionKind, *, by: str, principal: Principal, at: float,
                 note: str | None = None, root_cause: str | None = None,
                 actions: Sequence[str] = (), false_alarm: bool = False) -> dict[str, Any]:
    """The CloudEvent of one action (validated by its contract)."""
    stated = iso(at)
    event = ActionEvent(
        id=action_id(incident_id, kind, by, stated), source=SOURCE,
        type=f"io.driftline.incident.{kind}", subject=incident_id, time=stated,
        data={"incident_id": incident_id, "action": kind, "by": by, "principal": principal,
              "at": stated, "note": note, "root_cause": root_cause, "actions": list(actions),
              "false_alarm": false_alarm})
    return event.model_dump(mode="json")


def refusal(history: IncidentHistory, event: dict[str, Any]) -> str | None:
    """Why ``event`` must not be recorded on ``history`` (None: record it).

    An incident detection never raised cannot be acted on (a typo in the id); a closed one
    cannot be acknowledged or closed again; an annotation is always welcome.
    """
    if not history.known:
        return f"no detection event of incident {history.incident_id} in the stream"
    kind = kind_of(event)
    if kind == "annotated":
        return None
    closed = history.action("closed")
    if closed is not None:
        return (f"incident {history.incident_id} was closed by {closed['data']['by']} at "
                f"{closed['data']['at']}")
    if kind == "acknowledged":
        ack = history.action("acknowledged")
        if ack is not None:
            return (f"incident {history.incident_id} was acknowledged by {ack['data']['by']} at "
                    f"{ack['data']['at']}")
    return None
