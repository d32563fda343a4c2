"""Two stages in process: their cost against one engine, and the size of a pane summary.

The demo stream (seed 7, ~300,000 events; its first 4 windows the reference) is spread
over ``--partitions`` partitions by event id, as a topic keyed by request id spreads it.
In one process, on one core, the same messages go

- through **one engine**, in batches (the baseline), and
- through **one ingest engine per partition** (``stages.IngestEngine``), round robin, a batch
  of each partition at a time, every pane summary serialized to JSON bytes and parsed again
  (what a pane topic would carry), into **one evaluator** (``stages.PaneEvaluator``).

Every engine fits its reference before the clock starts (each ingest engine and the
evaluator fit their own from the same events: a one-off cost per engine). It prints
events/s of both, their ratio (the two stages' cost: more decode calls on
smaller batches, summaries by name, JSON, the merge), the incidents of each (equal ids, or
the run says so), and the pane summary records' bytes: per record (one model's pane of one
window group), total per pane, and per event.

    python benchmarks/two_stages.py [--partitions 4] [--batch 2000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from driftline import demo
from driftline.config import load_config
from driftline.engine import Engine
from driftline.stages import IngestEngine, PaneEvaluator

CONFIG = Path(__file__).parents[1] / "configs" / "demo.yaml"


def demo_stream() -> tuple[list[bytes], list[bytes]]:
    """(reference events: the first 4 windows, the rest)."""
    windows = [ms for _, ms in demo.stream(7)]
    return [m for ms in windows[:4] for m in ms], [m for ms in windows[4:] for m in ms]


def spread(messages: list[bytes], partitions: int) -> list[list[bytes]]:
    parts: list[list[bytes]] = [[] for _ in range(partitions)]
    for m in messages:
        eid = orjson.loads(m)["event_id"].encode()
        parts[int.from_bytes(hashlib.blake2b(eid, digest_size=4).digest(), "big")
              % partitions].append(m)
    return parts


def one_engine(reference: list[bytes], messages: list[bytes], batch: int,
               ) -> tuple[float, list[str]]:
    e = Engine(load_config(CONFIG), reference_events=reference)
    e.prepare([])  # the reference fitted before the clock starts, as for the two stages
    t0 = time.perf_counter()
    ids = []
    for i in range(0, len(messages), batch):
        ids += [ev["id"] for ev in e.process(messages[i:i + batch]).incidents]
    ids += [ev["id"] for ev in e.finish().incidents]
    return time.perf_counter() - t0, ids


def two_stages(reference: list[bytes], parts: list[list[bytes]], batch: int,
               ) -> tuple[float, list[str], list[tuple[int, int, int]]]:
    """Seconds, incident ids, and (group pane id, pane, bytes) of every summary record."""
    config = load_config(CONFIG)
    ingest = [IngestEngine(config, reference_events=reference) for _ in parts]
    evaluator = PaneEvaluator(config, range(len(parts)), reference_events=reference)
    for e in ingest:
        e.prepare([])
    records: list[tuple[int, int, int]] = []
    ids: list[str] = []

    def hand_on(p: int, panes: list[dict[str, Any]], mark: float | None) -> None:
        wire = [orjson.dumps(r) for r in panes]
        records.extend((hash(r["group"]), r["pane"], len(b)) for r, b in zip(panes, wire,
                                                                             strict=True))
        ids.extend(ev["id"] for ev in evaluator.add(p, [orjson.loads(b) for b in wire],
                                                     mark).incidents)

    t0 = time.perf_counter()
    per = max(1, batch // len(parts))  # the same events per round as one engine's batch
    for i in range(0, max(len(x) for x in parts), per):
        for p, part in enumerate(parts):
            if part[i:i + per]:
                out = ingest[p].process(part[i:i + per])
                hand_on(p, out.panes, out.watermark)
    finals = []
    for p, e in enumerate(ingest):
        out = e.finish()
        hand_on(p, out.panes, out.watermark)
        finals.append(out.watermark if out.watermark is not None else -np.inf)
    ids += [ev["id"] for ev in evaluator.finish(finals).incidents]
    return time.perf_counter() - t0, ids, records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    reference, messages = demo_stream()
    parts = spread(messages, args.partitions)
    base, staged = [], []
    for _ in range(args.repeat):  # interleaved: the machine's noise hits both alike
        s1, ids1 = one_engine(reference, messages, args.batch)
        s2, ids2, records = two_stages(reference, parts, args.batch)
        base.append(s1)
        staged.append(s2)
    per_pane: dict[tuple[int, int], int] = {}
    for g, pane, size in records:
        per_pane[(g, pane)] = per_pane.get((g, pane), 0) + size
    n = len(messages)
    result = {
        "events": n, "partitions": args.partitions, "batch": args.batch,
        "one_engine_events_per_s": round(n / statistics.median(base)),
        "two_stages_events_per_s": round(n / statistics.median(staged)),
        "two_stages_ratio_to_one_engine": round(statistics.median(base)
                                                / statistics.median(staged), 3),
        "same_incidents": sorted(ids1) == sorted(ids2), "incidents": len(ids1),
        "summary_records": len(records),
        "record_bytes_median": int(statistics.median(r[2] for r in records)),
        "record_bytes_max": max(r[2] for r in records),
        "bytes_per_pane_median": int(statistics.median(per_pane.values())),
        "bytes_per_event": round(sum(r[2] for r in records) / n, 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for k, v in result.items():
        print(f"{k:34s} {v}")


if __name__ == "__main__":
    main()
