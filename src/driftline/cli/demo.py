"""``driftline demo``: the embedded routing-model stream, with three injected failures."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from driftline import __version__

EXIT_OK = 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from driftline import demo
    from driftline.config import duration_text, load_config
    from driftline.console import incident_line
    from driftline.engine import Engine
    from driftline.io.files import IncidentFileSink, JsonLinesSink, file_origin
    from driftline.metrics import serve

    config_path = str(args.config or Path(__file__).parents[1] / "configs" / "demo.yaml")
    config = load_config(config_path)
    # with --events-out the stream is that file: incidents cite its lines (explain reads them)
    origin = file_origin(args.events_out) if args.events_out else \
        {"source": "generator", "seed": args.seed}
    engine = Engine(config, origin=origin)
    scenario = demo.Scenario(clean=args.clean)
    port = serve(engine.metrics, args.metrics_addr, args.metrics_port)
    out = print
    color = sys.stdout.isatty()
    out(f"driftline {__version__} demo — delivery-routing model, seed {args.seed}")
    out(f"metrics: http://{args.metrics_addr}:{port}/metrics")
    start = demo.Scenario().window_start
    out(f"stream: {scenario.windows} windows of 5 min (~{demo.EVENTS_PER_WINDOW} events each) "
        f"from {_hhmm(start(0))}; reference = first {scenario.warmup} windows (warm-up)")
    if scenario.describe():
        out("injected failures:")
        for name, a, b in scenario.describe():
            out(f"  {name:<36} {_hhmm(start(a))} → {_hhmm(start(b))}  (windows {a}–{b - 1})")
    else:
        out("clean stream: no failure injected")
    sink = IncidentFileSink(args.incidents_out)
    events_sink = JsonLinesSink(args.events_out)
    pace = 0.0 if args.fast else args.pace
    t0 = time.perf_counter()
    bar = tqdm(total=scenario.windows, unit="window", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())
    emitted = 0
    first: list[str] = []  # the first incident's id

    def emit(events: list[dict[str, Any]]) -> None:
        nonlocal emitted
        for ev in events:
            bar.write(incident_line(ev, color))
        first.extend(ev["subject"] for ev in events[:1] if not first)
        sink.write(events)
        emitted += len(events)

    # the generator's running offset (or, written to --events-out, the 1-based line number):
    # an incident's positions cite the events
    offset = 1 if args.events_out else 0
    for _window, messages in demo.stream(args.seed, scenario):
        positions = np.arange(offset, offset + len(messages), dtype=np.int64)
        offset += len(messages)
        emit(engine.process(messages, positions).incidents)
        events_sink.write([orjson.loads(m) for m in messages] if args.events_out else [])
        bar.update(1)
        bar.set_postfix(events=engine.totals.read, incidents=emitted)
        if pace:
            time.sleep(pace)
    emit(engine.finish().incidents)
    bar.close()
    sink.close()
    events_sink.close()
    elapsed = time.perf_counter() - t0
    out(f"done: {engine.totals.read} events, {engine.totals.windows} windows, "
        f"{emitted} incident events in {elapsed:.1f}s")
    if args.incidents_out:
        out(f"incidents (CloudEvents JSON lines): {args.incidents_out}")
    if first:
        out(explain_hint(first[0], args.incidents_out, args.events_out, config_path))
    if args.hold:
        out(f"serving metrics for {duration_text(args.hold)} more")
        time.sleep(args.hold)
    return EXIT_OK


def explain_hint(incident: str, incidents: str | None, events: str | None, config: str) -> str:
    """The command that explains the first incident, or what the demo needs for one to work."""
    if incidents and events:
        cmd = ["driftline", "explain", incident, "--incidents", incidents, "--input", events,
               "--config", config, "--out", f"explain-{incident}"]
        return "explain the first incident: " + " ".join(shlex.quote(c) for c in cmd)
    return ("to explain an incident, run the demo with --incidents-out FILE --events-out FILE: "
            "driftline explain re-reads the events an incident cites")


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M", time.gmtime(ts))


def add_parser(sub: Any) -> None:
    d = sub.add_parser("demo", help="run the embedded demo stream (no Kafka needed)")
    d.add_argument("--config", help="config (default: the packaged demo.yaml)")
    d.add_argument("--incidents-out", help="write incidents as CloudEvents JSON lines")
    d.add_argument("--events-out", help="also write the generated events as JSON lines; "
                   "incidents then cite its lines, so driftline explain can re-read them")
    d.add_argument("--metrics-port", type=int, default=9108, help="0 picks a free port")
    d.add_argument("--metrics-addr", default="127.0.0.1")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--fast", action="store_true", help="do not pace the windows (--pace 0)")
    d.add_argument("--pace", type=float, default=0.25, metavar="SECONDS",
                   help="wall-clock pause after each 5-minute window (default 0.25)")
    d.add_argument("--clean", action="store_true", help="inject no failure")
    d.add_argument("--hold", type=float, default=0.0, help="keep serving metrics N s at the end")
    d.set_defaults(func=cmd_demo)
