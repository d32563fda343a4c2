"""Event time through the zero-config engine, on the streams that used to blind it.

60,000 events at 20/s with a 3-sd shift of ``x`` from event 40,000 (the baseline finds it,
0 late, 5-minute windows); each case bends the clocks of a few events and checks that the
shift is still found, that only the bent events are late or refused, that the window is
the baseline's, and that no batching changes a thing. Then a slow stream (150 events a
day) with a 0.7-sd shift after a year.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from synth import T0, rounded, run_engine, stream

from driftline.cli.summary import summarize
from driftline.config import Config
from driftline.engine import Engine
from driftline.timestamps import iso, parse_rfc3339

DAY = 86_400.0
SHIFT_AT = 40_000


def baseline_times() -> np.ndarray:
    return T0 + np.arange(60_000) / 20.0


def bent(case: str) -> tuple[np.ndarray, int, int]:
    """The stream's times for ``case``; how many events are behind, and beyond 24 h ahead."""
    t = baseline_times()
    if case == "one event 1 h ahead":
        t[30_000] += 3600
    elif case == "a host 10 min ahead":
        t[::10] += 600
    elif case == "0.1% skewed by hours to a year":
        rng = np.random.default_rng(5)
        idx = rng.choice(np.arange(1_000, 60_000), 60, replace=False)
        off = np.exp(rng.uniform(np.log(3600), np.log(3.15e7), 60)) * rng.choice([-1, 1], 60)
        t[idx] += off
        return t, int((off < 0).sum()), int((off > DAY).sum())
    elif case == "a first-batch event 2 h behind":
        t[5] -= 7200
    elif case == "a first-batch event from 1970":
        t[5] = 0.0
    return t, 0, 0


@functools.cache
def messages(case: str) -> tuple[bytes, ...]:
    t, _, _ = bent(case)
    return tuple(stream(t[:SHIFT_AT], seed=1) + stream(t[SHIFT_AT:], seed=2, shift=3.0))


def replay(msgs: tuple[bytes, ...], batch: int) -> tuple[Engine, list[dict[str, Any]]]:
    engine = Engine(Config())
    events = run_engine(engine, [list(msgs[i:i + batch]) for i in range(0, len(msgs), batch)])
    return engine, events


def opened_on_x(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["window"]["start"] for e in events
            if e["type"].endswith(".opened") and e["data"]["signal"] == "feature:x"]


CASES = ["baseline", "one event 1 h ahead", "a host 10 min ahead",
         "0.1% skewed by hours to a year", "a first-batch event 2 h behind",
         "a first-batch event from 1970"]


@pytest.mark.parametrize("case", CASES)
def test_bent_clocks_leave_the_drift_found_and_only_themselves_refused(case: str) -> None:
    """The shift opens ks-x and psi-x in the window it starts in; late are exactly the events
    behind; bad timestamps exactly those beyond 24 h ahead (or before the 2000 floor)."""
    _, behind, ahead = bent(case)
    engine, events = replay(messages(case), 5_000)
    shift_window = iso(np.floor((T0 + SHIFT_AT / 20) / 300) * 300)
    assert sorted(opened_on_x(events)) == [shift_window, shift_window]
    assert str(engine.spec) == "5m"
    assert engine.totals.late == behind
    assert engine.totals.ahead == ahead
    floor = 1 if "1970" in case else 0
    assert dict(engine.totals.invalid) == {k: v for k, v in (
        ("late", behind), ("bad_timestamp", ahead + floor)) if v}
    opened = [e for e in events if e["type"].endswith(".opened")]
    before = [e["data"]["monitor"] for e in opened if e["data"]["window"]["start"] < shift_window]
    assert before == [], "a false alarm before the shift"


@pytest.mark.parametrize("case", ["0.1% skewed by hours to a year", "a host 10 min ahead"])
def test_the_batching_never_changes_a_result(case: str) -> None:
    """Batches of 13 events, 64, 1,000, 10,000 (replay's default) and the whole stream give
    the same incident events (statistics up to float summation order), the same counts and
    the same window."""
    msgs = messages(case)[:45_000]
    results = []
    for batch in (13, 64, 1_000, 10_000, len(msgs)):
        engine, events = replay(msgs, batch)
        summary = summarize(engine, 1.0)
        results.append((rounded(events), summary["events"], summary["time"],
                        summary["windows_closed"]))
    assert all(r == results[0] for r in results[1:])
    assert results[0][0], "the shift must be found"


@functools.cache
def slow_stream(seed: int) -> tuple[tuple[bytes, ...], float]:
    """150 events a day (a loan or claims model): a clean year, then 90 days shifted 0.7 sd."""
    rng = np.random.default_rng(seed)
    times = T0 + np.cumsum(rng.exponential(DAY / 150, 150 * 455))
    at = int(np.searchsorted(times, T0 + 365 * DAY))
    msgs = stream(times[:at], seed=seed) + stream(times[at:], seed=seed + 100, shift=0.7)
    return tuple(msgs), float(times[at])


@pytest.mark.parametrize("seed", [0, 1])
def test_a_slow_stream_is_watched_and_its_shift_found(seed: int) -> None:
    """Zero config sizes 28-day windows (1-day ones never reached min_samples), raises nothing
    over the clean year, and opens ks-x within 1.5 windows of the shift."""
    msgs, shift = slow_stream(seed)
    engine, events = replay(msgs, 10_000)
    assert str(engine.spec) == "28d"
    assert engine.totals.late == 0 and not engine.totals.invalid
    opened = [e for e in events if e["type"].endswith(".opened")]
    ends = [parse_rfc3339(e["data"]["window"]["end"]) for e in opened
            if e["data"]["monitor"] == "ks-x"]
    assert ends and min(ends) is not None and min(ends) - shift <= 1.5 * 28 * DAY
    false = [e["data"]["monitor"] for e in opened
             if (parse_rfc3339(e["data"]["window"]["end"]) or 0) <= shift]
    assert false == []
    assert engine.totals.windows >= 14


def test_the_summary_says_how_the_window_was_chosen_and_where_the_watermark_is() -> None:
    """The replay summary reports the rate the auto window came from and the watermark rule."""
    engine, _ = replay(messages("a host 10 min ahead"), 10_000)
    time = summarize(engine, 1.0)["time"]
    assert time["window"] == "5m" and time["window_rule"] == "auto"
    assert time["rate_sample_events"] == 1_000 and time["target_events"] == 5_000
    # the first 1,000 events span 50 s; the host's 100 of them sit 10 min ahead, outside the
    # middle half: the rate is the other 900's
    assert time["rate_per_second"] == pytest.approx(18.0, rel=0.02)
    wm = time["watermark"]
    assert (wm["lateness"], wm["max_ahead"]) == ("30s", "24h")
    assert wm["final"] <= iso(T0 + 60_000 / 20 + 600)
