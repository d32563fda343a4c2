"""``explain --labels``: a performance incident recomputed from its events and their labels,
joined by the run's rule, with a reference file and with a warm-up reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labelled import T0, classification

from driftline.cli import main


def run(tmp_path: Path, *, reference: bool) -> dict[str, Path]:
    """A label-only change in the south (window 5 on), replayed with --labels."""
    cur = classification(10, 1500, seed=2, drift_from=5)
    f = {k: tmp_path / n for k, n in (("cur", "cur.jsonl"), ("labels", "labels.jsonl"),
                                      ("incidents", "incidents.jsonl"), ("config", "c.yaml"))}
    labels = list(cur.labels)
    args = ["replay", "--input", str(f["cur"]), "--labels", str(f["labels"]), "--config",
            str(f["config"]), "--incidents-out", str(f["incidents"]), "--quiet"]
    if reference:
        ref = classification(1, 8000, seed=1, size=3600, prefix="r", start=T0 - 86_400)
        f["ref"] = tmp_path / "ref.jsonl"
        f["ref"].write_bytes(b"\n".join(ref.events) + b"\n")
        labels += ref.labels
        args += ["--reference", str(f["ref"])]
    f["cur"].write_bytes(b"\n".join(cur.events) + b"\n")
    f["labels"].write_bytes(b"\n".join(labels) + b"\n")
    f["config"].write_text("window: {size: 1m}\nlabels: {ttl: 1h}\n"
                           "reference: {warmup_windows: 3}\n")
    assert main(args) == 0
    return f


def opened(f: dict[str, Path]) -> dict[str, str]:
    """Monitor (with its segment) → incident id, of the incidents opened."""
    out = {}
    for line in f["incidents"].read_text().splitlines():
        ev = json.loads(line)
        if ev["type"].endswith(".opened"):
            d = ev["data"]
            seg = "".join(f"{{{v}}}" for v in d["segment"].values())
            out[d["monitor"] + seg] = d["incident_id"]
    return out


def explain(f: dict[str, Path], incident: str, out: Path, *labels: str) -> int:
    args = ["explain", incident, "--incidents", str(f["incidents"]), "--input", str(f["cur"]),
            "--config", str(f["config"]), "--out", str(out), *labels]
    if "ref" in f:
        args += ["--reference", str(f["ref"])]
    return main(args)


@pytest.mark.parametrize("reference", [True, False], ids=["reference-file", "warm-up"])
def test_every_performance_incident_is_reproduced_with_its_labels(
        tmp_path: Path, reference: bool) -> None:
    f = run(tmp_path, reference=reference)
    found = opened(f)
    assert "error-rate-by-region{south}" in found, sorted(found)
    performance = {m: i for m, i in found.items()
                   if m.split("{")[0] in ("error-rate", "error-rate-by-region", "precision",
                                          "recall", "gradual-error")}
    for monitor, incident in performance.items():
        out = tmp_path / monitor
        assert explain(f, incident, out, "--labels", str(f["labels"])) == 0, monitor
        result = json.loads((out / "explain.json").read_text())
        assert result["outcome"] == "reproduced" and result["checks"], monitor
    bars = json.loads((tmp_path / "error-rate-by-region{south}" / "explain.json").read_text())
    names = {b["label"]: b for b in bars["distribution"]}
    assert set(names) == {"right", "wrong"} and names["wrong"]["contributing"]
    assert names["wrong"]["current_share"] > names["wrong"]["reference_share"] + 0.2


def test_without_the_labels_a_performance_incident_says_what_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = run(tmp_path, reference=True)
    incident = opened(f)["error-rate-by-region{south}"]
    assert explain(f, incident, tmp_path / "out") == 1
    assert "needs the labels the run joined (--labels FILE" in capsys.readouterr().err


def test_an_auc_incident_is_reproduced_with_its_labels(tmp_path: Path) -> None:
    """A ranking that degrades in the south: explain --labels recomputes auc-by-region's value
    from the cited events and their labels (its score histograms: test_explain_scores.py)."""
    from labelled import ranked

    ref = ranked(1, 16_000, seed=21, size=3600, prefix="r", start=T0 - 86_400)
    cur = ranked(8, 3000, seed=22, drift_from=4)
    f = {k: tmp_path / f"{k}.jsonl" for k in ("ref", "cur", "labels", "incidents")}
    f["config"] = tmp_path / "c.yaml"
    f["ref"].write_bytes(b"\n".join(ref.events) + b"\n")
    f["cur"].write_bytes(b"\n".join(cur.events) + b"\n")
    f["labels"].write_bytes(b"\n".join(ref.labels + cur.labels) + b"\n")
    f["config"].write_text("window: {size: 1m}\ndetection: {min_samples: 100}\n")
    assert main(["replay", "--input", str(f["cur"]), "--reference", str(f["ref"]), "--labels",
                 str(f["labels"]), "--config", str(f["config"]), "--incidents-out",
                 str(f["incidents"]), "--quiet"]) == 0
    incident = opened(f)["auc-by-region{south}"]
    out = tmp_path / "out"
    assert explain(f, incident, out, "--labels", str(f["labels"])) == 0
    result = json.loads((out / "explain.json").read_text())
    assert result["outcome"] == "reproduced" and result["statistic"] == "auc_difference"
