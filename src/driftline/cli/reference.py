"""``driftline reference build``: a content-hashed reference profile from reference events."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK = 0


def cmd_reference_build(args: argparse.Namespace) -> int:
    from driftline.config import load_config
    from driftline.engine import Engine
    from driftline.io.files import read_lines

    config = load_config(args.config)
    lines = read_lines(args.input, config.input.max_message_bytes)
    engine = Engine(config, reference_events=lines, window=args.window)
    engine.prepare(lines)
    assert engine.reference is not None
    engine.reference.save(args.out)
    print(f"{engine.reference.id}  {engine.reference.n_events} events, "
          f"models {sorted(engine.reference.models)} → {args.out}")
    return EXIT_OK


def add_parser(sub: Any) -> None:
    ref = sub.add_parser("reference", help="reference profiles")
    ref_sub = ref.add_subparsers(dest="reference_command", required=True)
    b = ref_sub.add_parser("build", help="build a reference profile from events")
    b.add_argument("--input", required=True)
    b.add_argument("--config")
    b.add_argument("--window", help="window the profile is meant for (informational)")
    b.add_argument("--out", required=True)
    b.set_defaults(func=cmd_reference_build)
