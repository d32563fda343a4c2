"""Command line: demo, replay, reference build, check-config, schemas, run, produce-demo,
explain, incident, review."""

from __future__ import annotations

import argparse
import sys

from driftline import __version__
from driftline.cli import config, demo, explain, incident, kafka, reference, replay, review
from driftline.decode import native
from driftline.errors import DriftlineError, UsageError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="driftline", description="Streaming behavioral-drift "
                                "detection for ML models in production.")
    p.add_argument("--version", action="version",
                   version=f"driftline {__version__} (decoder: {native.name()})")
    p.add_argument("--log-level", default="info", type=str.lower, choices=LOG_LEVELS,
                   help=f"log level: {', '.join(LOG_LEVELS)} (default info)")
    sub = p.add_subparsers(dest="command", required=True)
    demo.add_parser(sub)
    replay.add_parser(sub)
    reference.add_parser(sub)
    config.add_parsers(sub)
    kafka.add_parsers(sub)
    explain.add_parser(sub)
    incident.add_parser(sub)
    review.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from driftline.logging import configure

    args = parser().parse_args(argv)
    configure(args.log_level)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"driftline {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (DriftlineError, OSError) as exc:  # OSError: a file named on the command line
        # printed once (not also as a log line), one line per problem
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"driftline: error: {line}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "LOG_LEVELS", "main", "parser"]
