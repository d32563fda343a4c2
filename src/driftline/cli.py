"""Command line: demo, replay, reference build, check-config, schemas, run, produce-demo."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from driftline import __version__
from driftline.config import Config, load_config
from driftline.errors import DriftlineError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _config(args: argparse.Namespace, **overrides: Any) -> Config:
    return load_config(getattr(args, "config", None), **overrides)


# -- demo ----------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from driftline import demo
    from driftline.console import incident_line
    from driftline.io.files import JsonLinesSink
    from driftline.metrics import serve
    from driftline.pipeline import Engine

    config = load_config(args.config or Path(__file__).parent / "configs" / "demo.yaml")
    engine = Engine(config)
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
    sink = JsonLinesSink(args.incidents_out)
    events_sink = JsonLinesSink(args.events_out)
    pace = 0.0 if args.fast else args.pace
    t0 = time.perf_counter()
    bar = tqdm(total=scenario.windows, unit="window", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())
    emitted = 0

    def emit(events: list[dict[str, Any]]) -> None:
        nonlocal emitted
        for ev in events:
            bar.write(incident_line(ev, color))
        sink.write(events)
        emitted += len(events)

    for _window, messages in demo.stream(args.seed, scenario):
        emit(engine.process(messages).incidents)
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
    if args.hold:
        out(f"serving metrics for {args.hold:g}s more")
        time.sleep(args.hold)
    return EXIT_OK


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M", time.gmtime(ts))


# -- replay --------------------------------------------------------------------------
def _load_reference(path: str | None) -> tuple[Any, list[bytes] | None]:
    """A profile (JSON object with 'format') or a JSON-lines file of reference events."""
    from driftline.reference import Reference

    if path is None:
        return None, None
    data = Path(path).read_bytes()
    head = data.lstrip()[:4096]
    if head.startswith(b"{") and b'"format"' in head and b"driftline.reference" in head:
        return Reference.from_json(orjson.loads(data)), None
    return None, [line for line in data.splitlines() if line.strip()]


def cmd_replay(args: argparse.Namespace) -> int:
    from driftline.console import incident_line
    from driftline.io.files import JsonLinesSink, dead_letter_record, read_batches
    from driftline.pipeline import Engine

    config = _config(args)
    reference, ref_events = _load_reference(args.reference)
    engine = Engine(config, reference=reference, reference_events=ref_events, window=args.window)
    incidents = JsonLinesSink(args.incidents_out)
    dead = JsonLinesSink(args.dead_letter_out)
    show = not args.quiet and args.incidents_out is None
    t0 = time.perf_counter()

    def emit(out: Any) -> None:
        incidents.write(out.incidents)
        dead.write([dead_letter_record(d) for d in out.dead_letters])
        if show:
            for ev in out.incidents:
                print(incident_line(ev, sys.stdout.isatty()))

    progress = args.input != "-" and not args.quiet
    for lines, numbers in read_batches(args.input, args.batch_size, progress=progress):
        emit(engine.process(lines, numbers))
    emit(engine.finish())
    incidents.close()
    dead.close()
    elapsed = time.perf_counter() - t0
    summary = summarize(engine, elapsed)
    if args.summary_out:
        Path(args.summary_out).write_text(json.dumps(summary, indent=2) + "\n")
    if not args.quiet:
        print(json.dumps(summary, indent=2), file=sys.stderr)
    return EXIT_OK


def summarize(engine: Any, elapsed: float) -> dict[str, Any]:
    t = engine.totals
    by_type: dict[str, dict[str, int]] = {}
    for key, n in t.incidents.items():
        kind, detector, severity = key.split(":")
        slot = by_type.setdefault(kind, {})
        slot[f"{detector}/{severity}"] = slot.get(f"{detector}/{severity}", 0) + n
    return {
        "events": {"read": t.read, "valid": t.valid,
                   "invalid": sum(n for r, n in t.invalid.items() if r not in ("late",
                                                                               "cardinality_overflow")),
                   "late": t.late,
                   "invalid_by_reason": dict(sorted(t.invalid.items()))},
        "window": str(engine.spec) if engine.spec else None,
        "windows_closed": t.windows,
        "incidents": by_type,
        "reference_id": engine.reference.id if engine.reference else None,
        "config_hash": engine.config_hash,
        "elapsed_seconds": round(elapsed, 3),
        "events_per_second": round(t.read / elapsed, 1) if elapsed > 0 else None,
    }


# -- reference build -------------------------------------------------------------------
def cmd_reference_build(args: argparse.Namespace) -> int:
    from driftline.pipeline import Engine

    config = _config(args)
    lines = [line for line in Path(args.input).read_bytes().splitlines() if line.strip()]
    engine = Engine(config, reference_events=lines, window=args.window)
    engine.prepare(lines)
    assert engine.reference is not None
    engine.reference.save(args.out)
    print(f"{engine.reference.id}  {engine.reference.n_events} events, "
          f"models {sorted(engine.reference.models)} → {args.out}")
    return EXIT_OK


# -- check-config, schemas ---------------------------------------------------------------
def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except DriftlineError as exc:
        for line in str(exc).splitlines():
            print(f"{args.file}: {line}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{args.file}: ok ({len(config.monitors) or 'zero-config preset'} monitors, "
          f"config {config.digest()})")
    return EXIT_OK


def cmd_schemas(args: argparse.Namespace) -> int:
    from driftline.events import IncidentEvent, PredictionEvent

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, model in (("prediction-event", PredictionEvent), ("incident-event", IncidentEvent)):
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        print(path)
    path = out / "config.schema.json"
    path.write_text(json.dumps(Config.model_json_schema(), indent=2) + "\n")
    print(path)
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="driftline", description="Streaming behavioral-drift "
                                "detection for ML models in production.")
    p.add_argument("--version", action="version", version=f"driftline {__version__}")
    p.add_argument("--log-level", default="info")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run the embedded demo stream (no Kafka needed)")
    d.add_argument("--config", help="config (default: the packaged demo.yaml)")
    d.add_argument("--incidents-out", help="write incidents as CloudEvents JSON lines")
    d.add_argument("--events-out", help="also write the generated events as JSON lines")
    d.add_argument("--metrics-port", type=int, default=9108, help="0 picks a free port")
    d.add_argument("--metrics-addr", default="127.0.0.1")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--fast", action="store_true", help="do not pace the windows (--pace 0)")
    d.add_argument("--pace", type=float, default=0.25, metavar="SECONDS",
                   help="wall-clock pause after each 5-minute window (default 0.25)")
    d.add_argument("--clean", action="store_true", help="inject no failure")
    d.add_argument("--hold", type=float, default=0.0, help="keep serving metrics N s at the end")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("replay", help="run the engine over a JSON-lines file or stdin (backtest)")
    r.add_argument("--input", required=True, help="JSON-lines file, or - for stdin")
    r.add_argument("--config")
    r.add_argument("--reference", help="reference profile (reference build) or JSON-lines events")
    r.add_argument("--window", help="window: a duration (15m) or an event count (5000)")
    r.add_argument("--incidents-out")
    r.add_argument("--summary-out")
    r.add_argument("--dead-letter-out")
    r.add_argument("--batch-size", type=int, default=10_000)
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=cmd_replay)

    ref = sub.add_parser("reference", help="reference profiles")
    ref_sub = ref.add_subparsers(dest="reference_command", required=True)
    b = ref_sub.add_parser("build", help="build a reference profile from events")
    b.add_argument("--input", required=True)
    b.add_argument("--config")
    b.add_argument("--window", help="window the profile is meant for (informational)")
    b.add_argument("--out", required=True)
    b.set_defaults(func=cmd_reference_build)

    c = sub.add_parser("check-config", help="validate a YAML config")
    c.add_argument("file")
    c.set_defaults(func=cmd_check_config)

    s = sub.add_parser("schemas", help="write the JSON Schemas of the contracts")
    s.add_argument("--out", default="docs/schemas")
    s.set_defaults(func=cmd_schemas)

    from driftline.io import kafka_cli  # run, produce-demo

    kafka_cli.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from driftline.logging import configure, get_logger

    args = parser().parse_args(argv)
    configure(args.log_level)
    try:
        return int(args.func(args))
    except (DriftlineError, OSError) as exc:  # OSError: a file named on the command line
        get_logger().error("failed", error=str(exc), command=args.command)
        print(f"driftline: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
