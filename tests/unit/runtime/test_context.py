"""What the runtime derives from the config before it connects: ids and topic names."""

from __future__ import annotations

import pytest
from kafka_fakes import runtime


@pytest.mark.parametrize("settings", [
    {"group.instance.id": {"env": "POD_NAME"}},
    {"consumer": {"group.instance.id": {"env": "POD_NAME"}}},
])
def test_static_member_id_from_env_gives_each_replica_its_transactional_id(
        settings: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """{env: POD_NAME} is resolved: two pods get two transactional ids, not the raw map."""
    monkeypatch.setenv("POD_NAME", "driftline-0")
    a = runtime(group_id="g", settings=settings)
    monkeypatch.setenv("POD_NAME", "driftline-1")
    b = runtime(group_id="g", settings=settings)
    assert a.transactional_id == "driftline-g-driftline-0"
    assert b.transactional_id == "driftline-g-driftline-1"


def test_the_changelog_is_one_per_group_unless_named() -> None:
    """Two groups with default settings must not share changelog partitions."""
    assert runtime(group_id="fraud").changelog_topic == "fraud.changelog"
    assert runtime(group_id="eta").changelog.topic == "eta.changelog"
    assert runtime(group_id="g", changelog_topic="shared").changelog_topic == "shared"
