"""``driftline replay``: the engine over a JSON-lines file or stdin (a backtest)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.errors import ConfigError

if TYPE_CHECKING:
    from driftline.config import Config
    from driftline.labels.join import LabelJoin


def cmd_replay(args: argparse.Namespace) -> int:
    from driftline.cli.outcome import outcome
    from driftline.cli.summary import summarize
    from driftline.config import load_config
    from driftline.console import incident_line
    from driftline.engine import Engine, Output
    from driftline.io.files import (
        IncidentFileSink,
        JsonLinesSink,
        dead_letter_record,
        file_origin,
        read_batches,
    )
    from driftline.reference import load_reference

    config = load_config(args.config)
    labels = None
    if args.labels:
        config, labels = load_labels(config, args.labels, args.labels_store)
    reference, ref_events = load_reference(args.reference, config.input.max_message_bytes)
    engine = Engine(config, reference=reference, reference_events=ref_events, window=args.window,
                    origin=file_origin(args.input), labels=labels)
    # rewrites the file's detection events; actions recorded on incidents are kept
    incidents = IncidentFileSink(args.incidents_out)
    dead = JsonLinesSink(args.dead_letter_out)
    show = not args.quiet  # on the console also with --incidents-out; --quiet silences
    t0 = time.perf_counter()

    def emit(out: Output) -> None:
        incidents.write(out.incidents)
        dead.write([dead_letter_record(d) for d in out.dead_letters])
        for notice in out.notices:
            print(f"driftline: warning: {notice}", file=sys.stderr)
        if show:
            for ev in out.incidents:
                print(incident_line(ev, sys.stdout.isatty()))

    progress = args.input != "-" and not args.quiet
    for lines, numbers in read_batches(args.input, args.batch_size, progress=progress,
                                       max_bytes=config.input.max_message_bytes):
        emit(engine.process(lines, numbers))
    emit(engine.finish())
    incidents.close()
    dead.close()
    summary = summarize(engine, time.perf_counter() - t0)
    if engine.labels is not None:
        engine.labels.store.close()
    if args.summary_out:
        Path(args.summary_out).write_text(json.dumps(summary, indent=2) + "\n")
    if not args.quiet:
        print(json.dumps(summary, indent=2), file=sys.stderr)
    result = outcome(engine)
    for line in result.warnings:
        print(f"driftline: warning: {line}", file=sys.stderr)
    for line in result.errors:
        print(f"driftline: error: {line}", file=sys.stderr)
    return result.code


def load_labels(config: Config, path: str, store: str | None) -> tuple[Config, LabelJoin]:
    """``--labels``: the labels layer on, and the file's labels in a disk-backed store."""
    from driftline.config import parse_duration
    from driftline.io.files import file_origin
    from driftline.labels.join import LabelJoin
    from driftline.labels.lines import LabelReader
    from driftline.labels.store import LabelStore

    config = config.model_copy(update={"labels": config.labels.model_copy(
        update={"enabled": True})})
    lab = config.labels
    join = LabelJoin(LabelStore(store), parse_duration(lab.ttl), file_origin(path))
    try:
        join.load(path, LabelReader(lab.fields, config.input.floor,
                                    config.input.max_message_bytes))
    except OSError as exc:
        join.store.close()
        raise ConfigError(f"--labels {path}: cannot read it: {exc.strerror}") from exc
    return config, join


def add_parser(sub: Any) -> None:
    r = sub.add_parser("replay", help="run the engine over a JSON-lines file or stdin (backtest)")
    r.add_argument("--input", required=True, help="JSON-lines file, or - for stdin")
    r.add_argument("--config")
    r.add_argument("--reference", help="reference profile (reference build) or JSON-lines events")
    r.add_argument("--window", help="window: a duration (15m) or an event count (5000)")
    r.add_argument("--labels", help="JSON-lines labels {event_id, label, timestamp} joined to "
                   "the predictions by event id (docs/labels.md); turns the labels layer on")
    r.add_argument("--labels-store", help="the labels' SQLite store (default: a temporary "
                   "file, removed at the end)")
    r.add_argument("--incidents-out", help="incident CloudEvents (JSON lines), written as well "
                   "as the console's incident lines; detection events of an earlier run are "
                   "replaced, recorded actions (incident ack|note|close) kept")
    r.add_argument("--summary-out")
    r.add_argument("--dead-letter-out")
    r.add_argument("--batch-size", type=int, default=10_000)
    r.add_argument("--quiet", action="store_true", help="no incident lines, progress or summary "
                   "on the console (files are still written; warnings and errors still printed)")
    r.set_defaults(func=cmd_replay)
