"""Window groups: the global window and one per distinct monitor window, all fed every event.

A monitor with its own ``window`` (say, a day for a fairness monitor) gets a group
per distinct (size, hop); every other monitor is in the group ``default``. Each
group has its own panes and watermark; an event is accepted only if every window
it belongs to, in every group, is still open.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from driftline.config import MonitorWindow, WindowSpec
from driftline.errors import ConfigError
from driftline.state import WindowGroupsState, validated
from driftline.windows.clock import segments
from driftline.windows.panes import ClosedWindow, Windows

DEFAULT = "default"


class Windowed(Protocol):
    """What a group needs of a monitor: its name and its own window, if any."""

    @property
    def name(self) -> str: ...

    @property
    def window(self) -> MonitorWindow | None: ...


M = TypeVar("M", bound=Windowed)


@dataclass
class Group(Generic[M]):
    """Monitors that share a window: its spec, panes and watermark."""

    key: str
    spec: WindowSpec
    windows: Windows
    monitors: list[M] = field(default_factory=list)


def make_group(key: str, spec: WindowSpec, hop_arg: str | int | None) -> Group[Any]:
    """A group of windows of ``spec`` sliding by ``hop_arg`` (None: tumbling)."""
    hop_spec = spec if hop_arg is None else WindowSpec.parse(hop_arg)
    if hop_spec.kind != spec.kind:
        raise ConfigError(f"window {key}: hop must be of the same kind (time or count) as size")
    k = max(1, round(spec.size / hop_spec.size))
    if abs(k * hop_spec.size - spec.size) > 1e-9 * spec.size:
        raise ConfigError(f"window {key}: size {spec} must be a multiple of its hop")
    return Group(key, spec, Windows(hop_spec.size, k))


class WindowGroups(Generic[M]):
    """The default group and the per-monitor ones; created once the global window is known."""

    def __init__(self) -> None:
        self.groups: dict[str, Group[M]] = {}
        self.cut: float | None = None  # first key evaluated after a warm-up

    def __bool__(self) -> bool:
        return bool(self.groups)

    def __iter__(self) -> Iterator[Group[M]]:
        return iter(self.groups.values())

    @property
    def default(self) -> Group[M] | None:
        return self.groups.get(DEFAULT)

    def start(self, spec: WindowSpec, hop: str | int | None) -> None:
        """Create the default group for the global window ``spec``."""
        self.groups[DEFAULT] = make_group(DEFAULT, spec, hop)

    def assign(self, monitors: Sequence[M]) -> None:
        """Give every monitor its group, creating the groups of per-monitor windows."""
        default = self.default
        if default is None or not monitors:
            return
        for g in self.groups.values():
            g.monitors = []
        for m in monitors:
            if m.window is None:
                default.monitors.append(m)
                continue
            key = m.window.key
            if key not in self.groups:
                spec = WindowSpec.parse(m.window.size)
                if spec.kind != default.spec.kind:
                    raise ConfigError(f"monitor {m.name}: its window must be of the same kind "
                                      f"({default.spec.kind}) as the global window")
                g = make_group(key, spec, m.window.hop)
                if self.cut is not None:
                    g.windows.start_at(self.cut)
                self.groups[key] = g
            self.groups[key].monitors.append(m)

    def start_at(self, cut: float) -> None:
        """Evaluation starts at ``cut`` in every group (the end of the warm-up)."""
        self.cut = cut
        for g in self.groups.values():
            g.windows.start_at(cut)

    def late(self, keys: np.ndarray, marks_before: np.ndarray) -> np.ndarray:
        """Events whose window, in some group, had closed when they arrived."""
        late = np.zeros(keys.shape, bool)
        for g in self.groups.values():
            late |= g.windows.late(g.windows.pane_ids(keys), marks_before)
        return late

    def slices(self, marks_before: np.ndarray, mark: float) -> list[tuple[int, int, float]]:
        """A batch's slices to feed and close in turn (``segments``, over every group's hop)."""
        return segments(marks_before, mark, [g.windows.hop for g in self.groups.values()])

    def observe(self, mark: float) -> None:
        for g in self.groups.values():
            g.windows.observe(mark)

    def close_ready(self) -> list[tuple[Group[M], ClosedWindow]]:
        """Every window the mark has passed, in every group, in the order of their ends — the
        order they closed in as the mark advanced, whatever the batches were."""
        closed = [(g, win) for g in self.groups.values() for win in g.windows.close_ready()]
        order = {g.key: i for i, g in enumerate(self.groups.values())}
        return sorted(closed, key=lambda gw: (gw[1].end, order[gw[0].key]))

    def snapshot(self) -> dict[str, Any]:
        return {"cut": self.cut,
                "groups": {k: {"spec": g.spec.model_dump(), "windows": g.windows.snapshot()}
                           for k, g in self.groups.items()}}

    def restore(self, snap: dict[str, Any], monitors: Sequence[M]) -> None:
        s = validated(WindowGroupsState, snap, "windows")
        self.cut = s.cut
        self.groups = {k: Group(k, WindowSpec(kind=g.spec.kind, size=g.spec.size),
                                Windows.from_state(g.windows)) for k, g in s.groups.items()}
        self.assign(monitors)
