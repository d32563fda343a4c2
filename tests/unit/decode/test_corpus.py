"""The edge-case corpus (``corpus/*.jsonl``, written by ``corpus/generate.py``) through every
decoder path — the native decoder, the Python decoder, its per-line path — in one batch and a
line at a time: the same events with the same values, the same reason for every other line.
Also: how the decoder is chosen, and what a bad line costs the native decoder.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pytest
from decoders import require_native
from test_contract_differential import PATHS, Decode, names

from driftline.config import FieldNames
from driftline.decode import Decoder, Schema, native
from driftline.errors import ConfigError

CORPUS = Path(__file__).parent / "corpus"
FIELDS = FieldNames(model_id="meta.model", timestamp="meta.ts", features=["payload", "features.v1"])


def lines(name: str) -> list[bytes]:
    """A corpus file's messages (one a line; the file ends with a newline)."""
    return (CORPUS / f"{name}.jsonl").read_bytes()[:-1].split(b"\n")


GOOD = (b'{"model_id":"m","timestamp":"2026-02-13T06:00:00Z","features":{"x":1},"prediction":1,'
        b'"segments":{"region":"south"}}')
#: what a line file cannot hold: raw newlines
NEWLINES = [GOOD.replace(b",", b",\n"), GOOD.replace(b'"south"', b'"so\nuth"'), GOOD + b"\n",
            b"\n" + GOOD, GOOD.replace(b":", b"\r\n:"), b"\n"]
MESSAGES = [*lines("json"), *lines("contract"), *NEWLINES]


def dotted(raw: bytes) -> bytes:
    """A corpus event moved to the dotted layout (``FIELDS``): the same values, nested."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if not isinstance(obj, dict):
        return raw
    meta = {k: obj.pop(f) for k, f in (("model", "model_id"), ("ts", "timestamp")) if f in obj}
    payload = {"features.v1": obj.pop("features")} if "features" in obj else {}
    obj.pop("junk", None)  # nested past what orjson writes
    return orjson.dumps({**obj, "meta": meta, "payload": payload})


SCHEMAS: dict[str, tuple[Schema, dict[str, Any]]] = {
    "labels": (Schema(("x", "y"), ("color", "flag"), ("region", "tier"), labels=True), {}),
    "no-labels": (Schema(("x", "y"), ("color", "flag"), ("region", "tier")), {}),
    "one-model": (Schema(("x",), ("color",), ("region",)), {"model_id": "only", "floor": 0.0}),
    "no-features": (Schema((), (), ()), {"max_message_bytes": 200}),
    "dotted": (Schema(("x",), ("color",), ("region",), fields=FIELDS), {}),
}
LAYOUT_MESSAGES = {name: [dotted(m) for m in MESSAGES] + MESSAGES if name == "dotted" else MESSAGES
                   for name in SCHEMAS}


def verdicts(schema: Schema, kw: dict[str, Any], messages: list[bytes], path: Decode,
             ) -> tuple[list[tuple[Any, ...]], list[tuple[int, str, str]]]:
    d = Decoder(schema, **kw)
    batch, dead = path(d, messages)
    return names(d, batch), sorted((x.position, x.reason, x.detail) for x in dead)


def test_the_corpus_is_what_generate_writes() -> None:
    """The checked-in files are the generator's output (edit generate.py, then run it)."""
    import corpus.generate as gen  # type: ignore[import-not-found]

    assert lines("json") == gen.json_lines()
    assert lines("contract") == gen.contract_lines()


@pytest.mark.parametrize("layout", SCHEMAS)
def test_every_path_reads_the_corpus_alike(layout: str) -> None:
    """One batch of the whole corpus: the same events, values, reasons and details on every path."""
    schema, kw = SCHEMAS[layout]
    messages = LAYOUT_MESSAGES[layout]
    reference = verdicts(schema, kw, messages, PATHS["per-line"])
    assert reference[0] and reference[1]  # the corpus has both, whatever the layout
    for name, path in PATHS.items():
        assert verdicts(schema, kw, messages, path) == reference, name


@pytest.mark.parametrize("layout", ["labels", "dotted"])
def test_every_path_reads_each_corpus_line_alike_alone(layout: str) -> None:
    """A line at a time (the fast path's domain for a clean line): the same verdict as in the batch."""
    schema, kw = SCHEMAS[layout]
    for i, raw in enumerate(LAYOUT_MESSAGES[layout]):
        reference = verdicts(schema, kw, [raw], PATHS["per-line"])
        for name, path in PATHS.items():
            assert verdicts(schema, kw, [raw], path) == reference, (name, i, raw[:200])


def test_a_bad_line_costs_the_native_reader_one_classify_call() -> None:
    """Among good lines, only the bad one goes to the per-line path, for its reason: the batch
    is still read natively, its good events kept."""
    require_native()
    d = Decoder(SCHEMAS["labels"][0])
    assert d.native is not None
    seen: list[bytes] = []
    classify = d.native.classify

    def spy(raw: bytes) -> Any:
        seen.append(raw)
        return classify(raw)

    d.native.classify = spy
    messages = [GOOD] * 100
    messages[40] = b'{"model_id": 3}'
    batch, dead = d.decode(messages)
    assert (len(batch), [x.reason for x in dead], seen) == (99, ["missing_field"], [messages[40]])
    assert (d.native.batches, d.native.mismatches, d.fast_batches, d.slow_batches) == (1, 0, 0, 0)


def test_the_decoder_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """DRIFTLINE_DECODER: python forces Python, native requires the native decoder, auto takes it
    where it is installed; anything else is a configuration error."""
    schema = SCHEMAS["labels"][0]
    monkeypatch.setenv(native.ENV, "python")
    assert (Decoder(schema).native, native.name()) == (None, "python")
    monkeypatch.setenv(native.ENV, "auto")
    assert (Decoder(schema).native is not None) == native.available()
    assert native.name() == ("native" if native.available() else "python")
    monkeypatch.setenv(native.ENV, "fast")
    with pytest.raises(ConfigError, match="DRIFTLINE_DECODER"):
        Decoder(schema)
    monkeypatch.setenv(native.ENV, "native")
    monkeypatch.setattr(native, "_core", None)
    assert native.name() == "native (not installed)"
    with pytest.raises(ConfigError, match="not installed"):
        Decoder(schema)
    monkeypatch.setenv(native.ENV, "")
    assert (Decoder(schema).native, native.name()) == (None, "python")


def test_a_native_decoder_of_another_version_is_not_used_and_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An older build's output has another shape (ids as text, not keys): it is not loaded;
    --version and driftline_build_info say the Python decoder runs and why, and a run that
    requires the native one fails naming both versions and the fix."""
    fake = SimpleNamespace(__version__="0.1.0")
    monkeypatch.setattr(native.importlib, "import_module", lambda name: fake)
    core, stale = native._load()
    assert (core, stale) == (None, "0.1.0")
    monkeypatch.setattr(native, "_core", None)
    monkeypatch.setattr(native, "_stale", stale)
    monkeypatch.setenv(native.ENV, "auto")
    assert native.name() == "python (native 0.1.0 is out of date: make native)"
    assert Decoder(SCHEMAS["labels"][0]).native is None
    monkeypatch.setenv(native.ENV, "native")
    with pytest.raises(ConfigError, match=f"0.1.0.*{native.NATIVE_VERSION}.*make native"):
        Decoder(SCHEMAS["labels"][0])
    monkeypatch.setattr(native.importlib, "import_module",
                        lambda name: SimpleNamespace(__version__=native.NATIVE_VERSION))
    assert native._load()[1] is None


def test_a_native_reader_mismatch_sends_the_batch_the_python_way() -> None:
    """Were the native reader to refuse an event, the batch would be decoded in Python (nothing
    lost) and the mismatch counted — the differential test requires there are none."""
    require_native()
    d = Decoder(SCHEMAS["labels"][0])
    assert d.native is not None
    real = d.native._reader

    class Refuses:
        def decode(self, messages: list[bytes]) -> Any:
            rows, _, floats, strings, keys = real.decode(messages)
            return rows[:0], np.arange(len(messages)), [f[:0] for f in floats], \
                [([], s[1][:0]) for s in strings], keys[:0]

    d.native._reader = Refuses()  # type: ignore[assignment]
    batch, dead = d.decode([GOOD, b"{"])
    assert (len(batch), [x.reason for x in dead]) == (1, ["malformed_json"])
    assert (d.native.mismatches, d.native.batches, d.fast_batches + d.slow_batches) == (1, 0, 1)
