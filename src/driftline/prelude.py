"""The first messages of a stream, held until what is decided once can be decided.

A zero-config schema is inferred from the first ``SCHEMA_SAMPLE`` (2,000) messages, an
``auto`` window from the first ``RATE_SAMPLE`` (1,000) events. Holding the messages until
those samples are complete makes both decisions functions of the stream alone — the same in
``replay``, in ``run``, after a restart, whatever the batches were (before, they were taken
from whatever the first batch held). Bounded: past ``PRELUDE_MAX`` messages the engine starts
with what it has (a stream of mostly invalid messages must not be held forever).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
import orjson
from pydantic import Field, field_validator, model_validator

from driftline.decode.contract import Contract, Event
from driftline.state import Count, State, validated

SCHEMA_SAMPLE = 2000
RATE_SAMPLE = 1000
PRELUDE_MAX = 20_000


class PreludeState(State):
    messages: list[str] = Field(max_length=PRELUDE_MAX)  # base64 of each message
    positions: list[int]
    partitions: list[int]
    events: Count

    @field_validator("messages")
    @classmethod
    def _base64(cls, v: list[str]) -> list[str]:
        try:
            for m in v:
                base64.b64decode(m, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("a message is not base64") from exc
        return v

    @model_validator(mode="after")
    def _aligned(self) -> PreludeState:
        if not len(self.messages) == len(self.positions) == len(self.partitions):
            raise ValueError("one position and one partition per message")
        return self


class Prelude:
    """Messages waiting for the engine to start, and whether it can."""

    def __init__(self, need_schema: bool, need_rate: bool, contract: Contract) -> None:
        self.need_schema, self.need_rate, self.contract = need_schema, need_rate, contract
        self.messages: list[bytes] = []
        self.positions: list[int] = []
        self.partitions: list[int] = []
        self.events = 0  # messages that are events by the schema-free contract

    def __len__(self) -> int:
        return len(self.messages)

    def add(self, messages: list[bytes], positions: np.ndarray, partitions: np.ndarray) -> None:
        self.messages += messages
        self.positions += positions.tolist()
        self.partitions += partitions.tolist()
        if self.need_rate and self.events < RATE_SAMPLE:
            for raw in messages:
                self.events += self._is_event(raw)

    def _is_event(self, raw: bytes) -> bool:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return False
        return isinstance(obj, dict) and isinstance(self.contract.read(obj), Event)

    @property
    def ready(self) -> bool:
        if len(self.messages) >= PRELUDE_MAX:
            return True
        return (not self.need_schema or len(self.messages) >= SCHEMA_SAMPLE) and \
            (not self.need_rate or self.events >= RATE_SAMPLE)

    def take(self) -> tuple[list[bytes], np.ndarray, np.ndarray]:
        out = (self.messages, np.asarray(self.positions, np.int64),
               np.asarray(self.partitions, np.int64))
        self.messages, self.positions, self.partitions = [], [], []
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"messages": [base64.b64encode(m).decode("ascii") for m in self.messages],
                "positions": self.positions, "partitions": self.partitions,
                "events": self.events}

    def restore(self, snap: dict[str, Any]) -> None:
        s = validated(PreludeState, snap, "prelude")
        self.messages = [base64.b64decode(m) for m in s.messages]
        self.positions, self.partitions, self.events = list(s.positions), list(s.partitions), s.events
