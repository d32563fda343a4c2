"""Windows: panes merged into tumbling or hopping windows, closed by a watermark, in groups."""

from __future__ import annotations

from driftline.windows.groups import DEFAULT, Group, WindowGroups
from driftline.windows.panes import ClosedWindow, Pane, Windows
from driftline.windows.sizing import NICE_SECONDS, auto_window

__all__ = ["DEFAULT", "NICE_SECONDS", "ClosedWindow", "Group", "Pane", "WindowGroups", "Windows",
           "auto_window"]
