"""Zero-config schema inference: what the events carry, within the caps, with what was left out."""

from __future__ import annotations

import orjson

from driftline.config import Config
from driftline.decode.infer import infer
from driftline.startup import compile_for, new_decoder


def event(i: int, features: dict[str, object], segments: dict[str, str] | None = None) -> bytes:
    return orjson.dumps({"model_id": "m", "timestamp": 1e9 + i, "prediction": 0.5,
                         "features": features, "segments": segments or {}})


def test_past_the_feature_cap_the_first_seen_are_kept_and_the_rest_reported() -> None:
    """250 features in every event, a cap of 200: the first 200 kept, 50 reported at event 0."""
    messages = [event(i, {f"f{j:03d}": float(j) for j in range(250)}) for i in range(50)]
    got = infer(messages, max_features=200)
    assert got.schema.numeric == tuple(f"f{j:03d}" for j in range(200))
    assert got.left_out == {f"f{j:03d}": ("feature_overflow", 0) for j in range(200, 250)}


def test_the_names_most_events_carry_win_over_a_flood_on_one_event() -> None:
    """A name on one event in a thousand is not a feature; the common ones are, whatever the order."""
    flood = event(0, {f"junk{j}": 1.0 for j in range(500)}, {f"k{j}": "v" for j in range(50)})
    messages = [flood] + [event(i, {"a": 1.0, "b": "x"}, {"region": "n"}) for i in range(1, 1000)]
    got = infer(messages, max_features=10, max_segment_keys=3)
    assert (got.schema.numeric, got.schema.categorical, got.schema.segments) == (
        ("a",), ("b",), ("region",))
    assert sum(r == "feature_overflow" for r, _ in got.left_out.values()) == 500
    assert sum(r == "segment_key_overflow" for r, _ in got.left_out.values()) == 50


def test_the_preset_stops_at_the_monitor_cap_and_names_what_it_left_out() -> None:
    """limits.monitors bounds the preset; the monitors beyond it are returned by name."""
    cfg = Config(limits={"monitors": 5})
    messages = [event(i, {f"f{j}": float(i + j) for j in range(10)}) for i in range(20)]
    decoder = new_decoder(cfg, infer(messages).schema)
    monitors, left_out = compile_for(cfg, decoder, None, None)
    assert len(monitors) == 5 and len(left_out) == 2 * 10 + 3 - 5
    assert not {m.name for m in monitors} & set(left_out)
