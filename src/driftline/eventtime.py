"""Event time of one source: the window it is cut into (decided once) and the clock that
says which events are too far ahead, which are late, and how far the stream has got."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from driftline.config import WindowConfig, WindowSpec, duration_text, parse_duration
from driftline.decode import Batch, DeadLetter
from driftline.monitors import Monitor
from driftline.prelude import RATE_SAMPLE
from driftline.state import Count, Finite, State, validated
from driftline.timestamps import iso
from driftline.windows import WindowGroups
from driftline.windows.clock import Clock, Tick
from driftline.windows.sizing import event_rate, window_for


class EventTimeState(State):
    clock: dict[str, Any]  # ClockState
    rate: Finite | None = Field(None, gt=0)
    rate_sample: Count


@dataclass(frozen=True)
class Timed:
    """A batch's events that go on (with their keys and marks), and those that do not."""

    batch: Batch
    tick: Tick
    dead_letters: list[DeadLetter]
    late_models: np.ndarray  # model codes of the late events (for the events metric)
    ahead: int  # events beyond max_ahead (bad timestamps)


class EventTime:
    """The window (``auto``: sized from the prelude's event rate) and the clock."""

    def __init__(self, window: WindowConfig, arg: str | int) -> None:
        self.window, self.arg = window, arg
        self.clock: Clock | None = None
        self.rate: float | None = None  # events/s an auto window was sized from
        self.rate_sample = 0  # the events that rate was read from

    def choose(self, times: np.ndarray) -> WindowSpec:
        """The window of the stream whose first valid event times are ``times``."""
        if self.arg == "auto":
            sample = times[:RATE_SAMPLE]
            self.rate, self.rate_sample = event_rate(sample), int(sample.size)
            spec = window_for(self.rate, self.window.target_events)
        else:
            spec = WindowSpec.parse(self.arg)
        self.clock = Clock.of(spec, self.window)
        return spec

    def sort(self, batch: Batch, messages: list[bytes], windowing: WindowGroups[Monitor]) -> Timed:
        """Keys and marks of a batch; too far ahead and late events set apart as dead letters."""
        assert self.clock is not None
        tick = self.clock.tick(batch.timestamp)
        dead: list[DeadLetter] = []
        ahead = int(tick.future.sum())
        if ahead:
            dead += batch.dead_letters(messages, tick.future, "bad_timestamp",
                                       f"more than {self.window.max_ahead} ahead of the "
                                       "stream's frontier")
            batch, tick = batch.take(~tick.future), tick.take(~tick.future)
        # late: the watermark had passed the end of every window it belongs to when it came
        # (the same rule in the warm-up, whose windows become the reference)
        late = windowing.late(tick.keys, tick.marks_before)
        late_models = batch.model[late]
        if late_models.size:
            dead += batch.dead_letters(messages, late, "late", "behind the watermark")
            batch, tick = batch.take(~late), tick.take(~late)
        return Timed(batch, tick, dead, late_models, ahead)

    def summary(self, spec: WindowSpec | None) -> dict[str, Any]:
        """The window and the watermark as the replay summary reports them."""
        w = self.window
        out: dict[str, Any] = {"window": str(spec) if spec else None,
                               "window_rule": "auto" if self.arg == "auto" else "configured"}
        if self.arg == "auto":
            out |= {"rate_per_second": None if self.rate is None else round(self.rate, 6),
                    "rate_sample_events": self.rate_sample, "target_events": w.target_events}
        wm = self.clock.watermark if self.clock is not None else None
        if wm is not None:
            out["watermark"] = {
                "rule": "median of the last 512 event times minus the lateness",
                "lateness": duration_text(parse_duration(w.lateness)), "max_ahead": w.max_ahead,
                "frontier": iso(wm.frontier) if np.isfinite(wm.frontier) else None,
                "final": iso(wm.final()) if np.isfinite(wm.final()) else None}
        return out

    def snapshot(self) -> dict[str, Any] | None:
        if self.clock is None:
            return None
        return {"clock": self.clock.snapshot(), "rate": self.rate, "rate_sample": self.rate_sample}

    def restore(self, snap: dict[str, Any], spec: WindowSpec) -> None:
        s = validated(EventTimeState, snap, "event time")
        self.clock = Clock.of(spec, self.window)
        self.clock.restore(s.clock)
        self.rate, self.rate_sample = s.rate, s.rate_sample
