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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="driftline", description="Streaming behavioral-drift "
                                "detection for ML models in production.")
    p.add_argument("--version", action="version",
                   version=f"driftline {__version__} (decoder: {native.name()})")
    p.add_argument("--log-level", default="info")
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
    from driftline.logging import configure, get_logger

    args = parser().parse_args(argv)
    configure(args.log_level)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"driftline {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (DriftlineError, OSError) as exc:  # OSError: a file named on the command line
        get_logger().error("failed", error=str(exc), command=args.command)
        print(f"driftline: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "main", "parser"]
