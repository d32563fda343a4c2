"""Reference profiles: fitted per model, content-addressed, saved and loaded intact, checked on load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest
from synth import T0, per_window, run_engine, stream

from driftline.config import Config
from driftline.engine import Engine
from driftline.errors import ReferenceError_
from driftline.reference import Reference

MONITORS = [{"name": "psi-x", "signal": "feature:x", "detector": "psi"},
            {"name": "rate-by-region", "signal": "decision=prioritize", "detector": "segment_rate",
             "segment_by": "region"}]


def config(monitors: list[dict[str, object]] = MONITORS) -> Config:
    return Config(window={"size": "60s"}, detection={"min_samples": 20}, monitors=monitors)


def build(events: list[bytes], cfg: Config | None = None) -> Reference:
    engine = Engine(cfg or config(), reference_events=events)
    engine.prepare(events)
    assert engine.reference is not None
    return engine.reference


REF_EVENTS = stream(per_window(4, 100), seed=1)


def test_the_id_is_a_hash_of_the_content() -> None:
    """The same events give the same id; one changed event gives another."""
    a, b = build(REF_EVENTS), build(list(REF_EVENTS))
    assert a.id == b.id and a.id.startswith("sha256:")
    changed = [*REF_EVENTS[:-1], stream([T0], seed=99, shift=5)[0]]
    assert build(changed).id != a.id


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    """A saved profile loads with the same id, event count, models and sketches."""
    ref = build(REF_EVENTS)
    ref.save(tmp_path / "ref.json")
    loaded = Reference.load(tmp_path / "ref.json")
    assert loaded.id == ref.id
    assert loaded.to_json() == ref.to_json()
    assert loaded.n_events == len(REF_EVENTS)
    assert set(loaded.models) == {"m"}


def test_a_profile_is_fitted_per_model() -> None:
    """Events of two models give each model its own sketches."""
    other = [e.replace(b'"model_id":"m"', b'"model_id":"m2"') for e in REF_EVENTS[:200]]
    ref = build(REF_EVENTS + other)
    assert set(ref.models) == {"m", "m2"}
    assert set(ref.models["m"]) == set(ref.models["m2"])


def test_a_tampered_profile_is_refused(tmp_path: Path) -> None:
    """A profile whose content no longer matches its id is a ReferenceError."""
    data = build(REF_EVENTS).to_json()
    data["n_events"] += 1
    (tmp_path / "ref.json").write_text(json.dumps(data))
    with pytest.raises(ReferenceError_, match="does not match its id"):
        Reference.load(tmp_path / "ref.json")


@pytest.mark.parametrize("content", [b"not json", b'{"format": "something/else"}', b"{}"])
def test_what_is_not_a_profile_is_refused(tmp_path: Path, content: bytes) -> None:
    """A file that is not a driftline reference profile is a ReferenceError, not a crash."""
    (tmp_path / "ref.json").write_bytes(content)
    with pytest.raises(ReferenceError_):
        Reference.load(tmp_path / "ref.json")


def test_a_profile_missing_a_monitor_slot_is_refused() -> None:
    """A profile built without a monitor the config now has cannot be used with that config."""
    ref = build(REF_EVENTS, config(MONITORS[:1]))
    loaded = Reference.from_json(orjson.loads(orjson.dumps(ref.to_json())))
    engine = Engine(config(), reference=loaded)
    with pytest.raises(ReferenceError_, match="rebuild it"):
        engine.process(stream(per_window(1, 10)))


def test_reference_events_without_a_valid_event_are_refused() -> None:
    """Reference events that all fail the contract are a ReferenceError."""
    with pytest.raises(ReferenceError_, match="no valid event"):
        build([b"{", b"[]"])


def test_a_loaded_profile_and_the_events_it_came_from_judge_alike() -> None:
    """Detection against a saved-and-loaded profile equals detection against its source events."""
    current = stream(per_window(6, 100, start=T0 + 3600), seed=2, shift=0.8, shift_region="south")
    batches = [current[i:i + 150] for i in range(0, len(current), 150)]
    from_events = run_engine(Engine(config(), reference_events=REF_EVENTS), batches)
    profile = Reference.from_json(json.loads(json.dumps(build(REF_EVENTS).to_json())))
    from_profile = run_engine(Engine(config(), reference=profile), batches)
    assert from_events and from_events == from_profile
    assert {e["data"]["evidence"]["reference_id"] for e in from_events} == {profile.id}
    assert np.all([e["data"]["segment"] in ({}, {"region": "south"}) for e in from_events])


def test_a_profile_of_an_older_format_is_refused_by_its_version(tmp_path: Path) -> None:
    """A profile written by an older driftline names its format and the rebuild."""
    data = build(REF_EVENTS).to_json()
    data["format"] = "driftline.reference/1"
    (tmp_path / "ref.json").write_text(json.dumps(data))
    with pytest.raises(ReferenceError_, match=r"reference/1.*reference build"):
        Reference.load(tmp_path / "ref.json")
