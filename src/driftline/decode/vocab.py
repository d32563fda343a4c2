"""Bounded vocabularies: strings to dense integer codes, with an overflow bucket.

Segment values and categories arrive as strings; sketches count integer codes.
A vocabulary grows until its cap, after which new values share the code of
``__other__``, so hostile input (a flood of new segment values) cannot grow
memory or metric cardinality without bound. The first ``MAX_OVERFLOW_NAMES``
names that overflowed are remembered, so each is reported once (one dead letter
per distinct name, not one per event); past that, overflow is only counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.detectors.sketches import IntArray
from driftline.state import VocabularyState, validated

OTHER = "__other__"
MAX_OVERFLOW_NAMES = 1000


class Vocabulary:
    """A capped str → int mapping; codes are stable once given."""

    __slots__ = ("cap", "index", "names", "other", "overflowed")

    def __init__(self, cap: int, names: list[str] | None = None) -> None:
        self.cap = cap
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.other: int | None = None
        self.overflowed: set[str] = set()  # names already reported as beyond the cap
        for n in names or ():
            self.code(n)

    def __len__(self) -> int:
        return len(self.names)

    def code(self, name: str) -> int:
        """The code of ``name``, adding it while under the cap, else the overflow code."""
        got = self.index.get(name)
        if got is not None:
            return got
        if len(self.names) - (self.other is not None) < self.cap and name != OTHER:
            return self._add(name)
        if self.other is None:
            self.other = self._add(OTHER)
        return self.other

    def _add(self, name: str) -> int:
        code = len(self.names)
        self.names.append(name)
        self.index[name] = code
        return code

    def encode(self, values: pa.Array | pa.ChunkedArray) -> tuple[IntArray, IntArray]:
        """Codes for an Arrow string column (-1 for null) and a mask of overflowed rows."""
        codes, overflow, _ = self.encode_reporting(values)
        return codes, overflow

    def encode_reporting(self, values: pa.Array | pa.ChunkedArray,
                         ) -> tuple[IntArray, IntArray, IntArray]:
        """As ``encode``, and a mask of the rows that report a name's first overflow."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if pa.types.is_dictionary(values.type):
            enc = values  # the native reader's: distinct texts in order of first appearance
        else:
            if values.type != pa.string():
                values = values.cast(pa.string())
            enc = pc.dictionary_encode(values)
        uniques = enc.dictionary.to_pylist()
        mapping = np.fromiter((self.code(u) for u in uniques), np.int64, len(uniques))
        overflowed = np.fromiter(
            (self.other is not None and m == self.other and u != OTHER
             for u, m in zip(uniques, mapping, strict=True)), bool, len(uniques))
        idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        first = np.zeros(idx.size, bool)
        for u in np.flatnonzero(overflowed):
            name = uniques[u]
            if name not in self.overflowed and len(self.overflowed) < MAX_OVERFLOW_NAMES:
                self.overflowed.add(name)
                first[int(np.argmax(idx == u))] = True
        mapping = np.append(mapping, -1)
        overflowed = np.append(overflowed, False)
        return mapping[idx], overflowed[idx], first

    def snapshot(self) -> dict[str, Any]:
        return {"cap": self.cap, "names": list(self.names), "other": self.other,
                "overflowed": sorted(self.overflowed)}

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> Vocabulary:
        return cls.from_state(validated(VocabularyState, snap, "vocabulary"))

    @classmethod
    def from_state(cls, s: VocabularyState) -> Vocabulary:
        v = cls(s.cap)
        v.names = list(s.names)
        v.index = {n: i for i, n in enumerate(v.names)}
        v.other = s.other
        v.overflowed = set(s.overflowed)
        return v
