"""``driftline run`` (the Kafka runtime, driftline/runtime/) and ``driftline produce-demo``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from driftline.config import Config, KafkaConfig, load_config

EXIT_OK = 0


# -- run ----------------------------------------------------------------------------------------
def run_config(args: argparse.Namespace) -> Config:
    """The config file (or the zero-config defaults) with the command-line flags on top."""
    return load_config(args.config, **{
        "kafka.bootstrap": args.bootstrap, "kafka.input_topic": args.input_topic,
        "kafka.incident_topic": args.incident_topic,
        "kafka.dead_letter_topic": args.dead_letter_topic,
        "kafka.changelog_topic": args.changelog_topic, "kafka.group_id": args.group_id,
        "metrics.port": args.metrics_port, "metrics.addr": args.metrics_addr})


def cmd_run(args: argparse.Namespace) -> int:
    from driftline.errors import UsageError
    from driftline.logging import get_logger
    from driftline.metrics import Metrics, serve
    from driftline.reference import load_reference
    from driftline.runtime import Runtime
    from driftline.runtime.layers import Layers

    if args.labels_store and not args.labels_topic:  # a store of nothing: never silently
        raise UsageError("--labels-store is the store of a labels topic: give --labels-topic "
                         "too (inline labels need no store)")
    config = run_config(args)
    if args.labels_topic:  # the labels layer on, as replay --labels turns it on
        config = config.model_copy(update={"labels": config.labels.model_copy(
            update={"enabled": True})})
    log = get_logger("driftline.run")
    reference, ref_events = load_reference(args.reference or config.reference.path)
    metrics = Metrics(segment_cardinality=config.limits.metric_segment_cardinality)
    port = serve(metrics, config.metrics.addr, config.metrics.port)
    log.info("metrics", url=f"http://{config.metrics.addr}:{port}/metrics")
    common: dict[str, Any] = dict(
        reference=reference, reference_events=ref_events, window=args.window,
        instance_id=args.instance_id, until_idle=args.until_idle,
        shutdown_timeout=args.shutdown_timeout)
    runtime: Runtime | Layers
    if args.labels_topic:
        store = args.labels_store or f"driftline-labels-{config.kafka.group_id}.sqlite"
        runtime = Layers(config, labels_topic=args.labels_topic, store=store, metrics=metrics,
                         **common)
    else:
        runtime = Runtime(config, metrics=metrics, **common)
    summary = runtime.run()
    text = json.dumps(summary, indent=2)
    if args.summary_out:
        Path(args.summary_out).write_text(text + "\n")
    print(text, file=sys.stderr)
    if (runtime.abandoned if isinstance(runtime, Layers) else runtime.sink.abandoned):
        # a producer wedged inside librdkafka (see kafka_sink): its destructor could block
        # the interpreter's exit, so leave without running it; everything is committed
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_OK)
    return EXIT_OK


# -- produce-demo ---------------------------------------------------------------------------------
def demo_messages(seed: int, scenario: Any, models: int = 1, partitions_by: str = "model_id",
                  ) -> Iterator[list[tuple[bytes | None, bytes]]]:
    """(key, value) chunks of the demo stream, spread over ``models`` model ids if > 1."""
    from driftline import demo

    names = [b"routing"] if models <= 1 else [f"routing-{k}".encode() for k in range(models)]
    i = 0
    for _w, messages in demo.stream(seed, scenario):
        chunk: list[tuple[bytes | None, bytes]] = []
        for m in messages:
            name = names[i % len(names)]
            if models > 1:
                m = m.replace(b'"model_id":"routing"', b'"model_id":"' + name + b'"', 1)
            if partitions_by == "model_id":
                key: bytes | None = name
            elif partitions_by == "event_id":
                start = m.index(b'"event_id":"') + 12
                key = m[start:m.index(b'"', start)]
            else:
                key = None
            chunk.append((key, m))
            i += 1
        yield chunk


def demo_labels(seed: int, scenario: Any) -> list[tuple[bytes | None, bytes]]:
    """(key = event id, label line) of the demo's labels in the order they became known
    (label time): the order a labels topic carries them in."""
    from driftline import demo

    timed: list[tuple[float, bytes | None, bytes]] = []
    for _w, _m, labels in demo.labelled_stream(seed, scenario):
        timed += zip(labels.timestamps.tolist(), (e.encode() for e in labels.event_ids),
                     labels.lines(), strict=True)
    timed.sort(key=lambda x: x[0])
    return [(key, line) for _, key, line in timed]


def cmd_produce_demo(args: argparse.Namespace) -> int:
    from confluent_kafka import Producer

    from driftline.io.kafka_settings import client_settings
    from driftline.io.kafka_sink import admin_client, ensure_topics, paced, produce_all
    from driftline.io.kafka_source import rdkafka_logger
    from driftline.logging import get_logger

    log = get_logger("driftline.produce-demo")
    base = load_config(args.config).kafka if args.config else KafkaConfig()
    kcfg = base.model_copy(update={"bootstrap": args.bootstrap or base.bootstrap})
    topics: dict[str, tuple[int, dict[str, str]]] = {args.topic: (args.partitions, {})}
    if args.labels_topic:
        topics[args.labels_topic] = (1, {})
    ensure_topics(admin_client(kcfg, log), topics, log)
    conf: dict[str, Any] = dict(client_settings(kcfg, "producer"))
    conf.update({"linger.ms": 20, "logger": rdkafka_logger(log, "producer")})
    producer = Producer(conf)
    t0 = time.perf_counter()
    from driftline.demo import Scenario

    scenario = Scenario(windows=args.windows, clean=args.clean)
    chunks = demo_messages(args.seed, scenario, args.models, args.partitions_by)
    n = produce_all(producer, args.topic, paced(chunks, args.rate))
    elapsed = time.perf_counter() - t0
    print(f"produced {n} demo events to {args.topic} in {elapsed:.1f}s "
          f"({n / elapsed:,.0f}/s)", file=sys.stderr)
    if args.labels_topic:
        labels = demo_labels(args.seed, scenario)
        n = produce_all(producer, args.labels_topic, paced([labels], args.rate))
        print(f"produced {n} demo labels to {args.labels_topic}", file=sys.stderr)
    return EXIT_OK


# -- parsers --------------------------------------------------------------------------------------
def add_parsers(sub: Any) -> None:
    """Add ``run`` and ``produce-demo`` to the driftline command line."""
    r = sub.add_parser("run", help="consume a Kafka topic, publish incidents exactly once",
                       description="Consume prediction events from Kafka in a consumer group; "
                       "publish incidents, dead letters and state checkpoints in one "
                       "transaction with the offsets (docs/kafka.md).")
    r.add_argument("--config", help="YAML config (default: zero-config preset)")
    r.add_argument("--bootstrap", help="HOST:PORT[,HOST:PORT] (kafka.bootstrap)")
    r.add_argument("--input-topic", help="prediction events (kafka.input_topic)")
    r.add_argument("--incident-topic", help="incident CloudEvents (kafka.incident_topic)")
    r.add_argument("--dead-letter-topic", help="rejected input (kafka.dead_letter_topic)")
    r.add_argument("--changelog-topic", help="state checkpoints (kafka.changelog_topic)")
    r.add_argument("--group-id", help="consumer group (kafka.group_id)")
    r.add_argument("--instance-id", help="this replica's id: the transactional.id suffix "
                   "(default: group.instance.id, else the config's instance)")
    r.add_argument("--reference", help="reference profile or JSON-lines events "
                   "(default: reference.path, else warm-up)")
    r.add_argument("--window", help="window: a duration (15m) or an event count (5000)")
    r.add_argument("--until-idle", type=float, metavar="SECONDS",
                   help="close windows, commit and exit after SECONDS without new events")
    r.add_argument("--metrics-port", type=int, help="0 picks a free port (metrics.port)")
    r.add_argument("--metrics-addr", help="metrics.addr")
    r.add_argument("--shutdown-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="on SIGTERM, exit at the latest after this long (default 30)")
    r.add_argument("--summary-out", help="write the exit summary (JSON) here")
    r.add_argument("--labels-topic", help="ground truth ({event_id, label, timestamp} "
                   "messages): turns the labels layer on; the performance monitors are judged "
                   "once a window's labels are final (docs/labels.md)")
    r.add_argument("--labels-store", help="the labels' durable store, kept across restarts "
                   "(default: driftline-labels-<group_id>.sqlite in the working directory; "
                   "gone, it is rebuilt from the labels topic)")
    r.set_defaults(func=cmd_run)

    d = sub.add_parser("produce-demo", help="write the demo stream into a Kafka topic (events "
                       "with their event_id; --labels-topic: its labels too)")
    d.add_argument("--bootstrap", required=True, help="HOST:PORT")
    d.add_argument("--topic", required=True)
    d.add_argument("--config", help="for kafka.settings (TLS/SASL)")
    d.add_argument("--rate", type=float, default=0.0, help="events/s; 0 = as fast as possible")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--windows", type=int, default=60, help="5-minute windows of ~5,000 events")
    d.add_argument("--models", type=int, default=1,
                   help="spread events round-robin over N model ids routing-0… (default 1: "
                   "'routing')")
    d.add_argument("--partitions-by", choices=("model_id", "event_id", "none"),
                   default="model_id", help="message key (default model_id)")
    d.add_argument("--partitions", type=int, default=1,
                   help="partitions when the topic is created (default 1)")
    d.add_argument("--clean", action="store_true", help="inject no failure")
    d.add_argument("--labels-topic", help="also write the demo's delayed labels here, in the "
                   "order they became known (after the events; run --labels-topic reads them)")
    d.set_defaults(func=cmd_produce_demo)
