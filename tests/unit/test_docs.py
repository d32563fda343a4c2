"""The docs match the repository: links resolve, and names they list are the code's names.

- every relative link of README.md and docs/*.md names a file of the repository, and an
  anchor (``#section``) names a heading of that file, by GitHub's slug rule;
- runbook URLs of the shipped configs that point into this repository's docs resolve too;
- docs/architecture.md names only files that exist;
- the invalid-event and dead-letter reasons docs/operations.md lists are the code's;
- every metric the README and docs/operations.md name is one driftline exports, and every
  metric driftline exports is in docs/operations.md's table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from driftline.decode import REASONS, REPORTS

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
REPO_URL = "https://github.com/driftline/driftline/blob/main/"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\*|_(?=\w)|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text, flags=re.UNICODE)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        s = slug(m.group(1))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def links(path: Path) -> list[str]:
    text = CODE.sub("", FENCE.sub("", path.read_text()))
    return [a or b for a, b in LINK.findall(text)]


def broken(source: Path, target: str, root: Path = ROOT) -> str | None:
    """Why ``target`` (a link written in ``source``) does not resolve, or None."""
    file_part, _, anchor = target.partition("#")
    dest = (source.parent / file_part).resolve() if file_part else source
    if root != dest and root not in dest.parents:
        return f"{target}: outside the repository"
    if not dest.exists():
        return f"{target}: no file {dest.relative_to(root)}"
    if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
        return f"{target}: no heading #{anchor} in {dest.relative_to(root)}"
    return None


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target)


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_relative_link_resolves(doc: Path) -> None:
    problems = [why for t in links(doc) if relative(t) and (why := broken(doc, t))]
    assert problems == []


def test_the_link_checker_finds_a_broken_link_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Top\n## Two words, `code`\n")
    src = tmp_path / "b.md"
    assert broken(src, "a.md#two-words-code", tmp_path) is None
    assert broken(src, "a.md#top", tmp_path) is None
    assert "no heading #three" in (broken(src, "a.md#three", tmp_path) or "")
    assert "no file missing.md" in (broken(src, "missing.md", tmp_path) or "")
    assert "outside" in (broken(src, "../x.md", tmp_path) or "")
    assert links(src.with_name("a.md")) == []
    src.write_text("see [a](a.md#top), `[x](not-a-link)` and ![img](a.md)\n")
    assert links(src) == ["a.md#top", "a.md"]


def shipped_configs() -> list[Path]:
    return [*sorted((ROOT / "configs").glob("*.yaml")),
            *sorted((ROOT / "src" / "driftline" / "configs").glob("*.yaml"))]


def test_runbook_urls_into_this_repository_resolve() -> None:
    urls = [m["remediation"]["runbook_url"] for c in shipped_configs()
            for m in (yaml.safe_load(c.read_text()) or {}).get("monitors", [])
            if (m.get("remediation") or {}).get("runbook_url", "").startswith(REPO_URL)]
    assert urls, "the demo's monitors link runbooks in docs/"
    problems = [why for u in urls if (why := broken(ROOT / "README.md",
                                                    u.removeprefix(REPO_URL)))]
    assert problems == []


def test_architecture_names_only_files_that_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    files = {p.name for p in ROOT.rglob("*.py") if ".venv" not in p.parts}
    named = set(re.findall(r"\b([A-Za-z_][\w]*\.py)\b", text))
    assert named and named - files == set()
    assert "shared/" not in text and "design.md" not in text


# -- reasons --------------------------------------------------------------------------------------
def table_row(doc: Path, metric: str) -> str:
    (row,) = [x for x in doc.read_text().splitlines() if x.startswith(f"| `{metric}` |")]
    return row


def codes(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", text))


OPERATIONS = ROOT / "docs" / "operations.md"
INVALID = set(REASONS) - set(REPORTS) - {"late"}


def test_operations_lists_the_codes_invalid_reasons() -> None:
    row = table_row(OPERATIONS, "driftline_events_invalid_total")
    assert codes(row.split("|")[3]) - {"reason"} == INVALID


def test_operations_lists_the_codes_dead_letter_reports() -> None:
    row = table_row(OPERATIONS, "driftline_dead_letters_total")
    assert codes(row.split("|")[3]) - {"reason"} == {"late", *REPORTS}


def test_the_invalid_events_runbook_names_only_real_reasons() -> None:
    text = OPERATIONS.read_text()
    section = text.split("### DriftlineInvalidEventRateHigh", 1)[1].split("\n### ", 1)[0]
    step = section.split("**Do.**", 1)[1].split("\n2. ", 1)[0]
    named = {c for c in codes(step) if not c.startswith("driftline_")}
    assert named - {"late"} == INVALID  # 'schema' was listed, three reasons were not
    assert "Late events are not invalid" in " ".join(step.split())


# -- metrics --------------------------------------------------------------------------------------
def exported() -> set[str]:
    """Every family name driftline's registry exposes (with a monitor, so every family shows)."""
    from driftline.judge import Coverage
    from driftline.metrics import EngineGauges, Metrics

    metrics = Metrics(CollectorRegistry())
    labels = ("m", "x", "psi", "prediction", "__all__")
    metrics.watch(lambda: [EngineGauges(("m",), {("m", "low"): 1},
                                        {("m", "x"): {labels: (0.1, 0, "above")}},
                                        {("m", "x"): Coverage("m", "x", 1, 0, 0, 0.5)})])
    metrics.consumer_lag.labels("t", "0").set(0)
    metrics.consumer_position.labels("t", "0").set(0)
    metrics.watermark.labels("x").set(0)
    metrics.last_event.labels("x").set(0)
    metrics.threshold.labels("m", "x", "psi", "prediction", "warning", "above").set(0.1)
    metrics.blind_windows.labels("m").set(0)
    out = set()
    for family in metrics.registry.collect():
        suffix = {"counter": "_total"}.get(family.type, "")
        if family.name.startswith("driftline_"):
            out.add(family.name + suffix)
    return out


def named_metrics(text: str) -> set[str]:
    names = set(re.findall(r"`(driftline_[a-z_]+)", text))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def test_the_documented_metrics_are_the_exported_ones() -> None:
    table = {n for line in OPERATIONS.read_text().splitlines()
             if (m := re.match(r"^\| `(driftline_[a-z_]+)` \|", line)) for n in [m.group(1)]}
    assert table == exported()


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_metric_a_doc_names_is_exported(doc: Path) -> None:
    assert named_metrics(doc.read_text()) - exported() == set()
