"""``driftline review``: the post-incident review of one incident, or the summary of a period.

``review INCIDENT_ID --out DIR`` writes DIR/review.md and DIR/review.json (docs/schemas/
review.schema.json); ``review --period 30d --out DIR`` writes DIR/period-review.md and
period-review.json. Exit codes: 0 written; 1 an error (missing or corrupt file, unknown
incident); 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from driftline.cli.explain import add_stream_arguments, config_of, stream_of

EXIT_OK = 0


def _now(text: str | None) -> float:
    from driftline.errors import DriftlineError
    from driftline.timestamps import parse_timestamp

    if text is None:
        return time.time()
    t = parse_timestamp(text)
    if t is None:
        raise DriftlineError(f"--now {text!r}: not an RFC 3339 time with an offset")
    return t


def _deadlines(given: list[str] | None) -> Any:
    from driftline.errors import DriftlineError
    from driftline.investigate.learning import ART73

    if not given:
        return ART73
    out = []
    for item in given:
        days, _, label = item.partition(":")
        try:
            out.append((float(days), label or f"{days} days"))
        except ValueError:
            raise DriftlineError(f"--deadline {item!r}: DAYS[:LABEL], e.g. 15:serious incident"
                                 ) from None
    return tuple(out)


def _explanation(path: str | None) -> dict[str, Any] | None:
    from driftline.errors import DriftlineError

    if path is None:
        return None
    file = Path(path) / "explain.json" if Path(path).is_dir() else Path(path)
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise DriftlineError(f"{file}: cannot read explain.json: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != "driftline.explain/1":
        raise DriftlineError(f"{file}: not an explain.json of driftline explain")
    return data


def cmd_review(args: argparse.Namespace) -> int:
    from driftline import __version__
    from driftline.config import parse_duration
    from driftline.errors import DriftlineError, UsageError
    from driftline.investigate import review, review_md
    from driftline.investigate.history import find

    config = config_of(args)
    stream = stream_of(args)
    histories = stream.histories(config)
    now = _now(args.now)
    out = Path(args.out)
    if args.period is not None:
        if args.incident_id is not None:
            raise UsageError("give an INCIDENT_ID or --period, not both")
        try:
            days = parse_duration(args.period)
        except ValueError as exc:
            raise DriftlineError(f"--period: {exc}") from None
        result = review.period(histories, now - days, now)
        out.mkdir(parents=True, exist_ok=True)
        (out / "period-review.json").write_text(result.model_dump_json(indent=2) + "\n")
        (out / "period-review.md").write_text(review_md.render_period(result))
        print(f"{result.incidents} incident(s) {result.start} – {result.end} → "
              f"{out / 'period-review.md'}")
        return EXIT_OK
    if args.incident_id is None:
        raise UsageError("give an INCIDENT_ID, or --period 30d")
    h = find(histories, args.incident_id, stream.where)
    if not h.known:
        raise DriftlineError(f"{stream.where} holds only actions of {h.incident_id}")
    opts = review.Options(now=now, deadlines=_deadlines(args.deadline), version=__version__,
                          explanation=_explanation(args.explain))
    result_one = review.review(h, histories, opts)
    out.mkdir(parents=True, exist_ok=True)
    (out / "review.json").write_text(result_one.model_dump_json(indent=2) + "\n")
    (out / "review.md").write_text(review_md.render(result_one))
    print(f"{h.incident_id}: review → {out / 'review.md'}")
    return EXIT_OK


def add_parser(sub: Any) -> None:
    r = sub.add_parser("review", help="post-incident review of an incident, or of a period",
                       description="Timeline, impact, evidence, response and learning of one "
                       "incident (review.md, review.json); or with --period, the incidents of a "
                       "period by severity and monitor, MTTD/MTTR and false alarms.")
    r.add_argument("incident_id", nargs="?", metavar="INCIDENT_ID")
    add_stream_arguments(r)
    r.add_argument("--out", required=True, metavar="DIR")
    r.add_argument("--explain", metavar="DIR", help="an explain output (its explain.json)")
    r.add_argument("--period", metavar="DURATION", help="summarise the incidents opened in the "
                   "last DURATION (30d, 12h)")
    r.add_argument("--now", metavar="TIME", help="the end of the period and of the reporting "
                   "clock (RFC 3339; default: the wall clock) — for backtests of old events")
    r.add_argument("--deadline", action="append", metavar="DAYS[:LABEL]",
                   help="a reporting deadline for regulatory incidents, repeatable (default: EU "
                   "AI Act Art. 73: 2, 10 and 15 days)")
    r.set_defaults(func=cmd_review)
