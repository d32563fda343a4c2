"""``driftline demo``: the embedded routing-model stream, with four injected failures.

With the labels layer on (the packaged ``demo-labels.yaml``), the generator's label stream
goes through the same ``LabelJoin`` and disk-backed store as ``replay --labels``. The engine
joins a batch when it decodes it (a streaming run does not hold a window for its labels
yet), so each window's labels — stamped with their delayed arrival — are stored before its
predictions, as a replay loads its labels file first; the TTL rule is in event time, so this
gives the numbers of a run that waited window end + TTL.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from driftline import __version__

if TYPE_CHECKING:
    from driftline.config import Config
    from driftline.demo import Labels
    from driftline.labels.join import LabelJoin

EXIT_OK = 0


PACKAGED = Path(__file__).parents[1] / "configs"


def cmd_demo(args: argparse.Namespace) -> int:
    from driftline.config import duration_text, load_config

    config_path = str(args.config or PACKAGED / "demo-labels.yaml")
    config = load_config(config_path)
    feed = LabelFeed.of(config, args.labels_out)
    try:
        first = run(args, config, feed)
    finally:
        if feed is not None:
            feed.close()  # the store's scratch file too, whatever happened
    if args.incidents_out:
        print(f"incidents (CloudEvents JSON lines): {args.incidents_out}")
    if first:
        print(explain_hint(first, args.incidents_out, args.events_out, config_path,
                           args.labels_out, feed is not None))
    if args.hold:
        print(f"serving metrics for {duration_text(args.hold)} more")
        time.sleep(args.hold)
    return EXIT_OK


def run(args: argparse.Namespace, config: Config, feed: LabelFeed | None) -> str | None:
    """The stream through the engine, incident lines as they come; the first incident's id."""
    from tqdm import tqdm

    from driftline import demo
    from driftline.console import incident_line
    from driftline.engine import Engine
    from driftline.io.files import IncidentFileSink, JsonLinesSink, file_origin
    from driftline.metrics import serve

    # with --events-out the stream is that file: incidents cite its lines (explain reads them)
    origin = file_origin(args.events_out) if args.events_out else \
        {"source": "generator", "seed": args.seed}
    engine = Engine(config, origin=origin, labels=feed.join if feed else None)
    scenario = demo.Scenario(clean=args.clean)
    header(args, scenario, serve(engine.metrics, args.metrics_addr, args.metrics_port), feed)
    sink = IncidentFileSink(args.incidents_out)
    events_sink = JsonLinesSink(args.events_out)
    pace = 0.0 if args.fast else args.pace
    t0 = time.perf_counter()
    bar = tqdm(total=scenario.windows, unit="window", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())
    color = sys.stdout.isatty()
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
    for messages, labels in windows(args.seed, scenario, feed is not None):
        if feed is not None and labels is not None:
            feed.add(labels)  # before its predictions: see the module's docstring
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
    print(f"done: {engine.totals.read} events, {engine.totals.windows} windows, "
          f"{emitted} incident events in {time.perf_counter() - t0:.1f}s")
    if feed is not None:
        print(feed.summary())
    return first[0] if first else None


class LabelFeed:
    """The demo's label stream into the join's store (and, with --labels-out, a file that
    ``replay --labels`` reads). Labels go in as the store's rows, what ``LabelReader`` makes
    of a line: parsing 270,000 lines the demo has just encoded would only cost time."""

    def __init__(self, join: LabelJoin, path: str | None) -> None:
        from driftline.io.files import file_origin

        self.join = join
        self.file = open(path, "wb") if path else None  # noqa: SIM115 - closed by close()
        # incidents cite the labels as the events: a file's lines, or the generator's offsets
        join.origin = file_origin(path) if path else {"source": "generator"}
        self.offset = 1 if path else 0

    @classmethod
    def of(cls, config: Config, path: str | None) -> LabelFeed | None:
        """The feed of a config with the labels layer on (None: off, no labels generated)."""
        from driftline.config import parse_duration
        from driftline.labels.join import LabelJoin
        from driftline.labels.store import LabelStore

        if not config.labels.enabled:
            return None
        return cls(LabelJoin(LabelStore(), parse_duration(config.labels.ttl)), path)

    def add(self, labels: Labels) -> None:
        from driftline.decode.keys import id_key

        self.join.add([(id_key(e), lab, None, t, -1, self.offset + i) for i, (e, lab, t) in
                       enumerate(zip(labels.event_ids, labels.labels,
                                     labels.timestamps.tolist(), strict=True))])
        self.offset += len(labels.event_ids)
        if self.file is not None:
            self.file.writelines(line + b"\n" for line in labels.lines())

    def summary(self) -> str:
        """The line that sums the labels up."""
        s = self.join.summary()
        quantiles = ", ".join(f"{k} ≤ {_span(v)}" for k, v in s["delay_seconds"].items() if v)
        return (f"labels: {s['labelled']} of {s['predictions']} predictions labelled "
                f"({s['labelled_share'] or 0:.1%}), {s['late']} late beyond the TTL "
                f"({_span(s['ttl_seconds'])}); delay {quantiles}")

    def close(self) -> None:
        self.join.store.close()
        if self.file is not None:
            self.file.close()


def windows(seed: int, scenario: Any, labelled: bool,
            ) -> Iterator[tuple[list[bytes], Labels | None]]:
    """Each window's events and, if ``labelled``, their labels."""
    from driftline import demo

    if labelled:
        for _w, messages, labels in demo.labelled_stream(seed, scenario):
            yield messages, labels
    else:
        for _w, messages in demo.stream(seed, scenario):
            yield messages, None


def header(args: argparse.Namespace, scenario: Any, port: int, feed: LabelFeed | None) -> None:
    """What the demo runs, printed up front: the stream, the labels, the failures' times."""
    from driftline import demo

    start = demo.Scenario().window_start
    print(f"driftline {__version__} demo — delivery-routing model, seed {args.seed}")
    print(f"metrics: http://{args.metrics_addr}:{port}/metrics")
    print(f"stream: {scenario.windows} windows of 5 min (~{demo.EVENTS_PER_WINDOW} events each) "
          f"from {_hhmm(start(0))}; reference = first {scenario.warmup} windows (warm-up)")
    if feed is not None:
        print(f"labels: a separate stream joined by event_id, {demo.UNLABELLED_SHARE:.0%} never "
              f"labelled, the rest after a delay (median "
              f"{_span(demo.LABEL_DELAY_MEDIAN)}, hours for some); TTL {_span(feed.join.ttl)}")
    failures = scenario.describe(labels=feed is not None)
    if failures:
        print("injected failures:")
        for name, a, b in failures:
            print(f"  {name:<36} {_hhmm(start(a))} → {_hhmm(start(b))}  (windows {a}–{b - 1})")
    else:
        print("clean stream: no failure injected")


def explain_hint(incident: str, incidents: str | None, events: str | None, config: str,
                 labels: str | None = None, labelled: bool = False) -> str:
    """The command that explains the first incident, or what the demo needs for one to work
    (with labels on, explain needs the label stream too: --labels-out)."""
    if incidents and events and (labels or not labelled):
        cmd = ["driftline", "explain", incident, "--incidents", incidents, "--input", events,
               *(["--labels", labels] if labelled and labels else []),
               "--config", config, "--out", f"explain-{incident}"]
        return "explain the first incident: " + " ".join(shlex.quote(c) for c in cmd)
    flags = "--incidents-out FILE --events-out FILE" + (" --labels-out FILE" if labelled else "")
    return (f"to explain an incident, run the demo with {flags}: driftline explain re-reads "
            "the events an incident cites" + (" and joins their labels" if labelled else ""))


def _span(seconds: float) -> str:
    """A delay as a person reads it: 40 min, 2.4 h."""
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M", time.gmtime(ts))


def add_parser(sub: Any) -> None:
    d = sub.add_parser("demo", help="run the embedded demo stream (no Kafka needed)")
    d.add_argument("--config", help="config (default: the packaged demo-labels.yaml, "
                   "demo.yaml with the labels layer; a config without labels.enabled: no labels)")
    d.add_argument("--incidents-out", help="write incidents as CloudEvents JSON lines")
    d.add_argument("--events-out", help="also write the generated events as JSON lines; "
                   "incidents then cite its lines, so driftline explain can re-read them")
    d.add_argument("--labels-out", help="also write the label stream as JSON lines "
                   "(replay --labels reads it)")
    d.add_argument("--metrics-port", type=int, default=9108, help="0 picks a free port")
    d.add_argument("--metrics-addr", default="127.0.0.1")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--fast", action="store_true", help="do not pace the windows (--pace 0)")
    d.add_argument("--pace", type=float, default=0.25, metavar="SECONDS",
                   help="wall-clock pause after each 5-minute window (default 0.25)")
    d.add_argument("--clean", action="store_true", help="inject no failure")
    d.add_argument("--hold", type=float, default=0.0, help="keep serving metrics N s at the end")
    d.set_defaults(func=cmd_demo)
