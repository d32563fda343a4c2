"""driftline: streaming behavioral-drift detection for ML models in production."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
