"""How a replay ended: a documented exit code and, when it could not see, why — in words.

A backtest that judged nothing must not look like one that found nothing. In the order
checked (the first that holds decides):

- **3** no event was valid (a CSV, a JSON array, other field names, timestamps without an
  offset): the commonest reasons, each with one example line;
- **5** the input is not in time order (more than 1% of its events late, at least 10);
- **4** no monitor was evaluated in any window: no window closed after the warm-up, or
  every window was too small, or the events and the reference share no model or signal;
- **0** otherwise. Monitors that went blind for a while are reported as warnings (and as
  coverage incidents), not as a failed replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from driftline.engine import Engine

EXIT_OK = 0
EXIT_NO_VALID = 3
EXIT_BLIND = 4
EXIT_UNORDERED = 5
#: more late events than this share of the on-time and late ones: not a few stragglers
UNORDERED_SHARE = 0.01
UNORDERED_MIN = 10


@dataclass(frozen=True)
class Outcome:
    code: int
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def outcome(engine: Engine) -> Outcome:
    t = engine.totals
    if t.valid == 0:
        return Outcome(EXIT_NO_VALID, [no_valid(engine)])
    seen = t.late + t.valid
    if t.late >= UNORDERED_MIN and t.late > UNORDERED_SHARE * seen:
        return Outcome(EXIT_UNORDERED, [
            f"the input is not in time order: {t.late:,} of {seen:,} events "
            f"({t.late / seen:.0%}) came after the watermark had passed their windows and were "
            "not judged. Sort the file by event time, or allow more lateness "
            f"(window.lateness, now {engine.config.window.lateness})."])
    cov = engine.detection.coverage
    if not any(c.get("evaluated", 0) for c in cov.windows.values()):
        return Outcome(EXIT_BLIND, [blind(engine)])
    return Outcome(EXIT_OK, warnings=poor_coverage(engine))


def no_valid(engine: Engine) -> str:
    t = engine.totals
    if t.read == 0:
        return "the input holds no event"
    lines = [f"no valid event in {t.read:,} read; the commonest reasons:"]
    for reason, n, example in t.top_invalid():
        lines.append(f"  {reason} ({n:,}): {example}")
    lines.append("The event contract and input.fields: docs/configuration.md.")
    return "\n".join(lines)


def blind(engine: Engine) -> str:
    t, cov = engine.totals, engine.detection.coverage
    if t.windows == 0:
        warm = engine.config.reference.warmup_windows if engine.reference is None or \
            engine.reference.source == "warm-up" else 0
        return (f"no monitor was evaluated: no window closed (window {engine.spec}, "
                f"{warm} warm-up window(s) first) in {t.valid:,} valid events. Give a longer "
                "input, a smaller --window, or a --reference.")
    outcomes: dict[str, int] = {}
    for c in cov.windows.values():
        for o, n in c.items():
            outcomes[o] = outcomes.get(o, 0) + n
    lines = [f"no monitor was evaluated in any of {t.windows:,} windows "
             f"({', '.join(f'{o}: {n:,}' for o, n in sorted(outcomes.items()))})."]
    ref = engine.reference
    if cov.unreferenced and ref is not None:
        lines.append(f"The events' models {sorted(cov.unreferenced)} are not in the reference "
                     f"(it holds {sorted(ref.models)}).")
    if outcomes.get("insufficient"):
        lines.append(f"Windows held fewer events than min_samples "
                     f"({engine.config.detection.min_samples}): use a larger --window.")
    if outcomes.get("no_events") and not cov.unreferenced:
        lines.append("The events carry none of the signals the monitors read from the "
                     "reference: is it a reference of these events?")
    return "\n".join(lines)


def poor_coverage(engine: Engine) -> list[str]:
    """Monitors evaluated in fewer than half the windows they closed."""
    out = []
    for name, c in sorted(engine.detection.coverage.windows.items()):
        total = sum(c.values())
        if total and c.get("evaluated", 0) * 2 < total:
            rest = ", ".join(f"{o} {n}" for o, n in sorted(c.items()) if o != "evaluated")
            out.append(f"monitor {name} was evaluated in {c.get('evaluated', 0)} of {total} "
                       f"windows ({rest})")
    models = engine.detection.coverage.unreferenced
    if models:
        out.append("events of models without reference were not compared: "
                   + ", ".join(f"{m} ({n:,})" for m, n in sorted(models.items())))
    return out
