"""What the engine runs, decided once: the schema, the decoder and the compiled monitors.

The schema comes from the config, else from a reference profile, else it is
inferred from a sample of the stream (zero-config); with no monitors in the
config, the preset monitors everything the schema holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline import performance
from driftline.config import Config
from driftline.decode import Batch, DeadLetter, Decoder, Schema
from driftline.decode.contract import Contract
from driftline.decode.infer import Inferred, infer
from driftline.detectors.sketches import CountTable
from driftline.errors import ReferenceError_
from driftline.monitors import Monitor, compile_monitors, preset, slot_name
from driftline.reference import Reference
from driftline.state import DecoderState, validated

DECISION_SLOT = slot_name("decision", None, "count_table")


def resolve_schema(cfg: Config, reference: Reference | None, sample: list[bytes]) -> Inferred:
    """The config's features and segment keys, else the profile's, else inferred from ``sample``.

    What inference leaves out (beyond ``limits.features`` / ``limits.segment_keys``) is
    returned with it, to be reported.
    """
    if reference is not None:
        s = reference.decoder["schema"]
        return Inferred(Schema(tuple(s["numeric"]), tuple(s["categorical"]),
                               tuple(s["segments"]), cfg.input.fields, cfg.labels.enabled))
    i, lim = cfg.input, cfg.limits
    inferred = infer(sample, max_features=lim.features, max_segment_keys=lim.segment_keys,
                     contract=Contract(None, i.fields, i.model_id, i.floor))
    found = inferred.schema
    schema = Schema(
        tuple(i.numeric_features) if i.numeric_features is not None else found.numeric,
        tuple(i.categorical_features) if i.categorical_features is not None
        else found.categorical,
        tuple(i.segment_keys) if i.segment_keys is not None else found.segments,
        cfg.input.fields, cfg.labels.enabled)
    given = i.numeric_features is not None or i.categorical_features is not None
    left = {k: v for k, v in inferred.left_out.items()
            if (v[0] == "feature_overflow" and not given)
            or (v[0] == "segment_key_overflow" and i.segment_keys is None)}
    return Inferred(schema, left)


def new_decoder(cfg: Config, schema: Schema) -> Decoder:
    lim, i = cfg.limits, cfg.input
    return Decoder(schema, models=i.models, max_message_bytes=i.max_message_bytes,
                   segment_cardinality=lim.segment_cardinality,
                   category_cardinality=lim.category_cardinality, model_cardinality=lim.models,
                   model_id=i.model_id, floor=i.floor)


def decoder_from_state(cfg: Config, snap: dict[str, Any]) -> Decoder:
    """A decoder with the schema and vocabularies of a saved one (validated)."""
    d = validated(DecoderState, snap, "decoder").schema_
    decoder = new_decoder(cfg, Schema(tuple(d.numeric), tuple(d.categorical), tuple(d.segments),
                                      cfg.input.fields, cfg.labels.enabled))
    decoder.restore(snap)
    return decoder


def decisions_by_frequency(decoder: Decoder, batch: Batch | None,
                           reference: Reference | None) -> list[str]:
    """Decision values by descending reference frequency (ties: first seen first)."""
    names = decoder.decisions.names
    if batch is None:
        # a loaded profile: frequencies from its decision counts (zero-config keeps them)
        counts = np.zeros(len(names), np.int64)
        for slots in (reference.models.values() if reference else ()):
            table = slots.get(DECISION_SLOT)
            if isinstance(table, CountTable):
                counts = counts + table.row(None, len(names))[: len(names)]
    else:
        codes = batch.decision[batch.decision >= 0]
        counts = np.bincount(codes, minlength=len(names))
    return [names[i] for i in np.argsort(-counts, kind="stable") if counts[i] > 0]


def compile_for(cfg: Config, decoder: Decoder, reference: Reference | None,
                reference_batch: Batch | None, layer: str | None = None,
                ) -> tuple[list[Monitor], list[str]]:
    """The config's monitors (or the preset's, at most ``limits.monitors``) — of ``layer``
    only, if given — checked against the reference if there is one; and the names of preset
    monitors left out."""
    left_out: list[str] = []
    if decoder.schema.labels and reference_batch is not None:
        decoder.task, decoder.positive = performance.decide(cfg.labels, reference_batch, decoder)
    cfgs = cfg.monitors
    if not cfgs:
        cfgs = preset(decoder.schema, decisions_by_frequency(decoder, reference_batch, reference),
                      decoder.task)
        cfgs, left_out = cfgs[:cfg.limits.monitors], [c.name for c in cfgs[cfg.limits.monitors:]]
    monitors = [m for m in compile_monitors(cfgs, decoder.schema, cfg.detection)
                if layer is None or m.layer == layer]
    if reference is not None:
        missing = reference.covers(monitors)
        if missing:
            raise ReferenceError_(f"the reference profile has no sketch for {missing}; "
                                  "rebuild it with this config (driftline reference build)")
    return monitors, left_out


def left_out_letters(left_out: dict[str, tuple[str, int]], messages: list[bytes],
                     positions: np.ndarray, partitions: np.ndarray) -> list[DeadLetter]:
    """One dead letter per message that first carried names the schema left out."""
    by_message: dict[int, list[tuple[str, str]]] = {}
    for name, (reason, i) in left_out.items():
        by_message.setdefault(i, []).append((reason, name))
    out = []
    for i, pairs in sorted(by_message.items()):
        reason = pairs[0][0]
        names = [n for _, n in pairs]
        shown = ", ".join(repr(n) for n in names[:10]) + (", …" if len(names) > 10 else "")
        what = "features" if reason == "feature_overflow" else "segment keys"
        out.append(DeadLetter(messages[i], reason, f"{len(names)} {what} beyond the cap, not "
                              f"monitored: {shown}", int(positions[i]), int(partitions[i])))
    return out
