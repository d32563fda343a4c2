"""A replayed file far from time order is a failed replay (exit 5), never a quiet one."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth import T0, stream

from driftline.cli import main
from driftline.cli.outcome import EXIT_UNORDERED


def write(path: Path, messages: list[bytes]) -> str:
    path.write_bytes(b"\n".join(messages) + b"\n")
    return str(path)


def in_order(n: int = 20_000) -> list[bytes]:
    return stream([T0 + i / 20 for i in range(n)], seed=3)


def test_a_file_sorted_by_another_key_stops_with_a_clear_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Events grouped by region (each region in time order): most arrive behind the watermark
    of the region before; replay says so and exits 5 (before: 62% lost as late, exit 0)."""
    events = in_order()
    grouped = sorted(events, key=lambda m: m.split(b'"region":"')[1][:5])
    path = write(tmp_path / "grouped.jsonl", grouped)
    code = main(["replay", "--input", path, "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_UNORDERED == 5
    assert "not in time order" in err and "window.lateness" in err


def test_a_few_stragglers_are_not_an_unordered_file(tmp_path: Path) -> None:
    """Ten events an hour behind in 20,000 are late (counted, dead letters) — exit 0."""
    events = in_order()
    stragglers = stream([T0 + 500 + i for i in range(10)], seed=4)
    path = write(tmp_path / "stragglers.jsonl", events[:15_000] + stragglers + events[15_000:])
    summary = tmp_path / "summary.json"
    assert main(["replay", "--input", path, "--quiet", "--summary-out", str(summary)]) == 0
    assert '"late": 10' in summary.read_text()
