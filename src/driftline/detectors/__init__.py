"""Detectors: statistical tests over mergeable sketches. See ``base.py`` for the shape."""

from __future__ import annotations

from driftline.detectors.auc import AUC
from driftline.detectors.base import Detector, EvalContext, Evaluation
from driftline.detectors.calibration import Calibration
from driftline.detectors.categorical import CategoricalPSI, ChiSquare, JensenShannon
from driftline.detectors.cbpe import CBPE
from driftline.detectors.fairness import DisparateImpact
from driftline.detectors.gradual import GradualDrift, GradualRate
from driftline.detectors.ks import KS
from driftline.detectors.mean_shift import MeanShift
from driftline.detectors.psi import PSI
from driftline.detectors.segment_rate import SegmentRate
from driftline.detectors.volume import SegmentVolume

#: config name → (detector for numeric signals, detector for categorical signals)
REGISTRY: dict[str, dict[str, type[Detector]]] = {
    "psi": {"numeric": PSI, "categorical": CategoricalPSI},
    "ks": {"numeric": KS},
    "chi_square": {"categorical": ChiSquare},
    "jensen_shannon": {"categorical": JensenShannon},
    "segment_rate": {"binary": SegmentRate},
    "disparate_impact": {"binary": DisparateImpact},
    "segment_volume": {"volume": SegmentVolume},
    "gradual": {"numeric": GradualDrift, "binary": GradualRate},
    "mean_shift": {"numeric": MeanShift},
    "auc": {"scored": AUC},
    "calibration": {"scored": Calibration},
    "cbpe": {"estimated": CBPE},
}

__all__ = [
    "AUC", "CBPE", "KS", "PSI", "REGISTRY", "Calibration", "CategoricalPSI", "ChiSquare", "Detector",
    "DisparateImpact", "EvalContext", "Evaluation", "GradualDrift", "GradualRate",
    "JensenShannon", "MeanShift", "SegmentRate", "SegmentVolume",
]
