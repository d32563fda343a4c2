"""One root exception; every module raises a subclass of it."""

from __future__ import annotations


class DriftlineError(Exception):
    """Root of every error driftline raises on purpose."""


class ConfigError(DriftlineError):
    """The configuration is invalid; the message lists every problem with its path."""


class ReferenceError_(DriftlineError):
    """A reference profile is missing, corrupt or does not fit the config."""


class SourceError(DriftlineError):
    """A source could not be read (file missing, broker unreachable past its timeout)."""


class SinkError(DriftlineError):
    """A sink could not write (incident topic, file)."""


class StateError(DriftlineError):
    """State read back (a checkpoint, a profile, a state topic) is not valid driftline state."""


class CheckpointError(StateError):
    """State could not be saved or restored consistently."""


class UsageError(DriftlineError):
    """The command line does not say enough to do what it asks (exit code 2, as argparse's)."""
