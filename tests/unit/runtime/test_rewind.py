"""Back to the committed state after a failed transaction, against fake clients."""

from __future__ import annotations

import pytest
from kafka_fakes import FailingSeek, reloading

from driftline.errors import SourceError
from driftline.runtime.rewind import reload, rewind


def test_reload_never_moves_back_to_an_older_checkpoint(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Outcome unknown, and the changelog (held back) shows a checkpoint older than the
    committed state: keep the committed state, do not rewind behind it."""
    s, part, source, _ = reloading(monkeypatch, 100, 50)
    reload(s)
    assert part.base_offset == 100 and source.seeks == [(0, 100)]
    assert part.next_offset == 100 and not part.dirty


def test_reload_waits_for_the_checkpoint_of_the_committed_offsets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The unknown transaction did commit (offsets at 120): wait until the changelog shows
    its checkpoint rather than taking the older one read first."""
    s, part, source, log = reloading(monkeypatch, 120, 100, 120)
    reload(s)
    assert log.reads == 2
    assert part.base_offset == 120 and source.seeks == [(0, 120)]


def test_reload_takes_a_newer_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    s, part, source, _ = reloading(monkeypatch, 120, 120)
    reload(s)
    assert part.base_offset == 120 and source.seeks == [(0, 120)]


@pytest.mark.parametrize("owned", [[0], []])
def test_a_failed_seek_back_on_an_owned_partition_is_fatal(
        monkeypatch: pytest.MonkeyPatch, owned: list[int]) -> None:
    """A rewind that cannot seek a partition it still owns would skip the failed
    transaction's input: exit (restart resumes from the committed state). A partition no
    longer owned is only logged."""
    s, part, _, _ = reloading(monkeypatch, 100, 100)
    source = FailingSeek(owned)
    source.c = source  # type: ignore[assignment]
    s.source = source  # type: ignore[assignment]
    if owned:
        with pytest.raises(SourceError, match="cannot seek back"):
            rewind(s)
        assert s.commit() is False
    else:
        rewind(s)
    assert part.next_offset == 100 and not part.dirty
