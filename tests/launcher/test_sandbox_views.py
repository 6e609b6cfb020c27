"""``tinyclaw doctor`` says what isolation each actor's CLI has, and what to do when
bubblewrap does not work on the machine; the actor window shows each run's sandbox."""

from __future__ import annotations

import pytest

from tests.launcher.conftest import run_tinyclaw
from tinyclaw.cli.doctor import Doctor, format_checks
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.launcher.render import Style, progress
from tinyclaw.runners.sandbox import probe_bwrap

CONFIG = """\
[actors.assistant]

[actors.coder]
runner = "codex"
sandbox = { network = "none" }

[actors.scratch]
sandbox = { mode = "off" }
"""


def broken(program: str, unshare_net: bool) -> str | None:
    return "/usr/bin/bwrap does not work here: No permissions to create new namespace"


def test_doctor_shows_each_actors_sandbox(home: Home) -> None:
    if probe_bwrap("bwrap") is not None:
        pytest.skip(f"bwrap does not work here: {probe_bwrap('bwrap')}")
    home.config_file.write_text(CONFIG)

    out = run_tinyclaw("doctor", timeout=120).stdout

    workspace = home.actor_dir("assistant") / "workspace"
    assert f"ok    sandbox @assistant: bwrap: writes only {workspace}" in out
    assert f"hides {home.root}" in out and "private /tmp and /proc; shared network" in out
    assert "ok    sandbox @coder: bwrap: " in out and "; no network" in out
    assert "info  sandbox @scratch: unconfined (sandbox mode is off in tinyclaw.toml)" in out


def test_where_bwrap_fails_auto_warns_and_a_required_sandbox_is_a_problem(home: Home) -> None:
    home.config_file.write_text(CONFIG + '\n[actors.vault]\nsandbox = { mode = "bwrap" }\n')
    checks = Doctor(home, environ={}, run=lambda argv: (0, "x"), probe=broken).checks()
    text = format_checks(checks)

    assert "warn  sandbox @assistant: UNCONFINED: its CLI can read the home's secrets" in text
    assert "No permissions to create new namespace" in text
    assert "fix: allow unprivileged user namespaces" in text  # installed, but refused
    assert 'FAIL  sandbox @vault: mode "bwrap" is required but /usr/bin/bwrap' in text
    assert "the worker will not start" in text

    missing = lambda program, net: f"{program!r} is not installed (apt-get install bubblewrap)"  # noqa: E731
    text = format_checks(Doctor(home, environ={}, probe=missing).sandbox(load_config(home)))
    assert "fix: sudo apt-get install bubblewrap" in text


def test_the_actor_window_shows_the_sandbox_and_an_unconfined_run_in_red() -> None:
    confined = {
        "ts": 0,
        "kind": "sandbox",
        "text": "bwrap: writes only /ws",
        "data": {"confined": True},
    }
    unconfined = {"ts": 0, "kind": "sandbox", "text": "unconfined (x)", "data": {"confined": False}}

    (line,) = progress(confined, Style(color=False))
    assert line.startswith("  ▣ ") and line.endswith("  bwrap: writes only /ws")
    (red,) = progress(unconfined, Style(color=True))
    assert "\x1b[31;1m" in red and "unconfined (x)" in red
