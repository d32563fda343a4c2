"""Event ids as 64-bit keys: what the label join matches on.

An id is whatever text the events carry (canonical text of a scalar, ``canonical.py``); the
join keeps only its 64-bit BLAKE2b digest, so a batch's ids are one int64 column (cheap to
slice, merge and checkpoint) and the store's key is SQLite's integer row id. Two ids share a
key with probability about n²/2⁶⁵ (n = ids in the store: 10⁷ ids, ~3·10⁻⁶), documented in
docs/labels.md. Key 0 means "no id". The native reader computes the same keys in Rust
(``native/src/reader.rs``, ``id_key``), so its ids never become Python strings; the
differential test holds the two to the same keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa

from driftline.decode.batch import Columns
from driftline.detectors.sketches import IntArray


def id_key(text: str) -> int:
    """The key of one id (never 0: 0 is "no id")."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True) or 1


def id_keys(ids: Sequence[str | None] | pa.Array | Iterable[str | None]) -> IntArray:
    """The keys of a column of ids (None: 0)."""
    values = ids.to_pylist() if isinstance(ids, pa.Array | pa.ChunkedArray) else list(ids)
    return np.fromiter((0 if v is None else id_key(v) for v in values), np.int64, len(values))


def truth_columns(cols: Columns, encode: Callable[[Sequence[str | None] | pa.Array], IntArray],
                  ) -> dict[str, np.ndarray]:
    """The labels layer's ``Batch`` columns from what a decoder path read (none when off).

    Every label's canonical text is coded (numbers too: a configured classification may
    have 0/1 labels); past the vocabulary's cap a label is ``__other__``, not reported as a
    dead letter, since numeric (regression) labels fill any cap and are read as numbers.
    """
    if (cols.event_id is None and cols.event_key is None) or cols.label is None \
            or cols.label_value is None:
        return {}
    keys = cols.event_key if cols.event_key is not None else id_keys(cols.event_id or [])
    return {"event_key": keys, "label": encode(cols.label), "label_value": cols.label_value}
