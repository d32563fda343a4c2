"""``driftline check-config`` and ``driftline schemas``: the config and the contracts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR = 0, 1


def cmd_check_config(args: argparse.Namespace) -> int:
    from driftline.config import FROM_ENV, load_config
    from driftline.configcheck import check
    from driftline.errors import DriftlineError
    from driftline.io.files import read_lines

    try:
        config = load_config(args.file)
        sample = None
        if args.sample:
            sample = read_lines(args.sample, config.input.max_message_bytes)[:args.sample_events]
        report = check(config, sample)
    except DriftlineError as exc:
        for line in str(exc).splitlines():  # a problem of an environment variable is not the file's
            print(line if line.startswith(FROM_ENV) else f"{args.file}: {line}", file=sys.stderr)
        return EXIT_ERROR
    for line in report.problems:
        print(f"{args.file}: {line}", file=sys.stderr)
    for line in report.notes:
        print(f"{args.file}: note: {line}")
    if report.problems:
        return EXIT_ERROR
    print(f"{args.file}: ok ({len(config.monitors) or 'zero-config preset'} monitors, "
          f"config {config.digest()})")
    return EXIT_OK


def schema_models() -> list[tuple[str, Any]]:
    """(file stem, pydantic model) of every published JSON Schema."""
    from driftline.config import Config
    from driftline.events import ActionEvent, IncidentEvent, PredictionEvent
    from driftline.investigate.models import Explanation
    from driftline.investigate.review_models import PeriodReview, Review

    return [("prediction-event", PredictionEvent), ("incident-event", IncidentEvent),
            ("action-event", ActionEvent), ("config", Config), ("explain", Explanation),
            ("review", Review), ("period-review", PeriodReview)]


def cmd_schemas(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, model in schema_models():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        print(path)
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    c = sub.add_parser("check-config", help="validate a YAML config")
    c.add_argument("file")
    c.add_argument("--sample", metavar="EVENTS", help="JSON-lines events: check the fields "
                   "against them and list the monitors replay would create")
    c.add_argument("--sample-events", type=int, default=20_000, metavar="N",
                   help="read at most N events of the sample (default 20000)")
    c.set_defaults(func=cmd_check_config)

    s = sub.add_parser("schemas", help="write the JSON Schemas of the contracts")
    s.add_argument("--out", default="docs/schemas")
    s.set_defaults(func=cmd_schemas)
