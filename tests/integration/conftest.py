"""Fixtures for integration tests against a REAL single-node Kafka broker.

* ``kafka_broker`` (session): a started :class:`KafkaBroker` in the session's own tmp dir.
* ``kafka_bootstrap`` (session): its address, ``"127.0.0.1:PORT"``.
* ``kafka_topic_factory`` (function): ``create(partitions=1, config=None, *, prefix="it") -> name``
  makes a uniquely named topic and waits until every partition has a leader.
* ``runs`` (function): ``make(partitions=1, **config) -> Runs``, `driftline run` subprocesses
  on a fresh topic, killed at the end of the test.

A broker that cannot start is an error, never a skip. When an integration test fails, the
last lines of broker.log are attached to its report.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from driftline.logging import configure

try:
    from .kafka_broker import KafkaBroker
    from .kafka_runs import Runs, write_config
except ImportError:  # tests/integration is not a package: rootdir-relative import
    from kafka_broker import KafkaBroker
    from kafka_runs import Runs, write_config

_BROKER_KEY = pytest.StashKey[KafkaBroker]()
_LOG_TAIL_LINES = 80
_KAFKA_FIXTURES = {"kafka_broker", "kafka_bootstrap", "kafka_topic_factory"}

TopicFactory = Callable[..., str]


@pytest.fixture(autouse=True)
def _logs_to_the_real_stderr() -> Iterator[None]:
    """main() points structlog at sys.stderr, a test's capture: point it back once that is
    closed, or the next test that logs fails on a closed file."""
    yield
    configure("info")


@pytest.fixture(scope="session")
def kafka_broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KafkaBroker]:
    """A real Kafka broker for the whole session, in its own run dir; stopped at the end."""
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    request.config.stash[_BROKER_KEY] = broker
    try:
        broker.start()  # raises KafkaBrokerError (with the log tail): the tests error out
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """The bootstrap address ``127.0.0.1:PORT`` of the session's broker."""
    assert kafka_broker.bootstrap is not None
    return kafka_broker.bootstrap


@pytest.fixture
def kafka_topic_factory(kafka_bootstrap: str) -> Iterator[TopicFactory]:
    """Create uniquely named topics: ``create(partitions=1, config=None, *, prefix="it")``."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    created: list[str] = []

    def create(partitions: int = 1, config: dict[str, str] | None = None, *,
               prefix: str = "it", timeout: float = 30.0) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        topic = NewTopic(name, num_partitions=partitions, replication_factor=1,
                         config=dict(config or {}))
        admin.create_topics([topic], operation_timeout=timeout)[name].result(timeout=timeout)
        created.append(name)
        deadline = time.monotonic() + timeout
        while True:  # bounded: wait until every partition has a leader
            md = admin.list_topics(topic=name, timeout=5).topics.get(name)
            if (md is not None and md.error is None and len(md.partitions) == partitions
                    and all(p.leader >= 0 for p in md.partitions.values())):
                return name
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} has no leaders after {timeout}s")
            time.sleep(0.1)

    yield create

    if created:  # best effort: keep the session broker tidy
        try:
            for fut in admin.delete_topics(created, operation_timeout=10).values():
                fut.result(timeout=15)
        except Exception:
            pass


@pytest.fixture
def runs(kafka_bootstrap: str, kafka_topic_factory: TopicFactory, tmp_path: Path,
         request: pytest.FixtureRequest) -> Iterator[Callable[..., Runs]]:
    made: list[Runs] = []

    def make(partitions: int = 1, **config: Any) -> Runs:
        topic = kafka_topic_factory(partitions=partitions, prefix="run")
        r = Runs(kafka_bootstrap, write_config(tmp_path / "config.yaml", **config), topic,
                 tmp_path)
        made.append(r)
        return r

    yield make
    for r in made:
        r.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """On a failed integration test, attach the tail of broker.log to the report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    uses_kafka = bool(_KAFKA_FIXTURES & set(getattr(item, "fixturenames", ())))
    if not (uses_kafka or item.get_closest_marker("integration")):
        return
    broker = item.config.stash.get(_BROKER_KEY, None)
    if broker is None:
        return
    tail = broker.log_tail(_LOG_TAIL_LINES)
    if tail:
        report.sections.append(
            (f"kafka broker.log (last {_LOG_TAIL_LINES} lines, {broker.log_path})", tail)
        )
