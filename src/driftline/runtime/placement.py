"""Where a model's events arrive: one input partition each, or spread (and judged in pieces).

The runtime keeps one engine per input partition, which is right only when the topic is
partitioned by model id: then a model's events meet in one engine. A topic keyed by request
id, or not keyed at all, spreads every model over all partitions; each engine then judges a
fraction of the model's events against the whole reference — every drift is reported once per
partition and smaller samples raise false alarms. Nothing in the statistics shows it, so this
module looks for the two pieces of evidence a consumer can see and says so (a metric, one
error log line per finding, the exit summary):

- ``several_partitions``: one model's events decoded from more than one partition this
  instance holds;
- ``keys``: on a topic of more than one partition, the keys of a batch's messages are null
  (round robin) or more distinct than its models (so some model has several keys, which the
  producer's partitioner may send anywhere) — the finding an instance holding a single
  partition can still make. A few evenly spaced messages per batch are enough: keys per
  event differ in any two of them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.io.kafka_source import PartitionBatch
from driftline.metrics import Metrics

KEY_SAMPLE = 8  # messages per batch whose keys are compared
REASONS = ("several_partitions", "keys")


@dataclass
class Placement:
    """What this instance saw of the input's partitioning, per model and per reason."""

    metrics: Metrics
    log: Any
    #: model → the input partitions its events came from (bounded: models are capped)
    partitions: dict[str, set[int]] = field(default_factory=dict)
    #: the first evidence of each reason found, for the summary
    evidence: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for reason in REASONS:  # a topic keyed by model shows 0, not "no data"
            self.metrics.input_split.labels(reason).set(0)

    def observe(self, pb: PartitionBatch, models: Collection[str], skip: Collection[int],
                topic_partitions: int) -> None:
        """One batch of partition ``pb.partition`` decoded into events of ``models``;
        ``skip``: offsets of its dead letters (their keys say nothing about a model)."""
        if not models:
            return  # still in the prelude: nothing decoded yet
        for model in models:
            seen = self.partitions.setdefault(model, set())
            if pb.partition not in seen:
                seen.add(pb.partition)
                self.metrics.model_partitions.labels(model).set(len(seen))
                if len(seen) == 2:
                    self._found("several_partitions", f"model {model!r} in partitions "
                                f"{sorted(seen)}", model=model, partitions=sorted(seen))
        if topic_partitions > 1 and "keys" not in self.evidence:
            self._check_keys(pb, len(models), skip)

    def _check_keys(self, pb: PartitionBatch, n_models: int, skip: Collection[int]) -> None:
        picks = np.unique(np.linspace(0, len(pb) - 1, min(KEY_SAMPLE, len(pb))).astype(int))
        keys = [pb.messages[i].key() for i in picks.tolist()
                if int(pb.offsets[i]) not in skip]
        if None in keys:
            self._found("keys", f"partition {pb.partition}: messages without a key "
                        "(spread round robin)", partition=pb.partition)
        elif len(set(keys)) > n_models:
            self._found("keys", f"partition {pb.partition}: {len(set(keys))} distinct keys "
                        f"among {len(keys)} messages of {n_models} model(s)",
                        partition=pb.partition)

    def _found(self, reason: str, detail: str, **fields: Any) -> None:
        self.metrics.input_split.labels(reason).set(1)
        if reason not in self.evidence:
            self.evidence[reason] = detail
        self.log.error("input not partitioned by model: each partition's events are judged "
                       "alone, so a drift is reported once per partition and smaller samples "
                       "raise false alarms; key the input topic by model id (docs/kafka.md)",
                       reason=reason, detail=detail, **fields)

    def summary(self) -> dict[str, Any]:
        """The exit summary's view: the models seen in several partitions, the evidence."""
        split = {m: sorted(p) for m, p in sorted(self.partitions.items()) if len(p) > 1}
        return {"split_models": split, "evidence": dict(self.evidence)}
