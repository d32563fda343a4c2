"""Unit tests: fast, offline. ``synth`` (small synthetic streams) sits beside this file."""
