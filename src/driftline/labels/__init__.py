"""The labels layer: ground truth joined to predictions by event id (docs/labels.md)."""
