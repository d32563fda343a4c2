"""The Kafka sidecar's commit/rewind logic against fake clients (no broker)."""

from __future__ import annotations

import pytest

from driftline.config import Config, KafkaConfig
from driftline.sidecar import Sidecar


def sidecar(**kafka: object) -> Sidecar:
    return Sidecar(Config(kafka=KafkaConfig(**kafka)))  # type: ignore[arg-type]


@pytest.mark.parametrize("settings", [
    {"group.instance.id": {"env": "POD_NAME"}},
    {"consumer": {"group.instance.id": {"env": "POD_NAME"}}},
])
def test_static_member_id_from_env_gives_each_replica_its_transactional_id(
        settings: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """{env: POD_NAME} is resolved: two pods get two transactional ids, not the raw map."""
    monkeypatch.setenv("POD_NAME", "driftline-0")
    a = sidecar(group_id="g", settings=settings)
    monkeypatch.setenv("POD_NAME", "driftline-1")
    b = sidecar(group_id="g", settings=settings)
    assert a.transactional_id == "driftline-g-driftline-0"
    assert b.transactional_id == "driftline-g-driftline-1"
