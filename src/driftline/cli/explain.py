"""``driftline explain``: re-read the events an incident cites, recompute it, write a report.

Exit codes: 0 reproduced; 3 recomputed but different (the difference is printed and in
explain.json); 4 the cited events are gone (a file shorter or changed, Kafka retention);
1 an error (a missing or corrupt file, an unknown incident); 2 a usage error (a flag the
incident needs is missing: --input for a file incident, the incidents' file or topic).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DIFFERS, EXIT_GONE = 0, 1, 2, 3, 4


def config_of(args: argparse.Namespace) -> Any:
    from driftline.config import load_config

    return load_config(args.config, **{"kafka.bootstrap": getattr(args, "bootstrap", None)})


def stream_of(args: argparse.Namespace) -> Any:
    """The incident stream the command line names (a file, or a topic with --bootstrap)."""
    from driftline.errors import UsageError
    from driftline.investigate.wiring import Stream

    if args.incidents is not None:
        return Stream(path=args.incidents)
    if args.bootstrap is None or args.incident_topic is None:
        raise UsageError("name the incidents: --incidents FILE, or --bootstrap HOST:PORT "
                         "--incident-topic TOPIC")
    return Stream(topic=args.incident_topic)


def cmd_explain(args: argparse.Namespace) -> int:
    config = config_of(args)
    if not args.labels:
        return explain_with(args, config, None)
    from driftline.cli.replay import load_labels

    config, labels = load_labels(config, args.labels, None)
    try:
        return explain_with(args, config, labels)
    finally:
        labels.store.close()  # its temporary file


def explain_with(args: argparse.Namespace, config: Any, labels: Any) -> int:
    """``cmd_explain`` once the config (and the labels, if given) are loaded."""
    from driftline import __version__
    from driftline.investigate import explain, recompute, report, wiring
    from driftline.investigate.history import HistoryError, find
    from driftline.investigate.models import Inputs
    from driftline.investigate.sources import EventsGone

    stream = stream_of(args)
    history = find(stream.histories(config), args.incident_id, stream.where)
    if not history.known:
        raise HistoryError(f"{stream.where} holds only actions of {history.incident_id}, no "
                           "detection event to explain")
    data = history.first["data"]
    if not data["source_positions"]:
        raise HistoryError(f"{history.incident_id} cites no source positions to re-read")
    source = wiring.Source.of(config, data["source_positions"][0], args.input, args.input_topic,
                              args.batch_size)
    inputs = Inputs(incidents=stream.where, events=source.describe,
                    reference_cited=data["evidence"]["reference_id"], reference_used=None,
                    reference_how=None, config=args.config or "zero-config defaults",
                    config_hash_cited=data["evidence"]["config_hash"],
                    config_hash_used=config.digest(), driftline_version=__version__)
    monitor = next((m.model_dump(mode="json") for m in config.monitors
                    if m.name == data["monitor"]), None)
    try:
        rebuilt = wiring.reference_for(source, data, args.reference, labels)
        inputs = inputs.model_copy(update={"reference_used": rebuilt.reference.id,
                                           "reference_how": rebuilt.how})
        setup = recompute.Setup.of(config, rebuilt.reference, labels)
        monitor = setup.monitor(data["monitor"]).cfg.model_dump(mode="json")
        ctx = explain.Context(setup, source.reader(), source.origin, inputs, args.context,
                              rebuilt.cut)
        result = explain.explain(history, ctx)
    except EventsGone as exc:
        result = explain.gone(history, str(exc), inputs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "explain.json").write_text(result.model_dump_json(indent=2) + "\n")
    (out / "index.html").write_text(report.render(history, result, monitor))
    return report_outcome(result, out)


def report_outcome(result: Any, out: Path) -> int:
    """One line on stdout (or stderr when it failed) and the documented exit code."""
    if result.outcome == "reproduced":
        print(f"{result.incident_id}: reproduced — {result.statistic} = {result.value_recomputed:.6g}"
              f" (cited {result.value_cited:.6g}) → {out / 'index.html'}")
        return EXIT_OK
    if result.outcome == "events_gone":
        print(f"driftline: events gone: {result.reason} (report of the incident as cited: "
              f"{out / 'index.html'})", file=sys.stderr)
        return EXIT_GONE
    print(f"driftline: not reproduced: {result.reason} → {out / 'explain.json'}", file=sys.stderr)
    return EXIT_DIFFERS


def add_stream_arguments(p: argparse.ArgumentParser) -> None:
    """--incidents FILE, or --bootstrap … --incident-topic …: where the incidents are."""
    p.add_argument("--incidents", metavar="FILE", help="incident CloudEvents (JSON lines)")
    p.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka brokers (with --incident-topic)")
    p.add_argument("--incident-topic", metavar="TOPIC", help="incident topic (read_committed)")
    p.add_argument("--config", help="the config the incidents were raised with (kafka.settings "
                   "for TLS/SASL too)")


def add_parser(sub: Any) -> None:
    e = sub.add_parser(
        "explain", help="recompute an incident from the events it cites; write a report",
        description="Re-read exactly the events an incident cites, recompute its statistic "
        "against the same reference and write DIR/index.html and DIR/explain.json. Exit 0: "
        "reproduced; 3: differs; 4: the events are gone; 1: error; 2: usage.")
    e.add_argument("incident_id", metavar="INCIDENT_ID", help="the incident id (a unique prefix)")
    add_stream_arguments(e)
    e.add_argument("--input", metavar="EVENTS", help="the JSON-lines file the incident cites")
    e.add_argument("--input-topic", metavar="TOPIC", help="the input topic (default: the cited one)")
    e.add_argument("--reference", metavar="FILE", help="the reference profile or events the run "
                   "used (default: the warm-up, rebuilt from the start of the input)")
    e.add_argument("--labels", metavar="FILE", help="the labels file the run joined "
                   "(replay --labels): needed to recompute a performance incident")
    e.add_argument("--out", required=True, metavar="DIR")
    e.add_argument("--context", type=int, default=2, metavar="N",
                   help="windows shown before and after the incident (default 2)")
    e.add_argument("--batch-size", type=int, metavar="N", help="batch size of the original run "
                   "(default: replay's 10000; kafka.batch_size for Kafka)")
    e.set_defaults(func=cmd_explain)
