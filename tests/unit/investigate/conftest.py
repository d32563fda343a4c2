"""Fixtures of the investigation tests: the short demo stream replayed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_files import CREEP, Run, demo_windows, replay, write_stream

from driftline import demo


@pytest.fixture(scope="session")
def windows() -> list[list[bytes]]:
    return demo_windows()


@pytest.fixture(scope="session")
def warmup_run(tmp_path_factory: pytest.TempPathFactory, windows: list[list[bytes]]) -> Run:
    """The whole stream, the reference from its warm-up (5-minute time windows)."""
    d = tmp_path_factory.mktemp("warmup")
    return replay(write_stream(d / "events.jsonl", windows), d / "incidents.jsonl")


@pytest.fixture(scope="session")
def count_run(tmp_path_factory: pytest.TempPathFactory, windows: list[list[bytes]]) -> Run:
    """The whole stream in count windows of 5,000 events."""
    d = tmp_path_factory.mktemp("count")
    return replay(write_stream(d / "events.jsonl", windows), d / "incidents.jsonl", window=5000)


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory, windows: list[list[bytes]]) -> Run:
    """Windows 4–11 against reference events (windows 0–3), as `replay --reference` runs."""
    d = tmp_path_factory.mktemp("reference")
    ref = write_stream(d / "reference.jsonl", windows[:4])
    return replay(write_stream(d / "events.jsonl", windows[4:]), d / "incidents.jsonl",
                  reference=ref)


@pytest.fixture(scope="session")
def creep_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A stream whose only failure is the score creep (the gradual detector's, with memory)."""
    d = tmp_path_factory.mktemp("creep")
    return replay(write_stream(d / "events.jsonl", [ms for _, ms in demo.stream(7, CREEP)]),
                  d / "incidents.jsonl")


@pytest.fixture
def copy_of(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A writable copy of a file, to change it under explain."""
    def make(path: Path) -> Path:
        out = tmp_path / path.name
        out.write_bytes(path.read_bytes())
        return out
    return make
