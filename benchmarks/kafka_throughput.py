"""`driftline run` throughput against a real Kafka broker, next to a bare consumer.

Pre-produces the demo stream (≥ 1M events, ~365 B each, one partition) into a fresh topic,
then measures, in the same process and against the same topic:

(a) a bare confluent-kafka consumer: ``consume(batch)`` until caught up, counting messages —
    with the same client settings ``run`` uses (``fetch.queue.backoff.ms`` included);
(b) the driftline run loop in-process (``Runtime``, the demo config: 13 monitors, 5-minute
    windows, warm-up reference), until it has consumed every event — decoding, windows,
    detectors, incidents, transactions with checkpoints every commit interval included.

Rates are events per second from the first message to the last; (b)/(a) is the ratio.
Without ``--bootstrap`` a broker is started with deploy/local/kafka/run.sh in a temp dir
and stopped at the end. ``--cpus 1`` (the default) pins this process — librdkafka's threads
included — to one CPU, so "on one core" means what it says.

    python benchmarks/kafka_throughput.py [--bootstrap HOST:PORT] [--events N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402

from driftline import demo  # noqa: E402
from driftline.config import KafkaConfig, load_config  # noqa: E402
from driftline.io.kafka_settings import client_settings  # noqa: E402
from driftline.io.kafka_sink import admin_client, ensure_topics, produce_all  # noqa: E402
from driftline.logging import configure, get_logger  # noqa: E402
from driftline.runtime import Runtime  # noqa: E402

RUN_SH = REPO / "deploy" / "local" / "kafka" / "run.sh"


def start_broker(run_dir: Path) -> str:
    out = subprocess.run(["bash", str(RUN_SH), "start", "--dir", str(run_dir)],
                         capture_output=True, text=True, check=True, timeout=900)
    return out.stdout.strip().splitlines()[-1]


def stop_broker(run_dir: Path) -> None:
    subprocess.run(["bash", str(RUN_SH), "stop", "--dir", str(run_dir)], capture_output=True,
                   check=False, timeout=120)


def preproduce(bootstrap: str, topic: str, events: int, log: Any) -> int:
    """The demo stream, enough 5-minute windows for ``events``, into a 1-partition topic."""
    kcfg = KafkaConfig(bootstrap=bootstrap)
    ensure_topics(admin_client(kcfg, log), {topic: (1, {})}, log)
    windows = events // demo.EVENTS_PER_WINDOW + 2
    producer = Producer(dict(client_settings(kcfg, "producer"), **{
        "linger.ms": 50, "batch.size": 1_000_000, "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000}))
    stream = ([(b"routing", m) for m in batch]
              for _, batch in demo.stream(7, demo.Scenario(windows=windows)))
    return produce_all(producer, topic, stream, timeout=300)


def bare_consumer(bootstrap: str, topic: str, n: int, batch: int) -> dict[str, float]:
    kcfg = KafkaConfig(bootstrap=bootstrap, group_id=f"bench-bare-{uuid.uuid4().hex[:8]}")
    consumer = Consumer(client_settings(kcfg, "consumer", **{"group.id": kcfg.group_id}))
    # auto.offset.reset is "error" for every consumer of driftline's settings (a position
    # outside the log is never reset silently): like `run`, start at an explicit offset
    consumer.subscribe([topic], on_assign=lambda c, parts: c.assign(
        [TopicPartition(p.topic, p.partition, OFFSET_BEGINNING) for p in parts]))
    got, t0 = 0, None
    deadline = time.monotonic() + 600
    try:
        while got < n and time.monotonic() < deadline:
            msgs = consumer.consume(num_messages=batch, timeout=1.0)
            if msgs and t0 is None:
                t0 = time.perf_counter()
            failed = next((m.error() for m in msgs if m.error() is not None), None)
            if failed is not None:  # not a rate: say why instead of waiting for the deadline
                raise RuntimeError(f"bare consumer: {failed}")
            got += len(msgs)
        elapsed = time.perf_counter() - (t0 or time.perf_counter())
    finally:
        consumer.close()
    return {"events": got, "seconds": round(elapsed, 3),
            "events_per_second": round(got / elapsed, 1)}


def driftline_run(bootstrap: str, topic: str, n: int, batch: int, config_path: Path,
                  ) -> dict[str, Any]:
    group = f"bench-run-{uuid.uuid4().hex[:8]}"
    config = load_config(config_path, **{
        "kafka.bootstrap": bootstrap, "kafka.input_topic": topic, "kafka.group_id": group,
        "kafka.incident_topic": f"{topic}.incidents",
        "kafka.dead_letter_topic": f"{topic}.dead", "kafka.changelog_topic": f"{topic}.changelog",
        "kafka.batch_size": batch})
    done: dict[str, float] = {}

    def caught_up(s: Runtime) -> bool:
        if s.stats.consumed >= n and "at" not in done:
            done["at"] = time.monotonic()
        return s.stats.consumed >= n

    runtime = Runtime(config, stop_when=caught_up)
    summary = runtime.run(install_signals=False)
    first = runtime.stats.first_message
    elapsed = done.get("at", time.monotonic()) - (first or 0.0)
    return {"events": runtime.stats.consumed, "seconds": round(elapsed, 3),
            "events_per_second": round(runtime.stats.consumed / elapsed, 1),
            "windows_closed": summary["windows_closed"],
            "incidents_published": summary["kafka"]["incidents_published"],
            "commits": summary["kafka"]["commits"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", help="an existing broker (default: start one)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=20_000, help="consume(num_messages=…)")
    ap.add_argument("--config", default=str(REPO / "configs" / "demo.yaml"))
    ap.add_argument("--cpus", type=int, default=1, help="pin to this many CPUs (0: no pin)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    configure("warning", json=True)
    log = get_logger("bench")
    if args.cpus and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus[-args.cpus:])  # the last CPUs: the broker starts first
    run_dir = None
    bootstrap = args.bootstrap
    try:
        if bootstrap is None:
            run_dir = Path(tempfile.mkdtemp(prefix="driftline-kafka-bench-"))
            bootstrap = start_broker(run_dir)
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        t0 = time.perf_counter()
        produced = preproduce(bootstrap, topic, args.events, log)
        produce_s = time.perf_counter() - t0
        bare = bare_consumer(bootstrap, topic, produced, args.batch)
        run = driftline_run(bootstrap, topic, produced, args.batch, Path(args.config))
    finally:
        if run_dir is not None:
            stop_broker(run_dir)
            shutil.rmtree(run_dir, ignore_errors=True)
    result = {
        "events": produced, "produce_seconds": round(produce_s, 1),
        "batch": args.batch, "pinned_cpus": sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity") else None,
        "bare_consumer": bare, "driftline_run": run,
        "ratio": round(run["events_per_second"] / bare["events_per_second"], 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"events                {produced:,} (~365 B demo events, 1 partition)")
        print(f"bare consumer         {bare['events_per_second']:>12,.0f} events/s")
        print(f"driftline run loop    {run['events_per_second']:>12,.0f} events/s "
              f"({run['windows_closed']} windows, {run['incidents_published']} incident "
              f"events, {run['commits']} commits)")
        print(f"ratio                 {result['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
