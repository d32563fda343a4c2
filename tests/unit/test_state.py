"""State read back is data, validated before use: no code runs, a fault is a StateError.

A real engine snapshot (mid-stream, with panes, incidents, gradual memory) is the
starting point; the tests corrupt it the ways a hostile or unlucky record could.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synth import per_window, stream

from driftline.config import Config
from driftline.engine import Engine
from driftline.errors import DriftlineError, StateError

MONITORS = [
    {"name": "psi-x", "signal": "feature:x", "detector": "psi"},
    {"name": "gradual-p", "signal": "prediction", "detector": "gradual"},
    {"name": "rate-by-region", "signal": "decision=prioritize", "detector": "segment_rate",
     "segment_by": "region"},
]
CONFIG = Config(monitors=MONITORS, window={"size": "60s"},
                detection={"min_samples": 50, "min_reference": 20})
TIMES = per_window(20, 150)  # past the prelude (2,000 messages for a zero-config schema)
MESSAGES = stream(TIMES[:2100], seed=1) + stream(TIMES[2100:], seed=2, shift=2.0)
CUT = 2700


@functools.cache
def snapshot_json() -> str:
    engine = Engine(CONFIG)
    engine.process(MESSAGES[:CUT], np.arange(CUT))
    snap = engine.snapshot()
    assert snap["panes" if "panes" in snap else "windows"]["groups"]["default"]["windows"]["panes"]
    assert snap["incidents"] and snap["memory"]
    return json.dumps(snap)


def fresh_snapshot() -> dict[str, Any]:
    return json.loads(snapshot_json())


def continue_from(snap: dict[str, Any]) -> list[dict[str, Any]]:
    engine = Engine(CONFIG)
    engine.restore(snap)
    out = engine.process(MESSAGES[CUT:], np.arange(CUT, len(MESSAGES))).incidents
    return out + engine.finish().incidents


class Boom:
    """Unpickling this runs code: it writes a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.path, "pwned"))


def test_a_restored_snapshot_continues_exactly() -> None:
    """Restore then continue gives the incidents of the uninterrupted run (the baseline)."""
    engine = Engine(CONFIG)
    straight = engine.process(MESSAGES, np.arange(len(MESSAGES))).incidents
    straight += engine.finish().incidents
    assert straight
    assert continue_from(fresh_snapshot())[-1] == straight[-1]


def test_a_pickle_in_the_memory_of_a_detector_runs_nothing(tmp_path: Path) -> None:
    """The old pickled gradual memory, crafted to run code, is refused and runs nothing."""
    marker = tmp_path / "pwned"
    payload = base64.b64encode(pickle.dumps(Boom(marker))).decode()
    snap = fresh_snapshot()
    key = next(iter(snap["memory"]))
    snap["memory"][key] = {"pickle": payload}
    with pytest.raises(StateError, match="gradual-drift memory"):
        continue_from(snap)
    assert not marker.exists()


def test_a_state_of_another_version_is_refused_by_its_version() -> None:
    """A checkpoint of the previous format names its version and the rebuild, never half-loads."""
    snap = fresh_snapshot()
    snap["format"] = "driftline.state/1"
    with pytest.raises(StateError, match=r"driftline\.state/1.*rebuild"):
        continue_from(snap)


@pytest.mark.parametrize(("path", "value", "says"), [
    (("windows", "groups", "default", "windows", "hop"), -60.0, "hop"),
    (("windows", "groups", "default", "windows", "panes"), {"x": {}}, "panes.x"),
    (("totals", "read"), -1, "totals"),
    (("incidents",), {"k": {"breach_streak": "many"}}, "incident tracks"),
    (("decoder", "models", "names"), ["a", "a"], "unique"),
    (("count",), 1.5, "count"),
    (("warmup", "keys"), [[float("nan")]], "warm-up"),
], ids=["negative-hop", "pane-id", "negative-count", "track", "vocabulary", "float-count",
        "nan"])
def test_a_malformed_part_is_a_state_error_that_names_it(path: tuple[str, ...], value: Any,
                                                         says: str) -> None:
    """Each malformed part of the state is refused with a message that says which."""
    snap = fresh_snapshot()
    node = snap
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(StateError, match=says):
        continue_from(snap)


@pytest.mark.parametrize("count", [9.223372036854776e18, 2.5], ids=["beyond-2**53", "fraction"])
def test_a_moments_count_that_is_no_number_of_events_is_refused(count: float) -> None:
    """A pane's moments count past 2**53 (it overflowed an int64 when the window closed,
    found by the corruption test below) or not whole is refused at restore."""
    snap = fresh_snapshot()
    moments = [p for p in paths(snap) if p[-1:] == ("kind",) and "panes" in p
               and _at(snap, p) == "moments"]
    assert moments, "the snapshot holds a pane with a moments sketch"
    _at(snap, moments[0][:-1])["data"][0][0] = count
    with pytest.raises(StateError, match="at most 2"):
        continue_from(snap)


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in a JSON tree (lists: their first items only, to stay small)."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:2]):
            out += paths(v, (*prefix, i))
    return out


@functools.cache
def all_paths() -> list[tuple[Any, ...]]:
    return [p for p in paths(fresh_snapshot()) if p]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_corruption_is_refused_or_harmless(data: st.DataObject) -> None:
    """Replace any value of a real snapshot with any JSON: restore refuses it with a driftline
    error, or accepts it and the engine goes on processing without an exception."""
    snap = fresh_snapshot()
    path = data.draw(st.sampled_from(all_paths()))
    node = snap
    for key in path[:-1]:
        node = node[key]
    original = copy.deepcopy(node[path[-1]])
    value = data.draw(JSON.filter(lambda v: v != original))
    node[path[-1]] = value
    with contextlib.suppress(DriftlineError):
        continue_from(snap)
