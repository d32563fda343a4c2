"""Where an investigation reads from: the incident stream, the cited events, the reference.

The I/O side of ``explain`` and ``review``: which file or topic holds the incidents, a
``Reader`` for the positions the incident cites (file lines or Kafka offsets), and the
reference (a file, or the warm-up rebuilt from the beginning of the same source).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.config import Config, duration_text
from driftline.errors import SourceError, UsageError
from driftline.investigate import rebuild, sources, streams
from driftline.investigate.explain import Reader
from driftline.investigate.history import IncidentHistory, fold, window_end, window_start
from driftline.io.files import file_origin, read_batches

if TYPE_CHECKING:
    from driftline.labels.join import LabelJoin


@dataclass(frozen=True)
class Stream:
    """Where the incidents are: a file, or a topic on the config's brokers."""

    path: str | None = None
    topic: str | None = None

    @property
    def where(self) -> str:
        return self.path if self.path is not None else f"kafka topic {self.topic}"

    def events(self, config: Config) -> list[dict[str, Any]]:
        if self.path is not None:
            return streams.read_file(self.path)
        assert self.topic is not None
        return streams.read_topic(config.kafka, self.topic)

    def histories(self, config: Config) -> dict[str, IncidentHistory]:
        return fold(self.events(config))


@dataclass(frozen=True)
class Source:
    """Where the incident's events are, and how to read them again."""

    kind: str  # file | kafka
    config: Config
    path: str | None = None
    topic: str | None = None
    partition: int = -1
    batch_size: int = 10_000

    @classmethod
    def of(cls, config: Config, position: dict[str, Any], input_path: str | None,
           input_topic: str | None, batch_size: int | None) -> Source:
        """The source an incident position names, read from what the command line gives."""
        kind = position["source"]
        if kind in ("file", "stdin"):
            if input_path is None:
                raise UsageError(f"the incident cites lines of {position.get('path') or 'stdin'}"
                                 ": pass that file (--input)")
            if not Path(input_path).is_file():
                raise SourceError(f"{input_path}: cannot read the events: no such file")
            return cls("file", config, path=input_path, batch_size=batch_size or 10_000)
        if kind == "kafka":
            topic = input_topic or position.get("topic")
            if topic is None:
                raise UsageError("the incident cites Kafka offsets: pass --input-topic")
            return cls("kafka", config, topic=topic, partition=int(position.get("partition") or 0),
                       batch_size=batch_size or config.kafka.batch_size)
        if kind == "generator":
            raise UsageError("the incident cites the demo's generator, whose events were not "
                             "written: run `driftline demo --events-out FILE --incidents-out "
                             "FILE` and explain its incidents with --input FILE")
        raise UsageError(f"the incident cites a {kind!r} source, which cannot be read back")

    @property
    def origin(self) -> dict[str, Any]:
        """What the engine's incidents say of this source (their ``source_positions``)."""
        if self.kind == "file":
            assert self.path is not None
            return file_origin(self.path)
        return {"source": "kafka", "topic": self.topic}

    @property
    def describe(self) -> dict[str, Any]:
        if self.kind == "file":
            return {"source": "file", "path": self.path}
        return {"source": "kafka", "topic": self.topic, "partition": self.partition}

    def reader(self) -> Reader:
        cfg = self.config

        def read(lo: int, hi: int, cited: tuple[int, int]) -> sources.Events:
            if self.kind == "file":
                assert self.path is not None
                return sources.file_lines(self.path, max(lo, 1), hi, cited[1],
                                          cfg.input.max_message_bytes)
            assert self.topic is not None
            return sources.kafka_offsets(cfg.kafka, self.topic, self.partition, lo, hi, cited)
        return read

    def beginning(self) -> Iterator[sources.Events]:
        if self.kind == "file":
            assert self.path is not None
            for lines, numbers in read_batches(self.path, self.batch_size,
                                               max_bytes=self.config.input.max_message_bytes):
                yield sources.Events(lines, numbers)
            return
        assert self.topic is not None
        yield from sources.kafka_beginning(self.config.kafka, self.topic, self.partition,
                                           self.batch_size)

    @property
    def name(self) -> str:
        return str(self.path) if self.kind == "file" else f"{self.topic}[{self.partition}]"


def window_arg(config: Config, data: dict[str, Any]) -> str | int | None:
    """The global window the incident's run used, when its monitor is in the global group."""
    own = next((c for c in config.monitors if c.name == data["monitor"]), None)
    if own is not None and own.window is not None:
        return None  # the incident's window is the monitor's own: the config's global one stays
    w = data["window"]
    size = window_end(w) - window_start(w)
    return int(size) if w.get("kind") == "count" else duration_text(size)


def reference_for(source: Source, data: dict[str, Any], path: str | None,
                  labels: LabelJoin | None = None) -> rebuild.Rebuilt:
    """``--reference``, else (Kafka) ``reference.path``, else the warm-up rebuilt."""
    path = path or (source.config.reference.path if source.kind == "kafka" else None)
    if path is not None:
        return rebuild.from_file(source.config, path, labels)
    rebuilt = rebuild.from_warmup(source.config, window_arg(source.config, data),
                                  source.beginning(), source.origin, source.name, labels)
    cited = data["evidence"]["reference_id"]
    if rebuilt.reference.id != cited and source.kind == "kafka" and rebuilt.read \
            and rebuilt.read[0] > 0:
        raise sources.EventsGone(f"{source.name} starts at offset {rebuilt.read[0]}: the warm-up "
                                 "the reference came from is gone (retention); pass the "
                                 "reference (--reference)")
    return rebuilt
