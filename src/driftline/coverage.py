"""Coverage: what each closed window could judge, and incidents when a monitor cannot see.

driftline's silence must mean "nothing changed", never "nothing was looked at". So every
closed window records, per monitor, the best outcome over the models it applies to:

- ``evaluated``: at least one test was judged (breach or clean);
- ``insufficient``: the window held the signal, but fewer events than the monitor needs
  (``min_samples``; for segment monitors, in every segment value);
- ``untestable``: events carried it, but the detector had nothing to test them against (a
  reference without variance, segments without their own or a pooled reference);
- ``no_events``: no event of the window carried the signal for a model of the reference;
- ``no_reference``: the reference holds no sketch of the signal for any model it applies to.

A monitor that goes ``detection.coverage_after`` consecutive windows without an evaluation
for a model opens a **coverage incident** (detector ``coverage``, monitor ``coverage``) for
that model — one per model, naming every blind monitor, since one cause (a renamed field, a
reference of another model) blinds many at once — through the same lifecycle, ids and triage
as a drift: its impact is the highest of the blind monitors', so a blind regulatory monitor is
a serious incident. It resolves after ``resolve_after`` windows in which every monitor of the
model was evaluated. Events of a model the reference does not hold are never compared: each
such model gets a coverage incident (monitor ``coverage-reference``), resolved once its
events stop.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from driftline.config import MonitorConfig, Remediation
from driftline.detectors.base import Evaluation
from driftline.incidents import Finding
from driftline.judge import Pending, Verdicts, WindowFacts
from driftline.monitors import Monitor
from driftline.reference import Reference
from driftline.state import Count, State, validated
from driftline.windows import Pane
from driftline.windows.groups import DEFAULT

OUTCOMES = ("evaluated", "insufficient", "untestable", "no_events", "no_reference")
RANK = {o: i for i, o in enumerate(reversed(OUTCOMES))}
DETECTOR = "coverage"
#: the pseudo-monitors coverage incidents are raised under: a model's blind monitors, and
#: a model the reference lacks
BLIND_MONITOR = "coverage"
MODEL_MONITOR = "coverage-reference"
#: the performance layer's blind monitors are an incident of their own: one cause (labels
#: that stop coming) blinds them all, and none of the rest
LABELS_MONITOR = "coverage-labels"
IMPACT_ORDER: tuple[Literal["regulatory", "customer", "business", "internal"], ...] = (
    "internal", "business", "customer", "regulatory")


class CoverageState(State):
    windows: dict[str, dict[str, Count]] = Field(default_factory=dict)
    segments: dict[str, dict[str, Count]] = Field(default_factory=dict)
    blind: dict[str, Count] = Field(default_factory=dict)  # '["monitor", "model"]' → streak
    unreferenced: dict[str, Count] = Field(default_factory=dict)  # model → events in total
    pending: dict[str, Count] = Field(default_factory=dict)  # model → events since last close


@dataclass(frozen=True)
class Tally:
    """What judgement made of one (monitor, model) in a window."""

    judged: int = 0  # tests with a level (breach or clean)
    insufficient: int = 0  # tests too small to judge
    n_current: int = 0  # the most events any of its tests saw

    def outcome(self) -> str:
        if self.judged:
            return "evaluated"
        return "insufficient" if self.n_current > 0 else "no_events"


def tally(verdicts: Verdicts, pending: Sequence[Pending]) -> dict[tuple[str, str], Tally]:
    """What judgement made of each (monitor, model) of a window: from the findings of
    unsegmented monitors (one per evaluation), from the judge's aggregate for segmented ones
    (their clean segments are judged as columns, not findings)."""
    out: dict[tuple[str, str], Tally] = {}
    for f in verdicts.findings:
        if f.monitor.segment_by is not None:
            continue
        k = (f.monitor.name, f.model)
        t = out.get(k, Tally())
        judged = f.level is not None
        out[k] = Tally(t.judged + judged, t.insufficient + (not judged),
                       max(t.n_current, f.evaluation.n_current))
    most = {(p.monitor.name, p.model): int(p.table.n_current.max()) if len(p.table) else 0
            for p in pending}
    for c in verdicts.coverage:
        out[(c.monitor, c.model)] = Tally(c.judged, c.too_small, most.get((c.monitor, c.model), 0))
    return out


class Coverage:
    """Outcome counts per monitor, blind streaks per (monitor, model), unreferenced models."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.windows: dict[str, Counter[str]] = {}
        self.segments: dict[str, Counter[str]] = {}
        self.blind: dict[tuple[str, str], int] = {}
        self.unreferenced: Counter[str] = Counter()  # model → events never compared
        self.pending: Counter[str] = Counter()  # … since the last window closed

    def declare(self, monitors: Sequence[Monitor]) -> None:
        for m in monitors:
            self.windows.setdefault(m.name, Counter())

    def seen(self, models: Iterable[tuple[str, int]], reference: Reference) -> list[str]:
        """Events accepted, per model: those of models the reference lacks are counted; the
        models seen for the first time are returned."""
        new = []
        for model, n in models:
            if model not in reference.models:
                if model not in self.unreferenced:
                    new.append(model)
                self.unreferenced[model] += n
                self.pending[model] += n
        return new

    def window(self, monitors: Sequence[Monitor], verdicts: Verdicts, pending: Sequence[Pending],
               reference: Reference, facts: Callable[[str], WindowFacts], content: Pane | None = None,
               group: str = DEFAULT) -> tuple[dict[str, str], list[Finding]]:
        """Outcome per monitor of one closed window, and its coverage finding per model."""
        tallies = tally(verdicts, pending)
        outcome: dict[str, str] = {}
        by_model: dict[tuple[str, str], list[tuple[Monitor, str, Tally]]] = {}
        for m in monitors:
            best = "no_reference"
            for model in sorted(set(reference.models) | set(m.cfg.models)):
                if not m.applies_to(model):
                    continue
                if reference.sketch(model, m.slot) is None:
                    o, t = "no_reference", Tally()
                else:
                    t = tallies.get((m.name, model), Tally())
                    o = t.outcome()
                    if (m.name, model) not in tallies and content is not None \
                            and (model, m.slot) in content.sketches:
                        o = "untestable"
                    if m.cfg.segment_by is not None:
                        self.segments.setdefault(m.name, Counter()).update(
                            {"evaluated": t.judged, "insufficient": t.insufficient})
                best = o if RANK[o] > RANK[best] else best
                self._streak(m.name, model, o)
                by_model.setdefault((model, m.layer), []).append((m, o, t))
            outcome[m.name] = best
            self.windows.setdefault(m.name, Counter())[best] += 1
        def name(layer: str) -> str:
            base = LABELS_MONITOR if layer == "performance" else BLIND_MONITOR
            return base if group == DEFAULT else f"{base}:{group}"

        return outcome, [self._model(name(layer), model, pairs, facts(model))
                         for (model, layer), pairs in by_model.items()]

    def _streak(self, monitor: str, model: str, outcome: str) -> None:
        key = (monitor, model)
        if outcome == "evaluated":
            self.blind.pop(key, None)
        else:
            self.blind[key] = self.blind.get(key, 0) + 1

    def _model(self, name: str, model: str, pairs: list[tuple[Monitor, str, Tally]],
               facts: WindowFacts) -> Finding:
        """One coverage finding per model: its monitors blind for ``after`` windows or more
        (one incident for one cause, however many monitors it blinds)."""
        blind = {m.name: (m, o, t, self.blind.get((m.name, model), 0)) for m, o, t in pairs}
        long = {k: v for k, v in blind.items() if v[3] >= self.after}
        some = any(v[3] for v in blind.values())
        level = 1 if long else None if some else 0
        details = {"coverage_after": self.after, "monitors": {
            name: {"outcome": o, "windows_without_evaluation": n, "min_samples": m.min_samples,
                   "n_current": t.n_current, "tests_too_small": t.insufficient}
            for name, (m, o, t, n) in sorted(long.items())}}
        ev = Evaluation(DETECTOR, "monitors_without_evaluation", float(len(long)), None, 0,
                        max((v[2].n_current for v in long.values()), default=0), details=details)
        cfg = pseudo_monitor(name, [v[0].cfg for v in long.values()], model)
        return finding(cfg, model, ev, level, float(self.after), facts)

    def models(self, monitors: Sequence[Monitor], facts: Callable[[str], WindowFacts]) -> list[Finding]:
        """Coverage findings of the models the reference lacks (at the default group's close)."""
        out = []
        for model in sorted(self.unreferenced):
            n = self.pending.pop(model, 0)
            cfg = pseudo_monitor(MODEL_MONITOR, [m.cfg for m in monitors if m.applies_to(model)],
                                 model)
            ev = Evaluation(DETECTOR, "events_without_reference", float(n), None, 0, n,
                            details={"events_total": self.unreferenced[model]})
            out.append(finding(cfg, model, ev, 1 if n else 0, 0.0, facts(model)))
        return out

    def blind_windows(self) -> dict[str, int]:
        """Per monitor: the longest current run of windows without evaluation over its models."""
        out = {name: 0 for name in self.windows}
        for (name, _), streak in self.blind.items():
            out[name] = max(out.get(name, 0), streak)
        return out

    def summary(self) -> dict[str, Any]:
        blind = self.blind_windows()
        monitors = {}
        for name, c in sorted(self.windows.items()):
            row: dict[str, Any] = {o: c.get(o, 0) for o in OUTCOMES}
            row["blind_windows_now"] = blind.get(name, 0)
            if name in self.segments:
                row["segment_tests"] = dict(self.segments[name])
            monitors[name] = row
        return {"coverage_after": self.after, "monitors": monitors,
                "models_without_reference": dict(sorted(self.unreferenced.items()))}

    def snapshot(self) -> dict[str, Any]:
        return {"windows": {k: dict(v) for k, v in self.windows.items()},
                "segments": {k: dict(v) for k, v in self.segments.items()},
                "blind": {json.dumps(list(k), ensure_ascii=False): n
                          for k, n in self.blind.items()},
                "unreferenced": dict(self.unreferenced), "pending": dict(self.pending)}

    def restore(self, snap: dict[str, Any]) -> None:
        s = validated(CoverageState, snap, "coverage")
        self.windows = {k: Counter(v) for k, v in s.windows.items()}
        self.segments = {k: Counter(v) for k, v in s.segments.items()}
        self.blind = {}
        for k, n in s.blind.items():
            name, model = json.loads(k)
            self.blind[(str(name), str(model))] = n
        self.unreferenced, self.pending = Counter(s.unreferenced), Counter(s.pending)


def pseudo_monitor(name: str, blinded: Sequence[MonitorConfig], model: str) -> MonitorConfig:
    """The monitor a coverage incident is raised under: its impact is the highest of the
    monitors it blinds (a blind regulatory monitor is a serious incident)."""
    impact = max((c.impact for c in blinded), key=IMPACT_ORDER.index) if blinded \
        else IMPACT_ORDER[0]
    return MonitorConfig.model_construct(
        name=name, models=[model], signal=name, detector="segment_volume", params={},
        segment_by=None, window=None, thresholds=None, min_samples=None, impact=impact,
        protected_attribute=any(c.protected_attribute for c in blinded),
        remediation=Remediation(playbook=["investigate"]))


def finding(cfg: MonitorConfig, model: str, ev: Evaluation, level: int | None,
            threshold: float, facts: WindowFacts) -> Finding:
    return Finding(monitor=cfg, model=model, signal=cfg.signal, segment={}, evaluation=ev,
                   level=level, threshold=threshold, critical=threshold, direction="above",
                   q_value=None, window=facts.window, versions=facts.versions,
                   positions=facts.positions, reference_id=facts.reference_id,
                   config_hash=facts.config_hash)
