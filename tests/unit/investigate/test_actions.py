"""Actions: deterministic ids, the recorded principal, what is refused."""

from __future__ import annotations

import pytest
from demo_files import Run

from driftline.events import Principal
from driftline.investigate import actions, history

ME = Principal(kind="os_user", name="tester")


def test_the_id_is_a_function_of_incident_action_actor_and_time() -> None:
    """The same action recorded twice has one id; another actor, time or action another."""
    def make(kind: str = "acknowledged", by: str = "alice", at: float = 1000.0) -> str:
        ev = actions.action_event("inc-1", kind, by=by, principal=ME, at=at)  # type: ignore[arg-type]
        return str(ev["id"])
    assert make() == make()
    assert len({make(), make(by="bob"), make(at=1001.0), make(kind="closed")}) == 4
    note = actions.action_event("inc-1", "annotated", by="a", principal=ME, at=5.0, note="x")
    assert note["id"] == actions.action_id("inc-1", "annotated", "a", note["time"])


def test_the_kafka_principal_is_the_sasl_username_only_over_sasl() -> None:
    """SASL_SSL with sasl.username records it; PLAINTEXT (or no username) records the OS user."""
    sasl = actions.kafka_principal({"security.protocol": "SASL_SSL", "sasl.username": "svc-ml"})
    assert (sasl.kind, sasl.name) == ("sasl", "svc-ml")
    plain = actions.kafka_principal({"security.protocol": "PLAINTEXT", "sasl.username": "x"})
    assert plain == actions.os_principal() and plain.kind == "os_user"


@pytest.mark.parametrize("first,then,refused", [
    ("closed", "acknowledged", "was closed"), ("closed", "closed", "was closed"),
    ("acknowledged", "acknowledged", "was acknowledged"), ("closed", "annotated", None),
    ("acknowledged", "closed", None)])
def test_what_a_recorded_action_allows_next(warmup_run: Run, first: str, then: str,
                                            refused: str | None) -> None:
    """A closed incident takes only notes; an acknowledged one is not acknowledged again."""
    h = warmup_run.opened("parcel-weight-psi")
    done = actions.action_event(h.incident_id, first, by="a", principal=ME, at=10.0)  # type: ignore[arg-type]
    folded = history.fold([*h.detection, done])[h.incident_id]
    nxt = actions.action_event(h.incident_id, then, by="b", principal=ME, at=20.0)  # type: ignore[arg-type]
    why = actions.refusal(folded, nxt)
    assert (why is None) if refused is None else (why is not None and refused in why)


def test_an_incident_detection_never_raised_cannot_be_acted_on() -> None:
    """Actions alone make no incident: the typo'd id is refused."""
    lone = actions.action_event("inc-typo", "acknowledged", by="a", principal=ME, at=1.0)
    h = history.fold([lone])["inc-typo"]
    assert not h.known and h.status == "unknown"
    assert "no detection event" in (actions.refusal(h, lone) or "")
