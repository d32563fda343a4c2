"""Engine throughput, JSON decoding included: events/s on one core.

Workload (issue #2): 10 numeric + 2 categorical features, 2 segment keys;
monitors: PSI and KS on every numeric feature, PSI on every categorical one,
segment rate of the decision per segment key. Input: an in-memory list of
encoded messages, fed in batches as a source would. A reference is fitted from
a separate sample first, so the timed part is the steady state.

Timestamps are RFC 3339 strings (what real events carry) or epoch seconds
(``--timestamps``). Both decoders run side by side in one process — the native one
(Rust, ``native/``) and the Python fallback (``DRIFTLINE_DECODER=python``) — each as the
whole engine and as ``Decoder.decode`` alone. The same process times two baselines on the
same messages — a bare ``orjson.loads`` loop and Arrow's NDJSON parse alone — and prints
every rate as a ratio of them, since absolute numbers on a shared machine are noisy.

    python benchmarks/throughput.py [--events N] [--batch N] [--timestamps rfc3339|epoch] [--json]
    python benchmarks/throughput.py --memory      # window 10k → 10M events: peak RSS
    python benchmarks/throughput.py --segment-values 1 100 10000 100000
    python benchmarks/throughput.py --labels     # the labels layer on: ids and inline labels

``--segment-values N…`` replaces the two segment keys by one, ``store``, with N
values whose traffic is Zipf-distributed (value k has weight 1/k^1.1, as real
stores, depots or merchants: a few large, a long tail), and monitors its
decision rate, disparate impact and traffic share per store on top of the
feature monitors. ``limits.segment_cardinality`` is raised to N up to
``--max-cardinality`` (beyond it the tail folds into ``__other__``, as in
production). Each N's rate is reported with its ratio to the first N's rate in
the same run: absolute numbers on a shared machine are noisy, ratios are not.

``--labels`` turns the labels layer on: every event carries its label inline, the engine
reads each event id (its 64-bit key), joins and codes the labels, and judges an error rate
per region on top of the feature monitors.

Every throughput run also times ``event_times``: the event time alone of each message, which
the performance layer on Kafka reads before it holds a prediction for its labels — Arrow's
column read against the per-message parse (orjson, then the timestamp rule) it replaced.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import orjson
import pyarrow.json as pj

from driftline.config import load_config
from driftline.decode import native
from driftline.decode.times import EventTimes
from driftline.engine import Engine
from driftline.timestamps import DEFAULT_FLOOR

REGIONS = [f"r{i}" for i in range(8)]
TIERS = ["gold", "silver", "bronze"]


def rfc3339(t: float) -> str:
    """Epoch seconds as an RFC 3339 UTC string with milliseconds, as producers write them."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def zipf_values(n: int, values: int, rng: np.random.Generator, s: float = 1.1) -> np.ndarray:
    """``n`` draws from ``values`` store names with Zipf(s) weights, in random rank order."""
    w = 1.0 / np.arange(1, values + 1) ** s
    ranks = rng.choice(values, n, p=w / w.sum())
    names = np.array([f"s{i}" for i in rng.permutation(values)], dtype=object)
    return names[ranks]


def make_events(n: int, seed: int, t0: float = 1_770_000_000.0, rate: float = 1000.0,
                segment_values: int | None = None, timestamps: str = "rfc3339",
                labels: bool = False) -> list[bytes]:
    rng = np.random.default_rng(seed)
    num = rng.normal(0, 1, (n, 10)).round(4)
    cat_a = rng.choice(["x", "y", "z", "w"], n)
    cat_b = rng.choice(["p", "q"], n)
    region = rng.choice(REGIONS, n)
    tier = rng.choice(TIERS, n)
    pred = rng.random(n).round(4)
    ts = t0 + np.arange(n) / rate
    stores = None if segment_values is None else zipf_values(n, segment_values,
                                                             np.random.default_rng(0))
    out = []
    for i in range(n):
        feats = {f"f{k}": float(num[i, k]) for k in range(10)}
        feats["cat_a"] = str(cat_a[i])
        feats["cat_b"] = str(cat_b[i])
        segs = {"region": str(region[i]), "tier": str(tier[i])} if stores is None \
            else {"store": stores[i]}
        out.append(orjson.dumps({
            "event_id": f"e{i}", "model_id": "m", "model_version": "1",
            "timestamp": rfc3339(ts[i]) if timestamps == "rfc3339" else float(ts[i]),
            "features": feats, "prediction": float(pred[i]),
            "decision": "yes" if pred[i] > 0.6 else "no",
            "segments": segs, "latency_ms": 3.0,
            **({"label": "yes" if (pred[i] > 0.6) != (num[i, 0] > 1.5) else "no"}
               if labels else {})}))
    return out


def config(window: str | int, segment_values: int | None = None,
           max_cardinality: int = 10_000, labels: bool = False) -> object:
    monitors = []
    for k in range(10):
        monitors += [{"name": f"psi-f{k}", "signal": f"feature:f{k}", "detector": "psi"},
                     {"name": f"ks-f{k}", "signal": f"feature:f{k}", "detector": "ks"}]
    monitors += [{"name": "psi-cat_a", "signal": "feature:cat_a", "detector": "psi"},
                 {"name": "psi-cat_b", "signal": "feature:cat_b", "detector": "psi"}]
    extra: dict[str, object] = {}
    if segment_values is None:
        monitors += [{"name": "rate-region", "signal": "decision=yes",
                      "detector": "segment_rate", "segment_by": "region"},
                     {"name": "rate-tier", "signal": "decision=yes", "detector": "segment_rate",
                      "segment_by": "tier"}]
    else:
        monitors += [{"name": "rate-store", "signal": "decision=yes",
                      "detector": "segment_rate", "segment_by": "store"},
                     {"name": "di-store", "signal": "decision=yes",
                      "detector": "disparate_impact", "segment_by": "store"},
                     {"name": "volume-store", "signal": "volume",
                      "detector": "segment_volume", "segment_by": "store"}]
        extra["limits.segment_cardinality"] = min(segment_values, max_cardinality)
    if labels:
        monitors += [{"name": "error-rate-region", "signal": "error",
                      "detector": "segment_rate", "segment_by": "region"}]
        extra["labels"] = {"enabled": True, "positive": "yes"}
    return load_config(None, **{"monitors": monitors, "window.size": window,
                                "window.lateness": "1s", **extra})


def run_engine(messages: list[bytes], reference: list[bytes], batch: int, window: str,
               cfg: object = None, labels: bool = False) -> float:
    # the decoder: DRIFTLINE_DECODER, read when the engine is built
    engine = Engine(cfg or config(window, labels=labels),  # type: ignore[arg-type]
                    reference_events=reference)
    engine.prepare(messages[:batch])
    gc.collect()
    t = time.perf_counter()
    for i in range(0, len(messages), batch):
        engine.process(messages[i:i + batch])
    engine.finish()
    return time.perf_counter() - t


def run_decode(messages: list[bytes], reference: list[bytes], batch: int,
               labels: bool = False) -> float:
    """``Decoder.decode`` alone, with the engine's schema and vocabularies (after a warm-up)."""
    engine = Engine(config("1m", labels=labels), reference_events=reference)
    engine.prepare(messages[:batch])
    decoder = engine.decoder
    decoder.decode(messages[:batch])
    t = time.perf_counter()
    for i in range(0, len(messages), batch):
        decoder.decode(messages[i:i + batch])
    return time.perf_counter() - t


def run_orjson(messages: list[bytes]) -> float:
    loads = orjson.loads
    t = time.perf_counter()
    for m in messages:
        loads(m)
    return time.perf_counter() - t


def run_arrow(messages: list[bytes], batch: int) -> float:
    opts = pj.ReadOptions(use_threads=False, block_size=1 << 26)
    t = time.perf_counter()
    for i in range(0, len(messages), batch):
        pj.read_json(io.BytesIO(b"\n".join(messages[i:i + batch])), read_options=opts)
    return time.perf_counter() - t


def run_event_times(messages: list[bytes], batch: int, column: bool) -> float:
    """The performance layer's pre-read of each message's event time, by batch: Arrow's
    column read (``column``) or the per-message parse it replaced."""
    times = EventTimes(("timestamp",), DEFAULT_FLOOR, 1 << 20, min_batch=0)
    read = times if column else times.per_message
    t = time.perf_counter()
    for i in range(0, len(messages), batch):
        read(messages[i:i + batch])
    assert not column or not times.slow_batches, "the column read fell back"
    return time.perf_counter() - t


def decoders() -> list[str]:
    """The decoders this installation has: native (when built) and the Python fallback."""
    return ["native", "python"] if native.available() else ["python"]


def with_decoder(name: str, fn: Callable[[], float]) -> float:
    """``fn()`` with DRIFTLINE_DECODER set to ``name`` (read when an engine is built)."""
    before = os.environ.get(native.ENV)
    os.environ[native.ENV] = name
    try:
        return fn()
    finally:
        if before is None:
            del os.environ[native.ENV]
        else:
            os.environ[native.ENV] = before


def throughput(args: argparse.Namespace) -> dict[str, object]:
    reference = make_events(20_000, seed=1, timestamps=args.timestamps, labels=args.labels)
    messages = make_events(args.events, seed=2, t0=1_770_000_100.0, timestamps=args.timestamps,
                           labels=args.labels)
    names = decoders()
    runs: dict[str, list[float]] = {"orjson_loads": [], "arrow_parse": []}
    for _ in range(args.repeat):  # interleaved, so a noisy neighbour hits every series alike
        for name in names:
            runs.setdefault(f"engine:{name}", []).append(with_decoder(
                name, lambda: run_engine(messages, reference, args.batch, args.window,
                                         labels=args.labels)))
            runs.setdefault(f"decode:{name}", []).append(with_decoder(
                name, lambda: run_decode(messages, reference, args.batch, args.labels)))
        runs["orjson_loads"].append(run_orjson(messages))
        runs["arrow_parse"].append(run_arrow(messages, args.batch))
        for how in ("column", "per_message"):
            runs.setdefault(f"event_times:{how}", []).append(
                run_event_times(messages, args.batch, how == "column"))
    rate = {k: len(messages) / statistics.median(v) for k, v in runs.items()}

    def rates(name: str) -> dict[str, float]:
        engine, decode = rate[f"engine:{name}"], rate[f"decode:{name}"]
        return {"events_per_second": round(engine), "decode_only_events_per_second": round(decode),
                "ratio_to_orjson_loads": round(engine / rate["orjson_loads"], 3),
                "ratio_to_arrow_parse": round(engine / rate["arrow_parse"], 3),
                "decode_only_ratio_to_orjson_loads": round(decode / rate["orjson_loads"], 3)}

    out: dict[str, object] = {
        "events": len(messages), "batch": args.batch, "window": args.window,
        "timestamps": args.timestamps, "repeat": args.repeat, "labels": args.labels,
        "bytes_per_event": round(sum(map(len, messages)) / len(messages)),
        "decoders": {name: rates(name) for name in names},
        "baselines_events_per_second": {k: round(rate[k]) for k in ("orjson_loads", "arrow_parse")},
        "event_times": {
            **{f"{how}_events_per_second": round(rate[f"event_times:{how}"])
               for how in ("column", "per_message")},
            "column_over_per_message": round(rate["event_times:column"]
                                             / rate["event_times:per_message"], 2),
            "column_ratio_to_orjson_loads": round(rate["event_times:column"]
                                                  / rate["orjson_loads"], 3)},
        "cpu_count": os.cpu_count(),
    }
    if len(names) == 2:
        out["native_over_python"] = round(rate["engine:native"] / rate["engine:python"], 2)
    return out


def segment_growth(args: argparse.Namespace) -> dict[str, object]:
    """Throughput per number of store values, each as a ratio of the first one's.

    The runs are interleaved (every N once per round, ``--repeat`` rounds) and timed in CPU
    seconds of this process as well as wall seconds: on a shared machine another job's burst
    then slows one round of every N alike instead of one N's runs, and waiting for a core is
    not counted as work.
    """
    data = {}
    for n_values in args.segment_values:
        data[n_values] = (make_events(20_000, seed=1, segment_values=n_values,
                                      timestamps=args.timestamps),
                          make_events(args.events, seed=2, t0=1_770_000_100.0,
                                      segment_values=n_values, timestamps=args.timestamps),
                          config(args.window, n_values, args.max_cardinality))
    cpu: dict[int, list[float]] = {n: [] for n in data}
    wall: dict[int, list[float]] = {n: [] for n in data}
    rss: dict[int, float] = {}
    for _ in range(args.repeat):
        for n_values, (reference, messages, cfg) in data.items():
            gc.collect()
            before, c0 = _rss_mb(), time.process_time()
            wall[n_values].append(run_engine(messages, reference, args.batch, args.window, cfg))
            cpu[n_values].append(time.process_time() - c0)
            rss[n_values] = max(rss.get(n_values, 0.0), _rss_mb() - before)
    first = args.segment_values[0]
    rows = []
    for n_values in data:
        rate, rate_cpu = (args.events / statistics.median(t[n_values]) for t in (wall, cpu))
        rows.append({"segment_values": n_values,
                     "cardinality": min(n_values, args.max_cardinality),
                     "events_per_second": round(rate), "events_per_cpu_second": round(rate_cpu),
                     "ratio_to_first": round(statistics.median(wall[first]) / statistics.median(
                         wall[n_values]), 3),
                     "cpu_ratio_to_first": round(statistics.median(cpu[first]) / statistics.median(
                         cpu[n_values]), 3),
                     "rss_mb_growth": round(rss[n_values], 1)})
        print(f"  {n_values:>7,} values: {rate:,.0f} ev/s ({rate_cpu:,.0f} per CPU s), "
              f"ratio {rows[-1]['ratio_to_first']} (CPU {rows[-1]['cpu_ratio_to_first']})",
              file=sys.stderr, flush=True)
    return {"events": args.events, "window": args.window, "repeat": args.repeat,
            "segment_growth": rows, "cpu_count": os.cpu_count()}


def memory(args: argparse.Namespace) -> dict[str, object]:
    """Peak RSS while one window grows from 10k to 10M events (same batch fed repeatedly)."""
    reference = make_events(20_000, seed=1, timestamps=args.timestamps)
    block = make_events(10_000, seed=3, timestamps=args.timestamps)
    results = []
    for total in (10_000, 100_000, 1_000_000, 10_000_000):
        if total > args.memory_max:
            break
        window = str(total)  # a count window holding exactly `total` events
        engine = Engine(config(window), reference_events=reference)
        engine.prepare(block)
        gc.collect()
        before = _rss_mb()
        fed = 0
        while fed < total:
            engine.process(block)
            fed += len(block)
        state = len(json.dumps(engine.snapshot()))
        results.append({"window_events": total, "rss_mb_before": round(before, 1),
                        "rss_mb_after": round(_rss_mb(), 1), "state_bytes": state,
                        "windows_closed": engine.totals.windows})
        del engine
        gc.collect()
    return {"memory": results, "decoder": native.name(), "timestamps": args.timestamps}


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--window", default=None,
                   help="window of the engine: 1m (60,000 events at 1k/s); with "
                        "--segment-values 5s (5,000 events, as the growth table)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--timestamps", choices=["rfc3339", "epoch"], default="rfc3339",
                   help="RFC 3339 strings (what real events carry) or epoch seconds")
    p.add_argument("--memory", action="store_true", help="measure memory as the window grows")
    p.add_argument("--memory-max", type=int, default=10_000_000)
    p.add_argument("--segment-values", type=int, nargs="+", metavar="N",
                   help="one segment key with N Zipf-distributed values, for each N")
    p.add_argument("--max-cardinality", type=int, default=10_000,
                   help="limits.segment_cardinality is raised to N up to this")
    p.add_argument("--labels", action="store_true",
                   help="the labels layer on: event ids read, labels inline, an error rate")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    args.window = args.window or ("5s" if args.segment_values else "1m")
    result = memory(args) if args.memory else segment_growth(args) if args.segment_values \
        else throughput(args)
    if args.json:
        print(json.dumps(result))
    else:
        json.dump(result, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
