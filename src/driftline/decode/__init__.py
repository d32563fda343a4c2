"""Decode: raw messages in, typed columns (``Batch``) and dead letters out."""

from __future__ import annotations

from driftline.decode.batch import Batch, DeadLetter
from driftline.decode.contract import REASONS, REPORTS, check_event
from driftline.decode.decoder import Decoder
from driftline.decode.infer import infer_schema
from driftline.decode.schema import Schema
from driftline.decode.vocab import OTHER, Vocabulary
from driftline.timestamps import parse_timestamp

__all__ = ["OTHER", "REASONS", "REPORTS", "Batch", "DeadLetter", "Decoder", "Schema", "Vocabulary",
           "check_event", "infer_schema", "parse_timestamp"]
