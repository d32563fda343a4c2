"""The runtime's unit of state: one assigned input partition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftline.engine import Engine
from driftline.io.kafka_sink import Record


@dataclass
class Part:
    """One assigned input partition: its engine, committed base, progress and pending output."""

    partition: int
    engine: Engine
    base_offset: int | None  # the offset the last committed state ends at (None: not yet known)
    base_blob: bytes | None  # that state, encoded (None: a fresh engine)
    next_offset: int | None  # the position after the last processed message
    dirty: bool = False  # state changed since the last commit
    incidents: list[dict[str, Any]] = field(default_factory=list)
    dead: list[Record] = field(default_factory=list)
    #: keys of the messages a new engine holds in its prelude (their dead letters keep them)
    prelude_keys: dict[int, bytes] = field(default_factory=dict)
    slot: str = "a"  # the changelog slot the next checkpoint goes to (they alternate)
    suppress_until: int | None = None  # output before this offset was published already

    @property
    def position(self) -> int | None:
        """Where consumption stands: after the last processed message, else the committed base."""
        return self.next_offset if self.next_offset is not None else self.base_offset

    @property
    def uncommitted(self) -> bool:
        """State or output that the last commit does not hold."""
        return bool(self.dirty or self.incidents or self.dead)

    @property
    def catching_up(self) -> bool:
        """Re-reading events whose output is published: nothing to commit until past them."""
        return self.suppress_until is not None and (self.next_offset or 0) < self.suppress_until

    @property
    def warming(self) -> bool:
        """In its prelude or fitting its reference from the first windows: its state is the
        raw events so far, which the input topic keeps — nothing to checkpoint yet."""
        e = self.engine
        return len(e.prelude) > 0 or (
            e.decoder is not None and e.reference is None and e.windows is not None)
