"""The report's first paragraph: what moved, where, how much, since when, how severe and why.

Written from the incident's own events and the recomputation, in words a person on call reads
before any figure.
"""

from __future__ import annotations

from typing import Any

from driftline.investigate.history import IncidentHistory, kind_of
from driftline.investigate.models import Explanation

SIGNALS = {"prediction": "the model's prediction (score)", "decision": "the decision mix",
           "latency_ms": "serving latency", "volume": "traffic volume"}


def signal_text(signal: str) -> str:
    if signal.startswith("feature:"):
        return f"feature {signal.removeprefix('feature:')}"
    if signal.startswith("decision="):
        return f"the rate of decision {signal.split('=', 1)[1]!r}"
    return SIGNALS.get(signal, signal)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def what_moved(ex: Explanation, data: dict[str, Any]) -> str:
    """One sentence on the change itself, in the detector's own terms."""
    seg = ", ".join(f"{k}={v}" for k, v in ex.segment.items())
    mine = next((r for r in ex.segments if r.incident), None)
    details = data["evidence"]["details"]
    if ex.detector == "segment_rate" and mine is not None:
        return (f"For {seg}, {signal_text(ex.signal)} went from {_pct(mine.reference_rate)} in the "
                f"reference to {_pct(mine.rate)} (95% interval {_pct(mine.rate_low)}–"
                f"{_pct(mine.rate_high)}); the segment is {_pct(mine.traffic_share)} of the traffic.")
    if ex.detector == "disparate_impact" and details.get("question") == "vs_reference":
        return (f"{seg}'s selection rate relative to the most-selected group "
                f"({details.get('reference_group')}) went from "
                f"{details.get('reference_ratio', float('nan')):.2f}× in the reference to "
                f"{details.get('ratio', float('nan')):.2f}× ({ex.value_cited:.2f} of its "
                "reference ratio).")
    if ex.detector == "disparate_impact" and mine is not None:
        return (f"{seg} was selected at {_pct(mine.rate)}, {ex.value_cited:.2f}× the rate of the "
                f"most-selected group ({details.get('reference_group')}, "
                f"{_pct(mine.reference_rate)}); the four-fifths rule asks for 0.8×.")
    if ex.detector == "segment_volume":
        return (f"{seg}'s share of the traffic went from {_pct(details.get('reference_share'))} to "
                f"{_pct(details.get('current_share'))}"
                + (" — it went silent." if details.get("silent") else "."))
    if ex.detector == "gradual":
        return (f"The mean of {signal_text(ex.signal)} moved by {ex.value_cited:.3g} reference "
                f"standard deviations ({details.get('reference_mean'):.4g} → "
                f"{details.get('current_mean'):.4g}), a creep no single window shows.")
    if ex.scores is not None:
        return scores_text(ex)
    moved = [b for b in ex.distribution if b.contributing]
    where = "; ".join(f"{b.label}: {_pct(b.reference_share)} → {_pct(b.current_share)}"
                      for b in moved[:3])
    scope = f" for {seg}" if seg else ""
    return (f"The distribution of {signal_text(ex.signal)}{scope} moved"
            + (f", most in {where}." if where else "."))


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def scores_text(ex: Explanation) -> str:
    """An auc or calibration incident: the statistic in the reference and the window, and the
    score bins marked (where the class shares moved most, or that add most to the ECE)."""
    v = ex.scores
    assert v is not None
    marked = [b for b in v.bins if b.contributing]
    if v.detector == "auc":
        where = "; ".join(f"{b.label}: positives {_pct(b.reference_positive_share)} → "
                          f"{_pct(b.positive_share)}, negatives "
                          f"{_pct(b.reference_negative_share)} → {_pct(b.negative_share)}"
                          for b in marked)
        return (f"The score's AUC (positives: {v.high_class}) went from {_num(v.reference_auc)} "
                f"in the reference to {_num(v.auc)}; the class shares moved most in score bins "
                f"{where}.")
    where = "; ".join(f"{b.label}: mean score {_num(b.mean_score)}, positive rate "
                      f"{_pct(b.positive_rate)} (reference {_pct(b.reference_positive_rate)})"
                      for b in marked)
    return (f"The score's calibration error (ECE, positives: {v.high_class}) went from "
            f"{_num(v.reference_ece)} in the reference to {_num(v.ece)}; most in score bins "
            f"{where}.")


def lifecycle_text(history: IncidentHistory) -> str:
    first, last = history.first, history.last
    n = last["data"]["evidence"]["breaching_windows"]
    opened = f"It opened at {first['time']} (window {first['data']['window']['start']}–" \
             f"{first['data']['window']['end']})"
    escalations = [e for e in history.detection if kind_of(e) == "escalated"]
    esc = f", escalated {len(escalations)}×" if escalations else ""
    if kind_of(last) == "resolved":
        end = f" and resolved at {last['time']} after {n} breaching window{'s' * (n != 1)}."
    else:
        end = f" and is still open after {n} breaching window{'s' * (n != 1)}."
    status = history.status
    human = f" Status: {status}." if status not in ("open", "resolved") else ""
    return opened + esc + end + human


def reproduced_text(ex: Explanation) -> str:
    if ex.outcome == "reproduced":
        return ("Recomputed from the cited events against the same reference and config: "
                "reproduced exactly.")
    if ex.outcome == "events_gone":
        return f"The cited events cannot be read back ({ex.reason}); the figures are as cited."
    return f"Recomputed from the cited events: NOT reproduced — {ex.reason}."


def summary(history: IncidentHistory, ex: Explanation) -> str:
    """The plain-language summary of an incident and of its recomputation."""
    d = history.first["data"]
    seg = ", ".join(f"{k}={v}" for k, v in ex.segment.items()) or "all traffic"
    thr = ex.thresholds
    limits = (f"warning {thr['warning']:g}, critical {thr['critical']:g}"
              if thr.get("warning") is not None else f"threshold {d['threshold']:g}")
    value = "n/a" if ex.value_cited is None else f"{ex.value_cited:.4g}"
    # the severity and its reason as last judged while breaching (a resolution is not a verdict)
    peak = [e for e in history.detection if kind_of(e) != "resolved"] or history.detection
    sev, why = peak[-1]["data"]["severity"], peak[-1]["data"]["triage"]["reason"]
    return " ".join([
        f"{signal_text(ex.signal).capitalize()} of model {ex.model_id} moved for {seg}: "
        f"monitor {ex.monitor} ({ex.detector}) measured {ex.statistic} = {value} ({limits}).",
        what_moved(ex, d), lifecycle_text(history),
        f"Severity {sev}: {why}.",
        reproduced_text(ex)])
