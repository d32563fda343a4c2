"""A pane's facts are kept per model: an incident cites its own model's versions and events.

Two models share the windows of one stream; one drifts. Its incident must cite its versions
only and the positions of its own events in the window (what ``explain`` re-reads), as a
brute-force pass over the stream computes them — not the other model's beside them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from synth import T0, event, run_engine

from driftline.config import Config
from driftline.engine import Engine
from driftline.errors import StateError
from driftline.windows.panes import LEGACY, Facts, Pane

WINDOW = 60.0
RATE = 4  # events a second for 14 minutes, alternately of model a and model b
N = 14 * 60 * RATE


def two_models() -> list[bytes]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(N):
        t = T0 + i / RATE
        model, version = ("a", "a-1") if i % 2 == 0 else ("b", "b-7" if i < N // 2 else "b-8")
        x = float(rng.normal()) + (2.0 if model == "a" and t >= T0 + 8 * 60 else 0.0)
        out.append(event(t, x=x, model=model, model_version=version))
    return out


def engine() -> Engine:
    return Engine(Config(monitors=[{"name": "psi-x", "signal": "feature:x", "detector": "psi"}],
                         detection={"min_samples": 50}), window="60s")


def test_an_incident_cites_its_own_models_versions_and_events() -> None:
    messages = two_models()
    events = run_engine(engine(), [messages])
    cited = [e["data"] for e in events]
    assert {(d["monitor"], d["model_id"]) for d in cited} == {("psi-x", "a")}, \
        "model a's drift, and nothing else, must open an incident"
    for d in cited:
        lo, hi = _window_seconds(d["window"])
        assert hi - lo == WINDOW
        mine = [i for i in range(N) if lo <= T0 + i / RATE < hi
                and orjson.loads(messages[i])["model_id"] == d["model_id"]]
        assert d["model_versions"] == sorted({orjson.loads(messages[i])["model_version"]
                                              for i in mine})
        assert [(p["first_offset"], p["last_offset"]) for p in d["source_positions"]] \
            == [(min(mine), max(mine))]


def _window_seconds(window: dict[str, Any]) -> tuple[float, float]:
    from driftline.timestamps import parse_rfc3339

    return parse_rfc3339(window["start"]), parse_rfc3339(window["end"])


def test_facts_merge_as_their_events_concatenate() -> None:
    """Merging two panes' facts gives the facts of all their events together."""
    rng = np.random.default_rng(5)
    keys = rng.uniform(0, 60, 400)
    parts, pos = rng.integers(0, 3, 400), np.arange(400)
    versions, lpos = rng.integers(-1, 4, 400), rng.integers(-1, 50, 400)
    lpart = np.zeros(400, np.int64)

    def of(sel: np.ndarray) -> Facts:
        f = Facts()
        f.note(keys[sel], keys[sel] + T0, versions[sel], parts[sel], pos[sel], lpart[sel],
               lpos[sel])
        return f

    half = rng.random(400) < 0.5
    whole, merged = of(np.ones(400, bool)), of(half).merge(of(~half))
    assert merged == whole
    assert whole.count == 400
    assert whole.versions == {int(v) for v in versions if v >= 0}
    assert whole.positions == {int(p): (int(pos[parts == p].min()), int(pos[parts == p].max()))
                               for p in np.unique(parts)}
    assert whole.label_positions == {0: (int(lpos[lpos >= 0].min()), int(lpos.max()))}
    assert whole.last == (float(keys.max()), float(keys.max() + T0))


def test_a_checkpoint_of_one_set_of_facts_per_pane_is_read() -> None:
    """A pane saved before facts were kept per model (its facts beside its sketches) is read
    as facts every model of the pane cites; new events add to them."""
    messages = two_models()
    first = engine()
    first.process(messages[:2000], np.arange(2000))
    state = json.loads(json.dumps(first.snapshot(), allow_nan=False))
    for g in state["windows"]["groups"].values():
        for pane in g["windows"]["panes"].values():
            models = pane.pop("models")
            whole = Pane(models={m: Facts.from_state(_facts_state(f))
                                 for m, f in models.items()}).whole
            pane.update({k: v for k, v in whole.snapshot().items()})
    resumed = engine()
    resumed.restore(state)
    panes = [p for g in resumed.windowing for p in g.windows.panes.values()]
    assert panes and all(set(p.models) == {LEGACY} for p in panes)
    assert panes[0].facts("a") == panes[0].facts("b") == panes[0].models[LEGACY]
    resumed.process(messages[2000:2020], np.arange(2000, 2020))
    pane = max((p for g in resumed.windowing for p in g.windows.panes.items()),
               key=lambda kv: kv[0])[1]
    assert pane.facts("a").count == pane.models[LEGACY].count + pane.models["a"].count


def _facts_state(f: dict[str, Any]) -> Any:
    from driftline.state import FactsState, validated

    return validated(FactsState, f, "facts")


def test_facts_of_a_model_the_decoder_does_not_know_are_refused() -> None:
    first = engine()
    first.process(two_models()[:2000], np.arange(2000))
    state = json.loads(json.dumps(first.snapshot(), allow_nan=False))
    pane = next(p for g in state["windows"]["groups"].values()
                for p in g["windows"]["panes"].values())
    pane["models"]["nobody"] = pane["models"]["a"]
    with pytest.raises(StateError, match="facts of a model the decoder does not know"):
        engine().restore(state)
