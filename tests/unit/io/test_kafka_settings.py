"""Client settings: precedence, roles, forced values, secrets from env/file, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.config import KafkaConfig
from driftline.errors import ConfigError
from driftline.io.kafka_settings import client_settings, overridden, secret_keys
from driftline.redact import redact


def test_defaults_then_settings_then_role_settings_then_forced() -> None:
    """A shared setting beats a default, a role's own setting beats a shared one."""
    cfg = KafkaConfig(bootstrap="b:1", settings={
        "linger.ms": 50, "client.id": "shared",
        "producer": {"client.id": "just-the-producer"}})
    producer = client_settings(cfg, "producer", **{"transactional.id": "t"})
    assert producer["linger.ms"] == 50
    assert producer["client.id"] == "just-the-producer"
    assert producer["bootstrap.servers"] == "b:1"
    assert producer["transactional.id"] == "t"
    assert client_settings(cfg, "consumer")["client.id"] == "shared"


def test_exactly_once_settings_cannot_be_switched_off() -> None:
    """Manual commits and idempotence are forced, and the override is reported."""
    cfg = KafkaConfig(settings={"enable.auto.commit": True, "enable.idempotence": False,
                                "acks": 1})
    assert client_settings(cfg, "consumer")["enable.auto.commit"] is False
    producer = client_settings(cfg, "producer")
    assert (producer["enable.idempotence"], producer["acks"]) == (True, "all")
    assert overridden(cfg, "consumer") == ["enable.auto.commit"]
    assert overridden(cfg, "producer") == ["acks", "enable.idempotence"]


def test_input_consumer_never_resets_an_offset_silently() -> None:
    """auto.offset.reset=latest would skip events, earliest re-read them without a word: it is
    forced to error (the run loop resets by its documented policy, loudly), the override
    reported."""
    for settings in ({"auto.offset.reset": "latest"},
                     {"consumer": {"auto.offset.reset": "earliest"}}):
        cfg = KafkaConfig(settings=settings)
        assert client_settings(cfg, "consumer")["auto.offset.reset"] == "error"
        assert overridden(cfg, "consumer") == ["auto.offset.reset"]
    same = KafkaConfig(settings={"auto.offset.reset": "error"})
    assert overridden(same, "consumer") == []


def test_shared_settings_only_reach_the_clients_that_understand_them() -> None:
    """Consumer-only keys skip the producer and vice versa; security keys reach every client."""
    cfg = KafkaConfig(settings={"session.timeout.ms": 6000, "linger.ms": 1,
                                "security.protocol": "SSL"})
    consumer, producer = client_settings(cfg, "consumer"), client_settings(cfg, "producer")
    admin = client_settings(cfg, "admin")
    assert "session.timeout.ms" in consumer and "session.timeout.ms" not in producer
    assert "linger.ms" in producer and "linger.ms" not in consumer
    assert consumer["security.protocol"] == producer["security.protocol"] == "SSL"
    assert admin["security.protocol"] == "SSL" and "linger.ms" not in admin


def test_changelog_reads_are_read_committed_to_the_end() -> None:
    """The restore consumer always reads committed data and reports the partition end."""
    cfg = KafkaConfig(settings={"isolation.level": "read_uncommitted"})
    conf = client_settings(cfg, "changelog")
    assert conf["isolation.level"] == "read_committed"
    assert conf["enable.partition.eof"] is True


def test_secrets_resolve_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           ) -> None:
    """{env: NAME} and {file: PATH} are replaced by their values when a client is built."""
    monkeypatch.setenv("DL_TEST_PASSWORD", "hunter2")
    secret = tmp_path / "key-password"
    secret.write_text("s3cret\n")
    cfg = KafkaConfig(settings={
        "sasl.password": {"env": "DL_TEST_PASSWORD"},
        "producer": {"ssl.key.password": {"file": str(secret)}}})
    assert client_settings(cfg, "consumer")["sasl.password"] == "hunter2"
    assert client_settings(cfg, "producer")["ssl.key.password"] == "s3cret"
    assert secret_keys(cfg) == {"sasl.password", "ssl.key.password"}


def test_a_missing_secret_is_a_config_error(tmp_path: Path) -> None:
    """An unset variable or unreadable file names the setting, never a value."""
    with pytest.raises(ConfigError, match=r"sasl\.password.*DL_TEST_UNSET"):
        client_settings(KafkaConfig(settings={"sasl.password": {"env": "DL_TEST_UNSET"}}),
                        "admin")
    with pytest.raises(ConfigError, match="cannot read"):
        client_settings(KafkaConfig(settings={"sasl.password": {"file": str(tmp_path / "x")}}),
                        "admin")
    with pytest.raises(ConfigError, match="env: NAME"):
        client_settings(KafkaConfig(settings={"sasl.password": {"vault": "x"}}), "admin")


def test_redaction_hides_references_and_secret_looking_keys(monkeypatch: pytest.MonkeyPatch,
                                                            ) -> None:
    """Logged settings show *** for every secret, whatever its key or source."""
    monkeypatch.setenv("DL_TEST_USER", "alice")
    cfg = KafkaConfig(settings={"sasl.username": {"env": "DL_TEST_USER"},
                                "sasl.password": "plain-in-file",
                                "ssl.keystore.password": "x", "client.id": "visible"})
    shown = redact(client_settings(cfg, "consumer"), secret_keys(cfg))
    assert shown["sasl.username"] == shown["sasl.password"] == "***"
    assert shown["ssl.keystore.password"] == "***"
    assert shown["client.id"] == "visible"
    assert "alice" not in repr(shown) and "plain-in-file" not in repr(shown)
