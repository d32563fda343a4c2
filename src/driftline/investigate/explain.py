"""``driftline explain``: an incident's cited windows re-read, recomputed and compared.

The caller hands over the incident's history, the engine ``Setup`` for the reference it
obtained (``rebuild``) and a reader of positions (``sources``); this module decides what to read
(the cited positions and a margin of ``context`` windows around them), evaluates every cited
window exactly and the context windows closely (``recompute``), and compares what it finds with
what the incident says, quantity by quantity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from driftline.incidents import Finding
from driftline.investigate.history import IncidentHistory, kind_of, window_end, window_start
from driftline.investigate.models import Check, Explanation, Inputs, SeriesPoint
from driftline.investigate.recompute import (
    Decoded,
    Setup,
    Shape,
    WindowResult,
    decode,
    evaluate_window,
    matching,
)
from driftline.investigate.scores import score_view
from driftline.investigate.sources import Events, EventsGone
from driftline.investigate.summary import summary
from driftline.investigate.views import distribution, finite, segment_rows
from driftline.monitors import Monitor
from driftline.timestamps import iso

SEQUENTIAL = ("this detector decides with a change detector whose memory spans every window "
              "since the warm-up: values are recomputed, the judgement of windows the incident "
              "does not cite is not (their level is left empty)")
#: (lo, hi, (cited first, cited last)) → the events at those positions
Reader = Callable[[int, int, tuple[int, int]], Events]


@dataclass(frozen=True)
class Cited:
    """One lifecycle event of the incident and the positions its window cites."""

    event: dict[str, Any]
    first: int
    last: int

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.event["data"])


def cited_windows(history: IncidentHistory) -> list[Cited]:
    """Every detection event of the incident with its (single-partition) position range."""
    out = []
    for ev in history.detection:
        positions = ev["data"]["source_positions"]
        if len(positions) != 1:
            raise EventsGone(f"{ev['id']} cites {len(positions)} source ranges; driftline reads "
                             "one partition per engine")
        p = positions[0]
        out.append(Cited(ev, int(p["first_offset"]), int(p["last_offset"])))
    return out


def read_range(cited: list[Cited], k: int, context: int) -> tuple[int, int]:
    """Positions to read: the cited ones and about ``context`` windows' worth on each side."""
    lo, hi = min(c.first for c in cited), max(c.last for c in cited)
    per_pane = max((c.last - c.first + 1) / k for c in cited)
    margin = math.ceil((context + 1) * per_pane * 1.25)
    return max(0, lo - margin), hi + margin


def _close(a: Any, b: Any, rel: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def judged(level: int | None) -> str:
    return "insufficient" if level is None else "clean" if level == 0 else "breach"


def checks_of(c: Cited, f: Finding | None) -> list[Check]:
    """Quantity by quantity: the incident event's against the recomputed finding's."""
    d = c.data
    eid, kind = str(c.event["id"]), kind_of(c.event)
    if f is None:
        return [Check(event_id=eid, event_type=kind, quantity="value", cited=d["value"],
                      recomputed=None, ok=False)]
    e = f.evaluation
    pairs: list[tuple[str, Any, Any, bool]] = [
        ("value", d["value"], finite(e.value), _close(d["value"], finite(e.value), 1e-9)),
        ("n_current", d["counts"]["current"], e.n_current, d["counts"]["current"] == e.n_current),
        ("n_reference", d["counts"]["reference"], e.n_reference,
         d["counts"]["reference"] == e.n_reference),
        ("p_value", d["p_value"], finite(e.p_value), _close(d["p_value"], finite(e.p_value), 1e-6)),
        ("q_value", d["q_value"], finite(f.q_value), _close(d["q_value"], finite(f.q_value), 1e-6)),
    ]
    if e.verdict is None:  # a sequential detector's verdict needs its memory since the warm-up
        want = "clean" if kind == "resolved" else "breach"
        pairs.append(("judged", want, judged(f.level), want == judged(f.level)))
    return [Check(event_id=eid, event_type=kind, quantity=q, cited=a, recomputed=b, ok=ok)
            for q, a, b, ok in pairs]


def _verify_boundaries(c: Cited, d: Decoded, shape: Shape, e: int) -> None:
    """The events at a cited window's first and last positions must be events of that window."""
    pos = d.batch.positions
    for at in (c.first, c.last):
        idx = (pos == at).nonzero()[0]
        if idx.size == 0 or not shape.member(d.pane_ids[idx], e).all():
            raise EventsGone(f"position {at} is not an event of the window "
                             f"{c.data['window']['start']}–{c.data['window']['end']} it cites: "
                             "the events changed since the incident was raised")


@dataclass(frozen=True)
class Context:
    """Everything ``explain`` needs besides the incident."""

    setup: Setup
    read: Reader
    origin: Mapping[str, Any]
    inputs: Inputs
    context: int = 2
    cut: float | None = None  # the warm-up's end: windows before it were never evaluated


def explain(history: IncidentHistory, ctx: Context) -> Explanation:
    """Recompute every cited window and the windows around them; compare with the incident."""
    first = history.first["data"]
    m = ctx.setup.monitor(first["monitor"])
    shape = Shape.of(ctx.setup.config, m, first["window"])
    cited = cited_windows(history)
    lo, hi = read_range(cited, shape.windows.k, ctx.context)
    opening = next(c for c in cited if c.event is history.first)
    events = ctx.read(lo, hi, (min(c.first for c in cited), max(c.last for c in cited)))
    d = decode(ctx.setup, events, shape, (opening.first, window_start(first["window"])))
    results: dict[int, WindowResult] = {}
    checks: list[Check] = []
    found: dict[int, Finding | None] = {}
    for c in cited:
        e = shape.index(c.data["window"])
        _verify_boundaries(c, d, shape, e)
        results[e] = evaluate_window(ctx.setup, m, d, shape, e, (c.first, c.last), ctx.origin)
        f = matching(results[e].findings, m.name, first["model_id"], first["segment"])
        found[id(c)] = f
        checks += checks_of(c, f)
    series = _series(history, ctx, m, d, shape, results, cited)
    win = results[shape.index(first["window"])]
    f_open = found[id(opening)]
    checks += _provenance(opening, ctx)
    bad = [ch for ch in checks if not ch.ok]
    ex = Explanation(
        incident_id=history.incident_id, monitor=m.name, model_id=first["model_id"],
        segment=first["segment"], detector=first["detector"], signal=first["signal"],
        statistic=first["statistic"], value_cited=first["value"],
        value_recomputed=float(f_open.evaluation.value) if f_open is not None else None,
        reproduced=not bad, outcome="differs" if bad else "reproduced",
        reason="; ".join(_why(ch) for ch in bad) or None, checks=checks,
        thresholds={"warning": m.warning, "critical": m.critical, "direction": m.direction},
        series=series,
        segments=segment_rows(ctx.setup, m, first["model_id"], win, first["segment"]),
        distribution=distribution(ctx.setup, m, first["model_id"], win, first["segment"], f_open),
        scores=score_view(ctx.setup, m, first["model_id"], win, first["segment"], f_open),
        versions={"window": sorted(ctx.setup.decoder.versions.names[v]
                                   for v in win.pane.facts(first["model_id"]).versions),
                  "reference": list(ctx.setup.reference.decoder.get("versions", {})
                                    .get("names", []))},
        notes=[SEQUENTIAL] if f_open is not None and f_open.evaluation.verdict is not None else [],
        inputs=ctx.inputs.model_copy(update={"events": {
            **ctx.inputs.events, "read": [int(events.positions[0]), int(events.positions[-1])]
            if len(events.messages) else None}}),
        summary="")
    return ex.model_copy(update={"summary": summary(history, ex)})


def _provenance(opening: Cited, ctx: Context) -> list[Check]:
    ev = opening.data["evidence"]
    eid = str(opening.event["id"])
    return [Check(event_id=eid, event_type="opened", quantity=q, cited=a, recomputed=b, ok=a == b)
            for q, a, b in (("reference_id", ev["reference_id"], ctx.setup.reference.id),
                            ("config_hash", ev["config_hash"], ctx.setup.config_hash))]


def _why(ch: Check) -> str:
    if ch.quantity == "reference_id":
        return (f"the reference used ({ch.recomputed}) is not the incident's ({ch.cited}): "
                "pass the reference it was judged against (--reference)")
    if ch.quantity == "config_hash":
        return (f"the config ({ch.recomputed}) is not the one the incident was raised with "
                f"({ch.cited}): pass it (--config)")
    return f"{ch.quantity} of the {ch.event_type} window: cited {ch.cited}, recomputed {ch.recomputed}"


def _series(history: IncidentHistory, ctx: Context, m: Monitor, d: Decoded, shape: Shape,
            results: dict[int, WindowResult], cited: list[Cited]) -> list[SeriesPoint]:
    first = history.first["data"]
    by_window: dict[int, list[str]] = {}
    for c in cited:
        by_window.setdefault(shape.index(c.data["window"]), []).append(kind_of(c.event))
    lo, hi = min(by_window) - ctx.context, max(by_window) + ctx.context
    out = []
    for e in range(lo, hi + 1):
        start, end = shape.bounds(e)
        if ctx.cut is not None and start < ctx.cut:
            continue
        r = results.get(e)
        if r is None:
            if d.final < end:
                continue  # the mark never passed its end: the engine never closed it
            r = evaluate_window(ctx.setup, m, d, shape, e, None, ctx.origin)
        if r.events == 0:
            continue
        f = matching(r.findings, m.name, first["model_id"], first["segment"])
        ev = f.evaluation if f is not None else None
        level = f.level if f is not None else None
        if ev is not None and ev.verdict is not None:
            # a sequential detector's verdict rests on its memory since the warm-up: only the
            # cited windows' judgement is known (the incident's), the others' is not recomputed
            kinds = by_window.get(e, [])
            level = None if not kinds else 0 if kinds == ["resolved"] else max(1, m.level(ev.value))
        out.append(SeriesPoint(
            index=e, start=_key(start, shape.kind), end=_key(end, shape.kind),
            value=float(ev.value) if ev is not None and math.isfinite(ev.value) else None,
            p_value=ev.p_value if ev is not None else None,
            q_value=f.q_value if f is not None else None, level=level,
            n_current=ev.n_current if ev is not None else None, exact=r.exact,
            cited=by_window.get(e, [])))
    return out


def _key(x: float, kind: str) -> str:
    return str(int(x)) if kind == "count" else iso(x)


def cited_series(history: IncidentHistory) -> list[SeriesPoint]:
    """The series as the lifecycle events state it (when the events cannot be re-read)."""
    out = []
    for ev in history.detection:
        d = ev["data"]
        w = d["window"]
        out.append(SeriesPoint(index=int(window_end(w)), start=w["start"], end=w["end"],
                               value=d["value"], p_value=d["p_value"], q_value=d["q_value"],
                               n_current=d["counts"]["current"], exact=True,
                               cited=[kind_of(ev)]))
    return out


def gone(history: IncidentHistory, reason: str, inputs: Inputs) -> Explanation:
    """What can be said when the cited events cannot be read back: the incident's own account."""
    first = history.first["data"]
    ex = Explanation(
        incident_id=history.incident_id, monitor=first["monitor"], model_id=first["model_id"],
        segment=first["segment"], detector=first["detector"], signal=first["signal"],
        statistic=first["statistic"], value_cited=first["value"], value_recomputed=None,
        reproduced=False, outcome="events_gone", reason=reason,
        thresholds={"warning": None, "critical": None, "direction": first["direction"],
                    "cited": first["threshold"]},
        series=cited_series(history), inputs=inputs, summary="")
    return ex.model_copy(update={"summary": summary(history, ex)})
