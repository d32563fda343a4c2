"""One redaction rule: the log and the logged Kafka settings hide the same keys, at any depth."""

from __future__ import annotations

import json

import pytest

from driftline.config import KafkaConfig
from driftline.io.kafka_settings import client_settings, secret_keys
from driftline.logging import configure, get_logger
from driftline.redact import is_secret, redact

SECRETS = ["sasl.password", "sasl.username", "ssl.key.password", "ssl.keystore.password",
           "sasl.oauthbearer.config", "api_key", "token", "client_secret"]
VISIBLE = ["client.id", "bootstrap.servers", "security.protocol", "sasl.mechanisms"]


@pytest.mark.parametrize("key", SECRETS)
def test_secret_keys_are_hidden_in_logs_and_in_settings(key: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The structured log and the settings dump hide a secret key the same way, nested too."""
    assert is_secret(key)
    configure("info", json=True)
    get_logger("t").info("kafka", consumer={key: "s3cr3t", "client.id": "x"}, **{key: "s3cr3t"})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line[key] == "***" and line["consumer"][key] == "***"
    assert line["consumer"]["client.id"] == "x"
    shown = redact(client_settings(KafkaConfig(settings={key: "s3cr3t"}), "admin"))
    assert shown.get(key, "***") == "***" and "s3cr3t" not in repr(shown)


@pytest.mark.parametrize("key", VISIBLE)
def test_ordinary_settings_stay_visible(key: str) -> None:
    """What helps an operator (ids, addresses, the protocol) is not hidden."""
    assert not is_secret(key)
    assert redact({key: "v"}) == {key: "v"}


def test_values_from_env_or_file_references_are_hidden_whatever_their_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A setting given as {env: NAME} is a secret even under an innocent-looking key."""
    monkeypatch.setenv("DL_TEST_VALUE", "hidden-value")
    cfg = KafkaConfig(settings={"client.rack": {"env": "DL_TEST_VALUE"}})
    shown = redact(client_settings(cfg, "consumer"), secret_keys(cfg))
    assert shown["client.rack"] == "***"
