"""Reference profiles: the sketches windows are compared with, content-hashed.

A reference is fitted from reference events (a JSON-lines file, or the first
window(s) of the stream — the warm-up) for every slot the monitors read, per
model. It is saved as JSON with the decoder's vocabularies (so category and
segment codes mean the same thing when it is loaded again) and identified by
the SHA-256 of its canonical content, which every incident cites.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from driftline.decode import Batch, Decoder
from driftline.detectors.sketches import Sketch, sketch_from_state
from driftline.errors import ReferenceError_, StateError
from driftline.io.files import bounded_lines
from driftline.monitors import Monitor, values
from driftline.state import REFERENCE_FORMAT, ReferenceState, validated

FORMAT = REFERENCE_FORMAT
LABEL_KEYS = ("labels", "task", "positive")  # the decoder state's labels layer


@dataclass
class Reference:
    """Per model, per slot: the reference sketch."""

    models: dict[str, dict[str, Sketch]] = field(default_factory=dict)
    n_events: int = 0
    source: str = "warm-up"
    decoder: dict[str, Any] = field(default_factory=dict)

    def sketch(self, model: str, slot: str) -> Sketch | None:
        return self.models.get(model, {}).get(slot)

    @cached_property
    def id(self) -> str:
        """Content hash; a reference is not changed after it is fitted or loaded."""
        return "sha256:" + hashlib.sha256(self._canonical()).hexdigest()[:16]

    def _canonical(self) -> bytes:
        body = {"models": {m: {s: sk.snapshot() for s, sk in sorted(slots.items())}
                           for m, slots in sorted(self.models.items())},
                "n_events": self.n_events, "decoder": self.decoder}
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "id": self.id, "source": self.source,
                **orjson.loads(self._canonical())}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reference:
        """A profile from its JSON object, validated; ``ReferenceError_`` says what is wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            if isinstance(got, str) and got.startswith("driftline.reference/"):
                raise ReferenceError_(f"a reference profile of format {got}, this driftline "
                                      f"reads {FORMAT}: rebuild it (driftline reference build)")
            raise ReferenceError_(f"not a driftline reference profile (format {got!r})")
        try:
            s = validated(ReferenceState, data, "reference profile")
        except StateError as exc:
            raise ReferenceError_(f"not a valid reference profile: {exc}") from exc
        decoder = s.decoder.model_dump(by_alias=True)
        for key in LABEL_KEYS:  # absent without the labels layer: the content (and id) as before
            if decoder[key] is None:
                del decoder[key]
        ref = cls({m: {slot: sketch_from_state(sk) for slot, sk in slots.items()}
                   for m, slots in s.models.items()}, s.n_events, s.source, decoder)
        if s.id and s.id != ref.id:
            raise ReferenceError_(f"reference content does not match its id {s.id}")
        return ref

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2))

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ReferenceError_(f"{path}: cannot read reference profile: {exc.strerror}") from exc
        return cls.parse(data, path)

    @classmethod
    def parse(cls, data: bytes, path: str | Path) -> Reference:
        """A profile from its bytes; any fault is one ``ReferenceError_`` naming the file."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ReferenceError_(f"{path}: not a reference profile: invalid JSON ({exc})") from exc
        if not isinstance(obj, dict):
            raise ReferenceError_(f"{path}: not a reference profile: a JSON "
                                  f"{type(obj).__name__}, not an object")
        try:
            return cls.from_json(obj)
        except ReferenceError_ as exc:
            raise ReferenceError_(f"{path}: {exc}") from exc

    def covers(self, monitors: Sequence[Monitor]) -> list[str]:
        """Slots the monitors need that no model of this reference has."""
        have = {s for slots in self.models.values() for s in slots}
        return sorted({m.slot for m in monitors} - have)


def load_reference(path: str | Path | None, max_line: int = 1 << 20,
                   ) -> tuple[Reference | None, list[bytes] | None]:
    """``--reference``: a profile (a JSON object naming its format) or JSON-lines events.

    Event lines longer than ``max_line`` are cut while reading (and then rejected as
    oversize), so a hostile reference file cannot make the read unbounded.
    """
    if path is None:
        return None, None
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip()
            if head.startswith(b"{") and b'"format"' in head and b"driftline.reference" in head:
                return Reference.parse(head + fh.read(), path), None
            fh.seek(0)
            return None, [line for line in bounded_lines(fh, max_line) if line.strip()]
    except OSError as exc:
        raise ReferenceError_(f"{path}: cannot read the reference: {exc.strerror}") from exc


def fit(batch: Batch, monitors: Sequence[Monitor], decoder: Decoder, source: str) -> Reference:
    """Fit every monitor's slot, per model, from reference events."""
    ref = Reference(n_events=len(batch), source=source)
    for code in np.unique(batch.model):
        if code < 0:
            continue
        model = decoder.models.names[code]
        rows = batch.take(batch.model == code)
        slots: dict[str, Sketch] = {}
        for m in monitors:
            if m.slot in slots or not m.applies_to(model):
                continue
            column = values(m, rows, decoder)
            segs = rows.segments[m.cfg.segment_by] if m.cfg.segment_by is not None else None
            if segs is not None:
                keep = segs >= 0
                column, segs = column[keep], segs[keep]
            slots[m.slot] = m.detector.fit(column, segs)
        ref.models[model] = slots
    ref.decoder = decoder.snapshot()
    return ref
