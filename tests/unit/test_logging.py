"""Log lines go to the stderr of the moment they are written."""

from __future__ import annotations

import io
import sys

import pytest

from driftline.logging import configure, get_logger


def test_a_log_line_goes_to_the_stderr_of_its_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main()` configures logging once; a stderr swapped and closed after that (a test's
    capture, an embedding tool) must neither swallow the next lines nor fail on them."""
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure("info", json=True)
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    get_logger("driftline.test").warning("written after the swap", n=1)
    assert '"event": "written after the swap"' in second.getvalue()
