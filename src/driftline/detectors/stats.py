"""Test statistics shared by several detectors."""

from __future__ import annotations

import numpy as np
from scipy import special

from driftline.detectors.sketches import IntArray


def chi2_homogeneity(ref: IntArray, cur: IntArray) -> tuple[float, float, int]:
    """Pearson chi-square of the 2×K table, dropping empty columns (as scipy requires)."""
    table = np.vstack([ref, cur]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    dof = table.shape[1] - 1
    return chi2, float(special.chdtrc(dof, chi2)), dof  # = stats.chi2.sf, 40x cheaper
