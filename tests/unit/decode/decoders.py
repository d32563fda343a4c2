"""Which decoders the tests hold to the contract (imported by the tests beside it).

The native decoder is optional for a user, not for the tests: in CI (``CI`` set) and on any
machine with a Rust toolchain (``make venv`` builds it there), a missing native decoder is a
failure, never a skip. Only where no toolchain exists does a native test skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from driftline.decode import native


def toolchain() -> bool:
    """A Rust toolchain is on this machine (as the Makefile looks for one)."""
    return shutil.which("cargo") is not None or (Path.home() / ".cargo" / "bin" / "cargo").exists()


def native_required() -> bool:
    return bool(os.environ.get("CI")) or toolchain()


def require_native() -> None:
    """Fail (CI, a machine with Rust) or skip (no toolchain) when the native decoder is absent."""
    if native.available():
        return
    if native_required():
        pytest.fail("the native decoder (driftline_native) is not installed, but this machine "
                    "can build it: run `make venv` (CI builds it)", pytrace=False)
    pytest.skip("no Rust toolchain here: the native decoder is not built")


DECODERS = ("native", "python")


@pytest.fixture(params=DECODERS)
def decoder_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test once per decoder: DRIFTLINE_DECODER set to native, then python."""
    kind: str = request.param
    if kind == "native":
        require_native()
    monkeypatch.setenv(native.ENV, kind)
    return kind
