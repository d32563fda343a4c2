"""The published JSON Schemas are generated from the pydantic contracts."""

from __future__ import annotations

import json
from pathlib import Path

from driftline.cli.config import schema_models

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_published_schemas_match_the_models() -> None:
    """docs/schemas is what `driftline schemas` writes today (regenerate when a contract changes)."""
    for name, model in schema_models():
        published = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        assert published == model.model_json_schema(), f"regenerate docs/schemas ({name})"
