"""End to end: `driftline explain`'s report, rendered by a real headless browser, shows its figures.

Debian's chromium renders index.html from a file:// URL with the network off: a screenshot is
taken and the DOM dumped. The page must hold its three figures (inline PNG) and the summary,
and the screenshot must show them — the blue of the current-window bars and the red of the
contributing ones, not a blank page. No chromium is an error (scripts/ensure-services.sh
installs it), never a skip.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from driftline import demo
from driftline.cli import main
from driftline.investigate.plots import CURRENT, MARKED
from driftline.logging import configure

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = functools.partial(demo.Scenario, windows=12, warmup=4, region_start=5, region_ramp=2,
                             region_end=9, unit_start=9, unit_end=11, creep_start=40)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(autouse=True)
def _logs_to_the_real_stderr() -> Iterator[None]:
    """main() points structlog at sys.stderr, a test's capture: point it back once that is
    closed, or the next test that logs fails on a closed file."""
    yield
    configure("info")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("chromium is not installed: run scripts/ensure-services.sh "
                           "(apt-get install chromium); this test needs a real browser")
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the demo's first incident, written as the demo says to write it."""
    d = tmp_path_factory.mktemp("report")
    events, incidents = d / "events.jsonl", d / "incidents.jsonl"
    events.write_bytes(b"\n".join(m for _, ms in demo.stream(7, SCENARIO()) for m in ms) + b"\n")
    config = str(ROOT / "configs" / "demo.yaml")
    assert main(["replay", "--input", str(events), "--config", config, "--incidents-out",
                 str(incidents), "--quiet"]) == 0
    first = incidents.read_text().splitlines()[0]
    incident = re.search(r'"subject":"(inc-[0-9a-f]+)"', first)
    assert incident is not None
    assert main(["explain", incident.group(1), "--incidents", str(incidents), "--input",
                 str(events), "--config", config, "--out", str(d / "report")]) == 0
    return d / "report" / "index.html"


def browse(chromium: str, page: Path, profile: Path, *what: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *what,
                           page.resolve().as_uri()], capture_output=True, text=True, timeout=120)


def test_the_rendered_dom_holds_the_figures_and_the_summary(chromium: str, report: Path,
                                                            tmp_path: Path) -> None:
    """After the browser parsed it: three inline PNG figures, the summary paragraph, no script."""
    done = browse(chromium, report, tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    figures = re.findall(r'<img id="(fig-[a-z]+)"[^>]*src="data:image/png;base64,', dom)
    assert sorted(figures) == ["fig-distribution", "fig-segments", "fig-series"]
    summary = re.search(r'<p id="summary">(.*?)</p>', dom, re.S)
    assert summary is not None and "region=south" in summary.group(1)
    assert "reproduced" in summary.group(1) and "<script" not in dom


def _near(pixels: np.ndarray, hex_color: str, tol: float = 0.06) -> int:
    rgb = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(pixels[..., :3] - rgb).max(axis=-1) < tol).sum())


def test_the_screenshot_shows_the_plots(chromium: str, report: Path, tmp_path: Path) -> None:
    """A 1200×2000 screenshot, not blank: many colours, the figures' blue and red drawn."""
    shot = tmp_path / "report.png"
    done = browse(chromium, report, tmp_path / "profile", f"--screenshot={shot}",
                  "--window-size=1200,2000")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert shot.stat().st_size > 50_000
    pixels = np.asarray(image.imread(shot))
    assert pixels.shape[:2] == (2000, 1200)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 500
    assert _near(pixels, CURRENT) > 5_000 and _near(pixels, MARKED) > 2_000
