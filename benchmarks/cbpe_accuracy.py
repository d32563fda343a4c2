"""How well the estimated error rate (``cbpe``) estimates, on the synthetic streams of its
tests (tests/unit/detectors/test_cbpe.py's ``draw``): the rejection rate on windows drawn
like the reference, the estimate against the hidden realised error rate under a covariate
shift (per score grid), and its (by design) blindness to a concept drift.

    python benchmarks/cbpe_accuracy.py [--windows 400]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "detectors"))
from test_cbpe import draw  # the tests' stream, not a copy of it

from driftline.detectors import CBPE, EvalContext


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=400)
    args = ap.parse_args()
    out: dict[str, object] = {}
    rng = np.random.default_rng(13)
    det = CBPE()
    ref = det.fit(draw(rng, 20_000), None)
    ps = []
    for _ in range(args.windows):
        s = det.new_sketch(ref)
        s.update(draw(rng, 1_000, labelled=0.0))
        ps.append(det.evaluate(s, ref, EvalContext())[0].p_value)
    out["null_rejection_at_0.05"] = float(np.mean(np.array(ps) < 0.05))
    shift = {}
    for grid in (10, 20, 40):
        rng = np.random.default_rng(11)
        det = CBPE(grid=grid)
        ref = det.fit(draw(rng, 30_000), None)
        cur = draw(rng, 5_000, spread=0.4)
        hidden = cur.copy()
        hidden[:, 2] = np.nan
        s = det.new_sketch(ref)
        s.update(hidden)
        e = det.evaluate(s, ref, EvalContext())[0]
        shift[grid] = {"estimated": round(e.details["estimated_error_rate"], 4),
                       "realised": round(float(np.nanmean(cur[:, 2])), 4),
                       "reference_estimated": round(e.details["reference_estimated_error_rate"],
                                                    4), "se": round(e.details["se"], 4)}
    out["covariate_shift_by_grid"] = shift
    rng = np.random.default_rng(12)
    det = CBPE()
    ref = det.fit(draw(rng, 30_000), None)
    s = det.new_sketch(ref)
    s.update(draw(rng, 5_000, flip=0.2))
    e = det.evaluate(s, ref, EvalContext())[0]
    out["concept_drift"] = {"realised": round(e.details["realised_error_rate"], 4),
                            "reference": round(e.details["reference_error_rate"], 4),
                            "estimate_change": round(e.value, 4), "p_value": round(e.p_value, 3)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
