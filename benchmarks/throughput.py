"""Engine throughput, JSON decoding included: events/s on one core.

Workload (issue #2): 10 numeric + 2 categorical features, 2 segment keys;
monitors: PSI and KS on every numeric feature, PSI on every categorical one,
segment rate of the decision per segment key. Input: an in-memory list of
encoded messages, fed in batches as a source would. A reference is fitted from
a separate sample first, so the timed part is the steady state.

In the same process it also times two baselines on the same messages — a bare
``orjson.loads`` loop and Arrow's NDJSON parse alone — and prints driftline's
rate as a ratio of them, since absolute numbers on a shared machine are noisy.

    python benchmarks/throughput.py [--events N] [--batch N] [--json]
    python benchmarks/throughput.py --memory      # window 10k → 10M events: peak RSS
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

import numpy as np
import orjson
import pyarrow.json as pj

from driftline.config import load_config
from driftline.engine import Engine

REGIONS = [f"r{i}" for i in range(8)]
TIERS = ["gold", "silver", "bronze"]


def make_events(n: int, seed: int, t0: float = 1_770_000_000.0, rate: float = 1000.0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    num = rng.normal(0, 1, (n, 10)).round(4)
    cat_a = rng.choice(["x", "y", "z", "w"], n)
    cat_b = rng.choice(["p", "q"], n)
    region = rng.choice(REGIONS, n)
    tier = rng.choice(TIERS, n)
    pred = rng.random(n).round(4)
    ts = t0 + np.arange(n) / rate
    out = []
    for i in range(n):
        feats = {f"f{k}": float(num[i, k]) for k in range(10)}
        feats["cat_a"] = str(cat_a[i])
        feats["cat_b"] = str(cat_b[i])
        out.append(orjson.dumps({
            "event_id": f"e{i}", "model_id": "m", "model_version": "1",
            "timestamp": float(ts[i]), "features": feats, "prediction": float(pred[i]),
            "decision": "yes" if pred[i] > 0.6 else "no",
            "segments": {"region": str(region[i]), "tier": str(tier[i])}, "latency_ms": 3.0}))
    return out


def config(window: str | int) -> object:
    monitors = []
    for k in range(10):
        monitors += [{"name": f"psi-f{k}", "signal": f"feature:f{k}", "detector": "psi"},
                     {"name": f"ks-f{k}", "signal": f"feature:f{k}", "detector": "ks"}]
    monitors += [{"name": "psi-cat_a", "signal": "feature:cat_a", "detector": "psi"},
                 {"name": "psi-cat_b", "signal": "feature:cat_b", "detector": "psi"},
                 {"name": "rate-region", "signal": "decision=yes", "detector": "segment_rate",
                  "segment_by": "region"},
                 {"name": "rate-tier", "signal": "decision=yes", "detector": "segment_rate",
                  "segment_by": "tier"}]
    return load_config(None, **{"monitors": monitors, "window.size": window,
                                "window.lateness": "1s"})


def run_engine(messages: list[bytes], reference: list[bytes], batch: int, window: str) -> float:
    engine = Engine(config(window), reference_events=reference)
    engine.prepare(messages[:batch])
    gc.collect()
    t = time.perf_counter()
    for i in range(0, len(messages), batch):
        engine.process(messages[i:i + batch])
    engine.finish()
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


def throughput(args: argparse.Namespace) -> dict[str, object]:
    reference = make_events(20_000, seed=1)
    messages = make_events(args.events, seed=2, t0=1_770_000_100.0)
    runs = {"driftline": [], "orjson_loads": [], "arrow_parse": []}
    for _ in range(args.repeat):
        runs["driftline"].append(run_engine(messages, reference, args.batch, args.window))
        runs["orjson_loads"].append(run_orjson(messages))
        runs["arrow_parse"].append(run_arrow(messages, args.batch))
    rate = {k: len(messages) / statistics.median(v) for k, v in runs.items()}
    return {
        "events": len(messages), "batch": args.batch, "window": args.window,
        "repeat": args.repeat, "bytes_per_event": round(sum(map(len, messages)) / len(messages)),
        "events_per_second": round(rate["driftline"]),
        "baselines_events_per_second": {k: round(v) for k, v in rate.items() if k != "driftline"},
        "ratio_to_orjson_loads": round(rate["driftline"] / rate["orjson_loads"], 3),
        "ratio_to_arrow_parse": round(rate["driftline"] / rate["arrow_parse"], 3),
        "cpu_count": os.cpu_count(),
    }


def memory(args: argparse.Namespace) -> dict[str, object]:
    """Peak RSS while one window grows from 10k to 10M events (same batch fed repeatedly)."""
    reference = make_events(20_000, seed=1)
    block = make_events(10_000, seed=3)
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
    return {"memory": results}


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--window", default="1m", help="window of the engine (60,000 events at 1k/s)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--memory", action="store_true", help="measure memory as the window grows")
    p.add_argument("--memory-max", type=int, default=10_000_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = memory(args) if args.memory else throughput(args)
    if args.json:
        print(json.dumps(result))
    else:
        json.dump(result, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
