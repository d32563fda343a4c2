"""Which decoders the tests hold to the contract (imported by the tests beside it).

The native decoder is optional for a user, not for the tests: in CI (``CI`` set) and on any
machine with a Rust toolchain (``make venv`` builds it there), a missing native decoder is a
failure, never a skip. Only where no toolchain exists does a native test skip.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

import pytest

from driftline.decode import native

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "build-native.sh"


@cache
def toolchain() -> bool:
    """A Rust toolchain that can build the native decoder is on this machine: the one the
    Makefile would use (``build-native.sh --find``: cargo >= 1.85 on PATH or in ~/.cargo/bin;
    Debian's 1.63 does not count, it cannot build it)."""
    found = subprocess.run(["bash", str(SCRIPT), "--find"], capture_output=True, text=True,
                           check=True, timeout=60)
    return bool(found.stdout.strip())


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
