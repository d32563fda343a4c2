"""Human-readable incident lines for the terminal (demo, replay)."""

from __future__ import annotations

from typing import Any

COLORS = {"low": "36", "medium": "33", "high": "35", "critical": "31"}
VERBS = {"opened": "OPENED   ", "updated": "updated  ", "escalated": "ESCALATED", "resolved": "resolved "}


def incident_line(event: dict[str, Any], color: bool = False) -> str:
    d = event["data"]
    kind = event["type"].rsplit(".", 1)[1]
    seg = ",".join(f"{k}={v}" for k, v in d["segment"].items()) or "all"
    sev = d["severity"]
    sev = f"\033[{COLORS.get(sev, '0')}m{sev:<8}\033[0m" if color else f"{sev:<8}"
    q = d.get("q_value")
    q_txt = f" q={q:.1e}" if isinstance(q, float) else ""
    when = d["window"]["end"][11:16] if d["window"]["kind"] == "time" else d["window"]["end"]
    line = (f"[{when}] {VERBS[kind]} {sev} {d['monitor']:<24} {seg:<22} "
            f"{d['statistic']}={d['value']:.4g} (thr {d['threshold']:g}){q_txt}")
    playbook = d["remediation"].get("playbook") or []
    if kind in ("opened", "escalated") and playbook:
        line += f"  → {', '.join(playbook)}"
    return line
