"""The native decoder (Rust, ``native/``), where it is installed: which decoder runs, and the
wrapper that turns the native reader's output into the ``Columns`` both paths hand ``_finish``.

The native reader holds the same contract (docs/events.md) and is held to it by the same
differential test. It is exact on one thing only: whether a line is an event, and its
values. Each line it refuses is given to ``Decoder.classify`` — the per-line path — for its
dead letter's reason and detail, so the reasons are written once, in Python, and one bad line
costs one ``classify`` call, never its batch. Vocabulary codes stay in Python too: string
columns come back dictionary-encoded and ``Vocabulary.encode_reporting`` maps them.

Which decoder runs is chosen once per process, by ``DRIFTLINE_DECODER``: ``python`` forces
the Python decoder (for comparisons and tests), ``native`` requires the native one (an error
where it is not installed), unset or ``auto`` takes the native one where it imports.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from driftline.config import FieldNames
from driftline.decode.batch import Columns, DeadLetter
from driftline.decode.contract import Contract, Event
from driftline.detectors.sketches import IntArray
from driftline.errors import ConfigError

if TYPE_CHECKING:
    import driftline_native as _native_types

#: the native module this driftline reads (its output's shape): an older build is not used
NATIVE_VERSION = "0.2.0"


def _load() -> tuple[ModuleType | None, str | None]:
    """The optional package (`make` builds it where a Rust toolchain is found), if installed
    and of this driftline's version; else None, and the version that was found, if any.
    Imported by name so the module type-checks the same with or without it."""
    try:
        module = importlib.import_module("driftline_native")
    except ImportError:  # pragma: no cover - depends on the installation
        return None, None
    found = getattr(module, "__version__", "?")
    return (module, None) if found == NATIVE_VERSION else (None, found)


_core, _stale = _load()

ENV = "DRIFTLINE_DECODER"
CHOICES = ("auto", "native", "python")


def available() -> bool:
    """The native extension is installed and imports."""
    return _core is not None


def wanted() -> str:
    """``DRIFTLINE_DECODER``, checked: auto, native or python."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ConfigError(f"{ENV}={value!r}: use one of {', '.join(CHOICES)}")
    return value


def name() -> str:
    """The decoder this process uses: ``native`` or ``python`` (``--version``, build_info)."""
    try:
        want = wanted()
    except ConfigError:
        return f"invalid {ENV}"  # building a decoder says what is wrong
    if want == "native" and not available():
        return "native (not installed)" if _stale is None else f"native ({_stale} installed, " \
            f"{NATIVE_VERSION} needed: make native)"
    if _stale is not None:
        return f"python (native {_stale} is out of date: make native)"
    return "native" if want != "python" and available() else "python"


class NativeReader:
    """One decoder's native reader: built once per schema, used for every batch."""

    def __init__(self, contract: Contract, max_message_bytes: int,
                 classify: Callable[[bytes], Event | tuple[str, str]]) -> None:
        assert _core is not None and contract.schema is not None
        schema = contract.schema
        self.schema = schema
        self.classify = classify
        self.batches = 0
        #: lines the native reader refused that ``classify`` accepts: a bug in the native
        #: reader (the differential test requires none); such a batch goes the Python way
        self.mismatches = 0
        fields = [(n, list(schema.fields.path(n))) for n in FieldNames.model_fields]
        self._reader: _native_types.Decoder = _core.Decoder(
            fields=fields, numeric=list(schema.numeric), categorical=list(schema.categorical),
            segments=list(schema.segments), labels=schema.labels, model_id=contract.model_id,
            floor=contract.floor, max_message_bytes=max_message_bytes, label_columns=True)

    def read(self, messages: list[bytes], pos: IntArray, part: IntArray,
             dead: list[DeadLetter]) -> Columns | None:
        """The batch's columns, a dead letter per refused line; None: decode it in Python."""
        try:
            rows, rejected, floats, strings, keys = self._reader.decode(messages)
        except TypeError:  # not a list of bytes (a memoryview, a str): the Python path reads any
            return None
        letters = []
        for i in rejected.tolist():
            verdict = self.classify(messages[i])
            if isinstance(verdict, Event):
                self.mismatches += 1
                return None
            letters.append(DeadLetter(messages[i], verdict[0], verdict[1], int(pos[i]),
                                      int(part[i])))
        dead.extend(letters)
        self.batches += 1
        s = self.schema
        timestamp, prediction, latency, *numeric = floats
        model, version, decision, *rest = (_dictionary(u, idx) for u, idx in strings)
        # with labels, the reader appends the label's value (floats), the label (strings),
        # and hands the ids as their keys
        labels: dict[str, Any] = {}
        if s.labels:
            *numeric, value = numeric
            *rest, label = rest
            labels = {"event_key": keys, "label": label, "label_value": value}
        n = len(s.categorical)
        return Columns(
            rows=rows, model=model, version=version, timestamp=timestamp,
            prediction=prediction, decision=decision, latency=latency,
            numeric=dict(zip(s.numeric, numeric, strict=True)),
            categorical=dict(zip(s.categorical, rest[:n], strict=True)),
            segments=dict(zip(s.segments, rest[n:], strict=True)), **labels)


def _dictionary(uniques: list[str], indices: np.ndarray) -> pa.Array:
    """A string column as Arrow's dictionary array (index -1: null), which the vocabulary
    maps without encoding it again."""
    return pa.DictionaryArray.from_arrays(pa.array(indices, mask=indices < 0),
                                          pa.array(uniques, pa.string()))


def reader(contract: Contract, max_message_bytes: int,
           classify: Callable[[bytes], Event | tuple[str, str]]) -> NativeReader | None:
    """The native reader for a decoder, or None where the Python decoder is to run."""
    want = wanted()
    if want == "native" and not available():
        raise ConfigError(f"{ENV}=native but the native decoder is not installed "
                          "(make venv builds it where a Rust toolchain is found)"
                          if _stale is None else f"{ENV}=native but the installed native "
                          f"decoder is {_stale}, this driftline reads {NATIVE_VERSION}: "
                          "make native rebuilds it")
    if want == "python" or not available():
        return None
    return NativeReader(contract, max_message_bytes, classify)


__all__ = ["CHOICES", "ENV", "NativeReader", "available", "name", "reader", "wanted"]
