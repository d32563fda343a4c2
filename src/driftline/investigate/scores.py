"""What the report shows of a score-histogram monitor (``auc``, ``calibration``): per coarse
score bin, the window's and the reference's labelled classes, mean score and positive rate.

Read from the detectors' own sketch (``ScoreHistogram``) with their own helpers — the
orientation (``oriented``/``labelled``), the AUC (``auc_stats``), the coarse bins
(``Calibration.read``: groups of ``grid/bins`` fine bins, the reference's ``1/bins``
quantiles) — so the view shows the numbers the detector judged. The only arithmetic added is
for people: each bin's share of a class, its part of the ECE, which bins to mark.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from driftline.detectors.auc import AUC, auc_stats, labelled, oriented
from driftline.detectors.calibration import Calibration, CalibrationBins
from driftline.detectors.sketches import FloatArray, IntArray, ScoreHistogram
from driftline.incidents import Finding
from driftline.investigate.models import ScoreBin, ScoreView
from driftline.investigate.recompute import Setup, WindowResult
from driftline.investigate.views import bin_label, finite
from driftline.monitors import Monitor

COARSE = 10  # an auc monitor's histogram shown in (at most) this many bins, as calibration's


def coarse_bins(grid: int, wanted: int = COARSE) -> int:
    """How many coarse bins a ``grid`` of fine bins is shown in: its largest divisor ≤ wanted."""
    return max(d for d in range(1, wanted + 1) if grid % d == 0)


def _rows(setup: Setup, m: Monitor, segment: Mapping[str, str]) -> tuple[bool, IntArray | None]:
    """Whether the incident's segment is known, and its code as one row (None: all traffic)."""
    key = m.cfg.segment_by
    if key is None:
        return True, None
    code = setup.decoder.segment_values[key].index.get(segment.get(key, ""))
    return code is not None, None if code is None else np.array([code], np.int64)


def _high_class(setup: Setup, flip: bool) -> str:
    """The class the view counts as positive: the positive one, or the other when flipped."""
    positive = setup.decoder.positive or "positive"
    if not flip:
        return positive
    others = [n for n in setup.decoder.labels.names if n != positive]
    return others[0] if len(others) == 1 else f"not {positive}"


def score_view(setup: Setup, m: Monitor, model: str, win: WindowResult,
               segment: Mapping[str, str], f: Finding | None) -> ScoreView | None:
    """The opening window's score histograms against the reference's, in the incident's
    segment (None for a monitor of another detector)."""
    det = m.detector
    ref = setup.reference.sketch(model, m.slot)
    known, rows = _rows(setup, m, segment)
    if not isinstance(det, AUC | Calibration) or not isinstance(ref, ScoreHistogram) \
            or not known:
        return None
    cur = win.pane.sketches.get((model, m.slot))
    cur = cur if isinstance(cur, ScoreHistogram) else ref.empty()
    flip = oriented(ref)
    reader = det if isinstance(det, Calibration) else \
        Calibration(bins=coarse_bins(ref.bins), grid=ref.bins)
    r, c = reader.read(ref, rows, flip), reader.read(cur, rows, flip)
    a_ref, a_cur = auc_stats(*labelled(ref, rows, flip)), auc_stats(*labelled(cur, rows, flip))
    step = ref.bins // reader.bins
    inner = ref.edges[step - 1::step]
    lows, highs = np.concatenate([[-np.inf], inner]), np.concatenate([inner, [np.inf]])
    named = _named(f, lows, highs) if isinstance(det, Calibration) else None
    return ScoreView(detector=det.name, score_of="other" if flip else "positive",
                     high_class=_high_class(setup, flip), auc=finite(a_cur.auc[0]),
                     reference_auc=finite(a_ref.auc[0]), ece=finite(c.ece[0]),
                     reference_ece=finite(r.ece[0]), bins=_bins(r, c, lows, highs, named))


def _named(f: Finding | None, lows: FloatArray, highs: FloatArray) -> set[int]:
    """The coarse bins a calibration finding names as adding most to its ECE."""
    out: set[int] = set()
    for t in (f.evaluation.top_contributors if f is not None else ()):
        lo, hi = (-np.inf if x == "-inf" else np.inf if x == "inf" else float(x)
                  for x in t.get("bin", (None, None)))
        out |= {i for i in range(len(lows)) if lows[i] == lo and highs[i] == hi}
    return out


def _share(x: FloatArray) -> FloatArray:
    total = x.sum()
    return x / total if total else np.zeros_like(x)


def _top(x: FloatArray, k: int = 3) -> set[int]:
    return {int(i) for i in np.argsort(-x, kind="stable")[:k] if x[i] > 0}


def _bins(r: CalibrationBins, c: CalibrationBins, lows: FloatArray, highs: FloatArray,
          named: set[int] | None) -> list[ScoreBin]:
    """One row per coarse bin with events on either side; ``named``: the calibration bins
    to mark (None: an auc view, the three bins whose class shares moved most)."""
    pos, neg = c.positives[0], c.n[0] - c.positives[0]
    rpos, rneg = r.positives[0], r.n[0] - r.positives[0]
    ps, ns, rps, rns = _share(pos), _share(neg), _share(rpos), _share(rneg)
    total = c.n[0].sum()
    gap = np.where(c.n[0] > 0, np.abs(c.mean_score[0] - c.rate[0]), 0.0)
    part = c.n[0] * gap / total if total else np.zeros_like(gap)
    if named is None:
        named = _top(np.abs(ps - rps) + np.abs(ns - rns))
    elif not named:  # a calibration finding that names none: the bins adding most to its ECE
        named = _top(part)
    return [ScoreBin(
        label=bin_label(lows[b], highs[b]), low=finite(lows[b]), high=finite(highs[b]),
        positives=int(pos[b]), negatives=int(neg[b]), reference_positives=int(rpos[b]),
        reference_negatives=int(rneg[b]), positive_share=float(ps[b]),
        negative_share=float(ns[b]), reference_positive_share=float(rps[b]),
        reference_negative_share=float(rns[b]), mean_score=finite(c.mean_score[0, b]),
        positive_rate=finite(c.rate[0, b]), reference_mean_score=finite(r.mean_score[0, b]),
        reference_positive_rate=finite(r.rate[0, b]), ece_contribution=float(part[b]),
        contributing=b in named)
        for b in range(len(lows)) if c.n[0, b] or r.n[0, b]]
