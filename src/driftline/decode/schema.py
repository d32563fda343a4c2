"""Which features are numeric or categorical and which segment keys exist: the stream's schema.

Given in the config, read from a reference profile, or inferred from a sample of
the stream (zero-config, ``infer.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftline.config import FieldNames


@dataclass(frozen=True)
class Schema:
    """Which features are numeric or categorical, and which segment keys exist."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    segments: tuple[str, ...]
    fields: FieldNames = field(default_factory=FieldNames)
    #: read (and check) event_id and label: only the labels layer uses them
    labels: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical),
                "segments": list(self.segments)}
