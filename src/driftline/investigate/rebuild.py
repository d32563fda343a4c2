"""The reference an incident was judged against, obtained again.

With a reference file (a profile from ``driftline reference build``, or JSON-lines reference
events) it is that file, read as ``replay --reference`` reads it. Without one, the incident's
reference came from the warm-up — the first ``reference.warmup_windows`` windows of the stream —
and is rebuilt by replaying the beginning of the stream through an ``Engine`` until its warm-up
ends, in batches of the size the original run read (``replay``: 10,000 lines; ``run``:
``kafka.batch_size``), since the first batch is the zero-config schema's sample. Whether the
rebuilt reference is the incident's is its content hash: the caller compares it with the
incident's ``evidence.reference_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftline.config import Config
from driftline.engine import Engine
from driftline.errors import ReferenceError_
from driftline.investigate.sources import Events
from driftline.reference import Reference, load_reference

if TYPE_CHECKING:
    from driftline.labels.join import LabelJoin


@dataclass(frozen=True)
class Rebuilt:
    """A reference, and how it was obtained (for the report and explain.json)."""

    reference: Reference
    how: str
    #: the first key evaluated after a warm-up (None: a reference file, no warm-up)
    cut: float | None = None
    #: positions read to rebuild a warm-up: (first, last)
    read: tuple[int, int] | None = None


def from_file(config: Config, path: str, labels: LabelJoin | None = None) -> Rebuilt:
    """A profile, or reference events fitted the way ``replay --reference`` fits them (their
    labels joined as the run joined them)."""
    reference, events = load_reference(path, config.input.max_message_bytes)
    if reference is not None:
        return Rebuilt(reference, f"profile {path}")
    assert events is not None
    engine = Engine(config, reference_events=events, labels=labels)
    engine.prepare(events)
    assert engine.reference is not None
    return Rebuilt(engine.reference, f"reference events {path} ({len(events)} lines)")


def from_warmup(config: Config, window: str | int | None, batches: Iterable[Events],
                origin: Mapping[str, Any], where: str, labels: LabelJoin | None = None,
                ) -> Rebuilt:
    """Replay the beginning of the stream until the engine's warm-up has fitted its reference."""
    engine = Engine(config, window=window, origin=origin, labels=labels)
    first: int | None = None
    last = 0
    for chunk in batches:
        if not chunk.messages:
            continue
        first = int(chunk.positions[0]) if first is None else first
        last = int(chunk.positions[-1])
        engine.process(chunk.messages, chunk.positions, chunk.partitions)
        if engine.reference is not None:
            break
    else:
        engine.finish()  # the stream ended inside the warm-up: fitted from all of it
    if engine.reference is None or first is None:
        raise ReferenceError_(f"{where}: no valid event to rebuild the warm-up reference from")
    n = config.reference.warmup_windows
    how = (f"warm-up rebuilt: the first {n} window{'s' if n > 1 else ''} of {where} "
           f"(positions {first}–{last} read)")
    return Rebuilt(engine.reference, how, engine.windowing.cut, (first, last))
