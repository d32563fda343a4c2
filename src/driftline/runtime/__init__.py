"""The Kafka runtime (``driftline run``): consume, detect, and commit exactly once.

State model: one ``Engine`` per assigned input partition (the input is partitioned by
``model_id``, so a model's events meet in one engine). Its checkpoint — ``snapshot()`` and the
next offset — lives in a compacted changelog topic under ``<group>/<topic>/<partition>``.

Every ``kafka.commit_interval`` (and on revoke, SIGTERM and idle exit) ONE transaction holds
the incident CloudEvents, the dead letters, the checkpoints of the partitions whose state
changed, and the consumer offsets: the offsets advance only together with the state that
covers them. When a transaction fails everything is rewound to the last committed checkpoint
and the same input is processed again: the engine is deterministic, so the same incidents
with the same CloudEvent ids come out.

On assignment a partition's engine is restored from the changelog (read_committed, up to its
end) and consumption resumes at the checkpoint's offset, which equals the group's committed
offset (both are written by one transaction).

Modules, each using only those above it:

- ``part.py``: one partition's engine, committed base, progress and pending output;
- ``stats.py``: the counters, the exit summary, the lag gauges; ``stop.py``: signals and the
  shutdown deadline;
- ``placement.py``: says when the input is not partitioned by model (evidence, metrics);
- ``context.py``: what the others share (settings, clients, the partitions held);
- ``partitions.py``: assignment (restore from the changelog), revoke, loss;
- ``rewind.py``: back to the committed state after a failed transaction; fencing;
- ``resets.py``: the input topic recreated, or a position outside its log;
- ``commit.py``: the one transaction, in numbered steps;
- ``loop.py``: ``Runtime``, the poll → feed → commit loop and the rebalance callbacks.

Only this package and ``io/`` touch Kafka clients; the engine knows nothing of them.
"""

from driftline.runtime.loop import Runtime
from driftline.runtime.part import Part

__all__ = ["Part", "Runtime"]
