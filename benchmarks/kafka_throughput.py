"""`driftline run` throughput against a real Kafka broker, next to a bare consumer, and whether
what it publishes equals a replay of the same events.

Pre-produces the demo stream (~365 B events, the default ≥ 1M) into a fresh topic of
``--partitions P`` partitions keyed by ``--key``: ``model`` (model k of ``--models M`` goes to
partition k mod P, as the integration tests' streams do), ``event_id`` (the event's own id,
placed by the producer's partitioner: a model's events spread over every partition) or
``none``. Every produced event is also written, in the order produced, to a temp JSON-lines
file. Then, against the same topic:

(a) a bare confluent-kafka consumer: ``consume(batch)`` over all P partitions until caught up,
    counting messages — with the same client settings ``run`` uses
    (``fetch.queue.backoff.ms`` included);
(b) ``--instances K`` of the driftline run loop in one consumer group (the demo config: 13
    monitors, 5-minute windows, warm-up reference): K = 1 in this process (``Runtime``), K > 1
    as K ``python -m driftline.cli run`` subprocesses — decoding, windows, detectors,
    incidents, transactions with checkpoints every ``--commit-interval`` included;
(c) ``driftline replay`` of the JSON-lines file (one engine over the whole stream in the order
    it was produced): the incidents `run` should have published.

Rates are events per second from the first message to caught up. Caught up is, for every K,
the moment the group's committed offsets equal the topic's end offsets (polled every 0.1 s;
offsets are committed every ``--commit-interval``, so this is late by up to one interval) —
``committed_*`` in the output; for K = 1 also the moment the loop had consumed every event
(``events_per_second``, the number this script always reported). For K > 1 the first
message is each instance's own (its exit summary's ``elapsed_seconds`` back from when it
wrote the summary); the earliest counts. K instances started together usually meet in a
rebalance (the first to join takes every partition until the others arrive; the broker's
``group.initial.rebalance.delay.ms`` is 0), so K > 1 also reports ``settled_*``: the rate
from the first committed-offsets poll after the last "partitions assigned" of any instance
(their info log) to caught up. Once caught up the instances exit on
``--until-idle`` (closing their open windows, as replay's end does) and the incidents on the
incident topic (read_committed) are compared with replay's by CloudEvent id: ``same`` (in
both), ``missing`` (replay only), ``extra`` (published only), ``duplicates`` (an id published
more than once, counted beyond the first), ``differing`` (in both, but no published copy
equals replay's event apart from ``source_positions``, which name Kafka offsets on one side
and file lines on the other), with the fields that differ.

Without ``--bootstrap`` a broker is started with deploy/local/kafka/run.sh in a temp dir and
stopped at the end (unpinned: it is started before this process pins itself). ``--cpus N``
(default 1) pins to the last N CPUs: with K = 1 this process — librdkafka's threads included,
so "on one core" means what it says — and the bare consumer; with K > 1 this process (so the
bare consumer) and each instance to one of those N CPUs, instance k to the (k mod N)-th,
so ``--instances 2 --cpus 2`` gives each instance a core of its own. 0: no pinning.

    python benchmarks/kafka_throughput.py [--bootstrap HOST:PORT] [--events N]
        [--partitions P] [--key model|event_id|none] [--models M] [--instances K] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
# One BLAS thread for this process and (inherited) every instance and the replay: the
# engine no longer depends on it (detectors/sketches.py sums without BLAS), but a pinned
# run beside BLAS threads of other CPUs measures contention, not driftline.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from confluent_kafka import (  # noqa: E402
    OFFSET_BEGINNING,
    Consumer,
    Producer,
    TopicPartition,
)

from driftline import demo  # noqa: E402
from driftline.cli.kafka import demo_messages  # noqa: E402
from driftline.config import KafkaConfig, load_config  # noqa: E402
from driftline.investigate.streams import read_topic  # noqa: E402
from driftline.io.kafka_settings import client_settings  # noqa: E402
from driftline.io.kafka_sink import admin_client, ensure_topics, produce_all  # noqa: E402
from driftline.logging import configure, get_logger  # noqa: E402
from driftline.runtime import Runtime  # noqa: E402

RUN_SH = REPO / "deploy" / "local" / "kafka" / "run.sh"
KEYS = {"model": "model_id", "event_id": "event_id", "none": "none"}  # → demo_messages
IDLE_EXIT = 3.0  # seconds without new events before an instance closes its windows and exits
DEADLINE = 600.0  # bound on every wait of a run (consume, catch up, exit)


def start_broker(run_dir: Path) -> str:
    out = subprocess.run(["bash", str(RUN_SH), "start", "--dir", str(run_dir)],
                         capture_output=True, text=True, check=True, timeout=900)
    return out.stdout.strip().splitlines()[-1]


def stop_broker(run_dir: Path) -> None:
    subprocess.run(["bash", str(RUN_SH), "stop", "--dir", str(run_dir)], capture_output=True,
                   check=False, timeout=120)


def model_names(models: int) -> list[str]:
    """The model ids of ``demo_messages``: ``routing``, or ``routing-0``… for several."""
    return ["routing"] if models <= 1 else [f"routing-{k}" for k in range(models)]


# -- produce ------------------------------------------------------------------------------------
def preproduce(bootstrap: str, topic: str, events: int, log: Any, *, partitions: int = 1,
               key: str = "model", models: int = 1, ndjson: IO[bytes] | None = None) -> int:
    """The demo stream, enough 5-minute windows for ``events``, into a ``partitions``-partition
    topic keyed by ``key``; each value is also written to ``ndjson`` in the order produced."""
    kcfg = KafkaConfig(bootstrap=bootstrap)
    ensure_topics(admin_client(kcfg, log), {topic: (partitions, {})}, log)
    windows = events // demo.EVENTS_PER_WINDOW + 2
    producer = Producer(dict(client_settings(kcfg, "producer"), **{
        "linger.ms": 50, "batch.size": 1_000_000, "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000}))
    by_model = {name.encode(): k % partitions for k, name in enumerate(model_names(models))}

    def stream() -> Iterator[list[tuple[bytes | None, bytes]]]:
        for chunk in demo_messages(7, demo.Scenario(windows=windows), models, KEYS[key]):
            if ndjson is not None:
                ndjson.write(b"".join(value + b"\n" for _, value in chunk))
            yield chunk

    def of_model(k: bytes | None) -> int:
        return by_model[k or b""]

    # key=model: model k on partition k mod P; otherwise the partitioner decides (-1)
    return produce_all(producer, topic, stream(), timeout=300,
                       partition=of_model if key == "model" else None)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Every partition's end (high watermark) offset."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-ends-{uuid.uuid4().hex[:8]}"})
    try:
        parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts}
    finally:
        c.close()


# -- caught up: the group's committed offsets reach the ends ------------------------------------
class CaughtUp(threading.Thread):
    """Polls the group's committed offsets every 0.1 s; ``at`` (wall clock) is when they first
    equal ``ends``. Reading committed offsets does not join the group."""

    def __init__(self, bootstrap: str, group: str, topic: str, ends: dict[int, int],
                 deadline: float) -> None:
        super().__init__(daemon=True)
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                           "enable.auto.commit": False})
        self.tps = [TopicPartition(topic, p) for p in sorted(ends)]
        self.ends, self.deadline = ends, deadline
        self.at: float | None = None
        self.last: dict[int, int] = {}
        self.series: list[tuple[float, int]] = []  # (wall clock, events committed)
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            while not self.halt.is_set() and time.monotonic() < self.deadline:
                try:
                    got = self.c.committed(self.tps, timeout=5)
                except Exception:  # a slow answer is retried until the deadline
                    got = []
                self.last = {tp.partition: tp.offset for tp in got}
                self.series.append((time.time(), sum(max(0, o) for o in self.last.values())))
                if self.last == self.ends:
                    self.at = time.time()
                    return
                self.halt.wait(0.1)
        finally:
            self.c.close()


# -- (a) the bare consumer ----------------------------------------------------------------------
def bare_consumer(bootstrap: str, topic: str, n: int, batch: int) -> dict[str, float]:
    kcfg = KafkaConfig(bootstrap=bootstrap, group_id=f"bench-bare-{uuid.uuid4().hex[:8]}")
    consumer = Consumer(client_settings(kcfg, "consumer", **{"group.id": kcfg.group_id}))
    # auto.offset.reset is "error" for every consumer of driftline's settings (a position
    # outside the log is never reset silently): like `run`, start at an explicit offset
    consumer.subscribe([topic], on_assign=lambda c, parts: c.assign(
        [TopicPartition(p.topic, p.partition, OFFSET_BEGINNING) for p in parts]))
    got, t0 = 0, None
    deadline = time.monotonic() + DEADLINE
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


# -- (b) the run loop: K = 1 in process, K > 1 as subprocesses ----------------------------------
def write_config(base: Path, path: Path, *, models: int, commit_interval: str,
                 batch: int) -> Path:
    """The benchmark's config file (for `run` and `replay` alike): ``base`` with the models
    of the stream and the commit interval and batch size of this run."""
    cfg = yaml.safe_load(base.read_text()) or {}
    cfg.setdefault("input", {})["models"] = model_names(models)
    kafka = cfg.setdefault("kafka", {})
    kafka.update({"commit_interval": commit_interval, "batch_size": batch})
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def kafka_topics(topic: str) -> dict[str, str]:
    return {"kafka.input_topic": topic, "kafka.incident_topic": f"{topic}.incidents",
            "kafka.dead_letter_topic": f"{topic}.dead",
            "kafka.changelog_topic": f"{topic}.changelog"}


def run_in_process(bootstrap: str, topic: str, ends: dict[int, int], config_path: Path,
                   ) -> dict[str, Any]:
    """K = 1: ``Runtime`` in this process until caught up, then idle exit (windows closed)."""
    n = sum(ends.values())
    group = f"bench-run-{uuid.uuid4().hex[:8]}"
    config = load_config(config_path, **{"kafka.bootstrap": bootstrap, "kafka.group_id": group,
                                         **kafka_topics(topic)})
    done: dict[str, float] = {}
    deadline = time.monotonic() + DEADLINE
    watch = CaughtUp(bootstrap, group, topic, ends, deadline)
    watch.start()

    def consumed_all(s: Runtime) -> bool:
        if s.stats.consumed >= n and "at" not in done:
            done["at"], done["wall"] = time.monotonic(), time.time()
        return time.monotonic() > deadline  # stop only at the deadline: the idle exit drains

    runtime = Runtime(config, stop_when=consumed_all, until_idle=IDLE_EXIT)
    summary = runtime.run(install_signals=False)
    watch.join(30)
    watch.halt.set()
    first = runtime.stats.first_message or 0.0
    elapsed = done.get("at", time.monotonic()) - first
    first_wall = done.get("wall", time.time()) - elapsed
    out = {"events": runtime.stats.consumed, "seconds": round(elapsed, 3),
           "events_per_second": round(runtime.stats.consumed / elapsed, 1)}
    out.update(committed_rate(n, first_wall, watch.at))
    out.update({"windows_closed": summary["windows_closed"],
                "incidents_published": summary["kafka"]["incidents_published"],
                "commits": summary["kafka"]["commits"]})
    return out


def committed_rate(n: int, first_wall: float, caught_up: float | None) -> dict[str, Any]:
    if caught_up is None:
        return {"committed_seconds": None, "committed_events_per_second": None}
    s = caught_up - first_wall
    return {"committed_seconds": round(s, 3), "committed_events_per_second": round(n / s, 1)}


def run_instances(bootstrap: str, topic: str, ends: dict[int, int], config_path: Path,
                  instances: int, cpus: list[int], workdir: Path) -> dict[str, Any]:
    """K > 1: K `driftline run` subprocesses in one group, until the group's committed offsets
    reach the ends; then each exits on --until-idle."""
    n = sum(ends.values())
    group = f"bench-run-{uuid.uuid4().hex[:8]}"
    t = kafka_topics(topic)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    procs: list[subprocess.Popen[bytes]] = []
    started = time.time()
    deadline = time.monotonic() + DEADLINE
    watch = CaughtUp(bootstrap, group, topic, ends, deadline)
    try:
        for k in range(instances):
            cmd = [sys.executable, "-m", "driftline.cli", "--log-level", "info", "run",
                   "--config", str(config_path), "--bootstrap", bootstrap,
                   "--input-topic", topic, "--incident-topic", t["kafka.incident_topic"],
                   "--dead-letter-topic", t["kafka.dead_letter_topic"],
                   "--changelog-topic", t["kafka.changelog_topic"], "--group-id", group,
                   "--instance-id", f"bench-{k}", "--metrics-port", "0",
                   "--until-idle", str(IDLE_EXIT), "--summary-out", str(workdir / f"i{k}.json")]
            with open(workdir / f"i{k}.log", "wb") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            procs.append(proc)
            if cpus:
                os.sched_setaffinity(proc.pid, {cpus[k % len(cpus)]})
        watch.start()
        watch.join(DEADLINE)
        watch.halt.set()
        for k, proc in enumerate(procs):
            rc = proc.wait(max(1.0, deadline - time.monotonic()))
            if rc != 0:
                tail = (workdir / f"i{k}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"instance {k} exited {rc}\n{tail}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    if watch.at is None:
        raise RuntimeError(f"not caught up in {DEADLINE:.0f}s: committed {watch.last}, "
                           f"ends {ends}")
    summaries, firsts = [], []
    for k in range(instances):
        path = workdir / f"i{k}.json"
        s = json.loads(path.read_text())
        summaries.append(s)
        if s["kafka"]["consumed_this_run"]:  # its first message: elapsed back from the end
            firsts.append(path.stat().st_mtime - s["elapsed_seconds"])
    first = min(firsts)
    out: dict[str, Any] = {"events": sum(s["kafka"]["consumed_this_run"] for s in summaries)}
    out.update(committed_rate(n, first, watch.at))
    out.update(settled_rate(n, watch, [workdir / f"i{k}.log" for k in range(instances)]))
    out.update({
        "seconds_from_start": round(watch.at - started, 3),
        "per_instance_consumed": [s["kafka"]["consumed_this_run"] for s in summaries],
        "incidents_published": sum(s["kafka"]["incidents_published"] for s in summaries),
        "commits": sum(s["kafka"]["commits"] for s in summaries),
        "partitions_restored": sum(s["kafka"]["partitions_restored"] for s in summaries)})
    return out


def settled_rate(n: int, watch: CaughtUp, logs: list[Path]) -> dict[str, Any]:
    """The rate once the group has settled: from the first committed-offsets poll after the
    last "partitions assigned" before caught up (K instances started together usually meet
    in a rebalance: the first to join takes every partition until the others arrive)."""
    assert watch.at is not None
    at = [datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp()
          for log in logs for rec in log_records(log) if rec.get("event") == "partitions assigned"]
    settled = max((t for t in at if t < watch.at), default=None)
    after = [(t, c) for t, c in watch.series if settled is not None and t > settled]
    if not after or after[0][0] >= watch.at:
        return {"settled_events": None, "settled_events_per_second": None}
    t1, c1 = after[0]
    return {"settled_events": n - c1, "settled_seconds": round(watch.at - t1, 3),
            "settled_events_per_second": round((n - c1) / (watch.at - t1), 1),
            "assignments_before_caught_up": sum(t < watch.at for t in at)}


def log_records(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            yield rec


# -- (c) replay, and the comparison ---------------------------------------------------------------
def replay_incidents(config_path: Path, ndjson: Path, workdir: Path) -> list[dict[str, Any]]:
    """`driftline replay` of the produced events, in the order produced."""
    out = workdir / "replay-incidents.jsonl"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, "-m", "driftline.cli", "replay", "--input", str(ndjson),
                           "--config", str(config_path), "--incidents-out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=DEADLINE, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"replay exited {done.returncode}: {done.stderr[-2000:]}")
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def read_incidents(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every committed CloudEvent on the incident topic, up to its end (validated, as
    `driftline explain` reads them)."""
    return read_topic(KafkaConfig(bootstrap=bootstrap), topic, timeout=120)


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths (list indices dropped) where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for x, y in zip(a, b, strict=True) for d in differences(x, y, f"{path}[]")]
    return [] if a == b else [path]


def without_positions(ev: dict[str, Any]) -> dict[str, Any]:
    return dict(ev, data={k: v for k, v in ev["data"].items() if k != "source_positions"})


def compare(published: list[dict[str, Any]], replayed: list[dict[str, Any]]) -> dict[str, Any]:
    """Published incidents against replay's, by CloudEvent id (see the module's docstring)."""
    ids, want = Counter(ev["id"] for ev in published), {ev["id"]: ev for ev in replayed}
    copies: dict[str, list[dict[str, Any]]] = {}
    for ev in published:
        copies.setdefault(ev["id"], []).append(without_positions(ev))
    fields: Counter[str] = Counter()
    differing = 0
    for i in set(ids) & set(want):
        diffs: list[list[str]] = [differences(c, without_positions(want[i]))
                                  for c in copies[i]]
        if all(diffs):
            differing += 1
            closest: list[str] = min(diffs, key=len)
            fields.update(set(closest))
    return {"published": len(published), "replay": len(replayed),
            "same": len(set(ids) & set(want)), "missing": len(set(want) - set(ids)),
            "extra": len(set(ids) - set(want)),
            "duplicates": sum(c - 1 for c in ids.values() if c > 1),
            "differing": differing, "differing_fields": dict(fields.most_common())}


# -- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--bootstrap", help="an existing broker (default: start one)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=1, help="partitions of the input topic")
    ap.add_argument("--key", choices=sorted(KEYS), default="model",
                    help="message key: model (model k → partition k mod P), event_id, none")
    ap.add_argument("--models", type=int, default=1,
                    help="spread the events round-robin over M model ids (default 1: routing)")
    ap.add_argument("--instances", type=int, default=1,
                    help="run loops in one group (1: in this process; more: subprocesses)")
    ap.add_argument("--batch", type=int, default=20_000, help="consume(num_messages=…)")
    ap.add_argument("--commit-interval", default="1s",
                    help="kafka.commit_interval: also the resolution of 'caught up'")
    ap.add_argument("--config", default=str(REPO / "configs" / "demo.yaml"))
    ap.add_argument("--cpus", type=int, default=1, help="pin to the last N CPUs (0: no pin; "
                    "with --instances > 1 each instance gets one of them)")
    ap.add_argument("--workdir", help="keep the events, configs, instances' logs and summaries "
                    "here (default: a temp dir, removed)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    configure("warning", json=True)
    log = get_logger("bench")
    run_dir = None
    bootstrap = args.bootstrap
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="driftline-kafka-bench-work-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if bootstrap is None:
            run_dir = Path(tempfile.mkdtemp(prefix="driftline-kafka-bench-"))
            bootstrap = start_broker(run_dir)
        cpus: list[int] = []
        if args.cpus and hasattr(os, "sched_setaffinity"):
            cpus = sorted(os.sched_getaffinity(0))[-args.cpus:]
            os.sched_setaffinity(0, cpus)  # after the broker started: it is not pinned
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        ndjson = workdir / "events.ndjson"
        t0 = time.perf_counter()
        with open(ndjson, "wb") as fh:
            produced = preproduce(bootstrap, topic, args.events, log, partitions=args.partitions,
                                  key=args.key, models=args.models, ndjson=fh)
        produce_s = time.perf_counter() - t0
        ends = end_offsets(bootstrap, topic)
        if sum(ends.values()) != produced:
            raise RuntimeError(f"produced {produced}, the topic ends at {ends}")
        config = write_config(Path(args.config), workdir / "config.yaml", models=args.models,
                              commit_interval=args.commit_interval, batch=args.batch)
        bare = bare_consumer(bootstrap, topic, produced, args.batch)
        if args.instances == 1:
            run = run_in_process(bootstrap, topic, ends, config)
        else:
            run = run_instances(bootstrap, topic, ends, config, args.instances, cpus, workdir)
        published = read_incidents(bootstrap, f"{topic}.incidents")
        (workdir / "published-incidents.jsonl").write_text(
            "".join(json.dumps(ev) + "\n" for ev in published))
        replayed = replay_incidents(config, ndjson, workdir)
    finally:
        if run_dir is not None:
            stop_broker(run_dir)
            shutil.rmtree(run_dir, ignore_errors=True)
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    rate = run.get("committed_events_per_second")
    result = {
        "events": produced, "produce_seconds": round(produce_s, 1),
        "partitions": args.partitions, "key": args.key, "models": args.models,
        "instances": args.instances, "events_per_partition": [ends[p] for p in sorted(ends)],
        "batch": args.batch, "commit_interval": args.commit_interval, "pinned_cpus": cpus or None,
        "bare_consumer": bare, "driftline_run": run,
        "ratio": round(run["events_per_second"] / bare["events_per_second"], 3)
        if "events_per_second" in run else None,
        "committed_ratio": round(rate / bare["events_per_second"], 3) if rate else None,
        "settled_ratio": round(run["settled_events_per_second"] / bare["events_per_second"], 3)
        if run.get("settled_events_per_second") else None,
        "incidents": compare(published, replayed),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


def print_table(r: dict[str, Any]) -> None:
    run, bare, inc = r["driftline_run"], r["bare_consumer"], r["incidents"]
    print(f"events                {r['events']:,} (~365 B demo events, {r['partitions']} "
          f"partition(s) keyed by {r['key']}, {r['models']} model(s))")
    print(f"bare consumer         {bare['events_per_second']:>12,.0f} events/s")
    if "events_per_second" in run:
        print(f"driftline run loop    {run['events_per_second']:>12,.0f} events/s to consumed "
              f"({run['windows_closed']} windows, {run['commits']} commits)")
        print(f"ratio                 {r['ratio']:.2f}")
    committed = run["committed_events_per_second"]
    if committed is not None:
        print(f"{r['instances']} instance(s)         {committed:>12,.0f} events/s to committed "
              f"(commit interval {r['commit_interval']})")
        print(f"ratio (committed)     {r['committed_ratio']:.2f}")
    if "per_instance_consumed" in run:
        print(f"per instance          {run['per_instance_consumed']} events consumed, "
              f"{run['partitions_restored']} partition(s) restored in a rebalance")
        settled = run["settled_events_per_second"]
        if settled is not None:
            print(f"settled group         {settled:>12,.0f} events/s over the last "
                  f"{run['settled_events']:,} events (ratio "
                  f"{settled / bare['events_per_second']:.2f})")
    print(f"incidents             {inc['published']} published, {inc['replay']} in replay: "
          f"{inc['same']} same, {inc['missing']} missing, {inc['extra']} extra, "
          f"{inc['duplicates']} duplicates, {inc['differing']} differing")


if __name__ == "__main__":
    sys.exit(main())
