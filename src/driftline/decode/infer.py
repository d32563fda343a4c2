"""Zero-config: the schema inferred from a sample of the stream, bounded by construction.

Numbers are numeric features; strings, booleans and mixtures categorical (a feature
whose values are at least 95% numbers is numeric); every segment key seen is a segment
key. A name must be carried by at least ``MIN_SHARE`` of the sampled events
(a name on a stray event cannot be monitored anyway), and at most ``max_features``
features and ``max_segment_keys`` keys are kept — the ones most events carry (first
seen first among equals), so one event with thousands of names cannot crowd out
the real ones. The names left out are reported with the first message that
carried them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson

from driftline.config import FieldNames
from driftline.decode.contract import Contract, Event, is_number, is_scalar, lookup
from driftline.decode.schema import Schema

SAMPLE = 2000
MIN_SHARE = 0.01
NUMERIC_SHARE = 0.95


@dataclass(frozen=True)
class Inferred:
    schema: Schema
    #: name → (reason, index of the first sample message that carried it)
    left_out: dict[str, tuple[str, int]] = field(default_factory=dict)


def _numeric(kinds: Counter[str]) -> bool:
    """Numbers make a numeric feature when at least 95% of its values are numbers (the rest are
    then wrong_type dead letters, visible); booleans, strings and mixtures are categorical."""
    return kinds["n"] >= NUMERIC_SHARE * (kinds["n"] + kinds["c"])


def _keep(counts: Counter[str], first: dict[str, int], cap: int, least: float) -> list[str]:
    ranked = sorted((k for k in counts if counts[k] >= least), key=lambda k: (-counts[k], first[k]))
    return sorted(ranked[:cap], key=lambda k: first[k])


def infer(messages: list[bytes], fields: FieldNames = FieldNames(),  # noqa: B008 - frozen
          sample: int = SAMPLE, max_features: int = 200, max_segment_keys: int = 20,
          contract: Contract | None = None) -> Inferred:
    """The schema of the first ``sample`` messages, within the caps, and what was left out.

    ``contract`` (schema-free) judges which messages are events; by default the contract of
    ``fields``.
    """
    contract = contract or Contract(None, fields)
    fields = contract.fields
    kinds: dict[str, Counter[str]] = {}
    carried: Counter[str] = Counter()
    segs: Counter[str] = Counter()
    first: dict[str, int] = {}
    first_seg: dict[str, int] = {}
    valid = 0
    for i, raw in enumerate(messages[:sample]):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or not isinstance(contract.read(obj), Event):
            continue
        valid += 1
        feats = lookup(obj, fields.path("features"))
        for k, v in (feats.items() if isinstance(feats, dict) else ()):
            if not is_scalar(v):
                continue
            kinds.setdefault(k, Counter())["n" if is_number(v) else "c"] += 1
            carried[k] += 1
            first.setdefault(k, i)
        segments = lookup(obj, fields.path("segments"))
        for k in (segments if isinstance(segments, dict) else ()):
            segs[k] += 1
            first_seg.setdefault(k, i)
    usable = carried
    least = MIN_SHARE * valid
    kept = _keep(usable, first, max_features, least)
    keys = _keep(segs, first_seg, max_segment_keys, least)
    left_out = {k: ("feature_overflow", first[k]) for k in usable if k not in set(kept)}
    left_out |= {k: ("segment_key_overflow", first_seg[k]) for k in segs if k not in set(keys)}
    numeric = tuple(k for k in kept if _numeric(kinds[k]))
    categorical = tuple(k for k in kept if not _numeric(kinds[k]))
    return Inferred(Schema(numeric, categorical, tuple(keys), fields), left_out)


def infer_schema(messages: list[bytes], fields: FieldNames = FieldNames(),  # noqa: B008 - frozen
                 sample: int = SAMPLE) -> Schema:
    """The inferred schema alone (no cap a real stream would reach)."""
    return infer(messages, fields, sample, max_features=10**9, max_segment_keys=10**9).schema
