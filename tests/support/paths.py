"""Where the checkout and the fake claude CLI are."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The checkout's root (the working directory of every ``python -m tinyclaw``)."""

FAKE_CLI = REPO / "tests" / "fakes" / "bin" / "fake-cli"
"""A claude look-alike answering "echo: <prompt>" in milliseconds (its docstring lists
the FAKE_CLI_* knobs)."""
