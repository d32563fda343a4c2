"""``driftline incident ack|note|close|list|show``: people's actions on incidents, and their state.

Actions are CloudEvents appended to the incident file (under its lock) or produced to the
incident topic, keyed by incident id. Recording an action again with the same stated time
(``--at``) is a no-op (same id). Exit codes: 0 done (or already recorded); 1 an error — an
unknown incident, an action refused (acknowledging or closing a closed incident), a file or
topic that cannot be read; 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from driftline.cli.explain import add_stream_arguments, config_of, stream_of

EXIT_OK, EXIT_ERROR = 0, 1


def _at(text: str | None) -> float:
    from driftline.errors import DriftlineError
    from driftline.timestamps import parse_timestamp

    if text is None:
        return round(time.time(), 3)
    t = parse_timestamp(text)
    if t is None:
        raise DriftlineError(f"--at {text!r}: not an RFC 3339 time with an offset")
    return t


def cmd_action(args: argparse.Namespace) -> int:
    from driftline.errors import DriftlineError
    from driftline.investigate import actions, streams
    from driftline.investigate.history import find
    from driftline.io.kafka_settings import client_settings

    config = config_of(args)
    stream = stream_of(args)
    history = find(stream.histories(config), args.incident_id, stream.where)
    principal = actions.os_principal() if stream.path is not None else \
        actions.kafka_principal(client_settings(config.kafka, "producer"))
    kind = actions.VERBS[args.verb]
    event = actions.action_event(
        history.incident_id, kind, by=args.by, principal=principal, at=_at(args.at),
        note=args.note, root_cause=getattr(args, "root_cause", None),
        actions=getattr(args, "actions", None) or (),
        false_alarm=bool(getattr(args, "false_alarm", False)))
    if any(a["id"] == event["id"] for a in history.actions):
        print(f"{history.incident_id}: {kind} by {args.by} at {event['time']} already recorded")
        return EXIT_OK
    why = actions.refusal(history, event)
    if why is not None:
        raise DriftlineError(f"{kind} refused: {why}")
    if stream.path is not None:
        streams.append_file(stream.path, event)
    else:
        streams.produce(config.kafka, stream.topic, event)
    print(f"{history.incident_id}: {kind} by {args.by} ({principal.name}) at {event['time']} "
          f"→ {stream.where}")
    return EXIT_OK


def _line(state: dict[str, Any]) -> str:
    seg = ",".join(f"{k}={v}" for k, v in (state.get("segment") or {}).items()) or "all"
    return (f"{state['incident_id']}  {state['status']:<12} {state.get('severity', '-'):<8} "
            f"{state.get('monitor', '-'):<26} {state.get('model_id', '-'):<10} {seg:<20} "
            f"opened {state.get('opened', '-')}")


def cmd_list(args: argparse.Namespace) -> int:
    config = config_of(args)
    histories = stream_of(args).histories(config)
    for h in histories.values():
        state = h.state()
        print(json.dumps(state, ensure_ascii=False) if args.json else _line(state))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from driftline.investigate.history import find, kind_of

    config = config_of(args)
    stream = stream_of(args)
    h = find(stream.histories(config), args.incident_id, stream.where)
    state = h.state()
    if args.json:
        print(json.dumps(state, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(_line(state))
    for ev in h.detection:
        d = ev["data"]
        print(f"  {ev['time']}  {kind_of(ev):<12} {d['severity']:<8} {d['statistic']}={d['value']}")
    for a in h.actions:
        d = a["data"]
        extra = "; ".join(x for x in (d.get("note"), d.get("root_cause") and
                                     f"root cause: {d['root_cause']}",
                                     d.get("false_alarm") and "false alarm") if x)
        print(f"  {d['at']}  {kind_of(a):<12} by {d['by']} ({d['principal']['name']}) {extra}")
    return EXIT_OK


def add_parser(sub: Any) -> None:
    inc = sub.add_parser("incident", help="act on incidents (ack, note, close); list and show them")
    verbs = inc.add_subparsers(dest="incident_command", required=True)
    for verb, text in (("ack", "acknowledge"), ("note", "annotate"), ("close", "close")):
        a = verbs.add_parser(verb, help=f"{text} an incident")
        a.add_argument("incident_id", metavar="INCIDENT_ID")
        add_stream_arguments(a)
        a.add_argument("--by", required=True, metavar="NAME", help="who acts")
        a.add_argument("--note", required=verb == "note", metavar="TEXT")
        a.add_argument("--at", metavar="TIME", help="when (RFC 3339; default now): with the "
                       "actor, it makes the action's id")
        if verb == "close":
            a.add_argument("--root-cause", metavar="TEXT")
            a.add_argument("--actions", nargs="+", metavar="TEXT", help="actions taken")
            a.add_argument("--false-alarm", action="store_true",
                           help="the incident was no incident (counted in reviews)")
        a.set_defaults(func=cmd_action, verb=verb)
    for verb, fn in (("list", cmd_list), ("show", cmd_show)):
        s = verbs.add_parser(verb, help=f"{verb} the current state of "
                             f"{'every incident' if verb == 'list' else 'an incident'}")
        if verb == "show":
            s.add_argument("incident_id", metavar="INCIDENT_ID")
        add_stream_arguments(s)
        s.add_argument("--json", action="store_true")
        s.set_defaults(func=fn)
