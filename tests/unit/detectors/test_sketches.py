"""Sketches: the same events give the same bits on any machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"
MOMENTS = """
import numpy as np
from driftline.detectors.sketches import Moments
rng = np.random.default_rng(5)
m = Moments.fit(np.zeros(1))
for _ in range(20):
    m.update(rng.normal(3.0, 2.0, 200_000))
print(repr(m.data[0].tolist()))
"""


def test_moments_do_not_depend_on_the_number_of_blas_threads() -> None:
    """A sum of squares by BLAS (np.dot) is split over its threads, and its rounding with it:
    run and replay on machines with other CPU counts gave other statistics (and reference
    ids). The sketch's sums must be the same bits with 1 thread and with 4."""
    out = set()
    for threads in ("1", "4"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
                   PYTHONPATH=str(SRC))
        out.add(subprocess.run([sys.executable, "-c", MOMENTS], env=env, check=True,
                               capture_output=True, text=True, timeout=120).stdout)
    assert len(out) == 1, out
