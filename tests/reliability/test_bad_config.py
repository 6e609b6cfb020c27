"""A broken tinyclaw.toml stops the worker before it starts, with one line naming the
key and what is wrong: exit code 1, no traceback, nothing queued or touched."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.worker.conftest import REPO
from tinyclaw.home import Home

GOOD_ACTOR = "[actors.assistant]\n"

CONFIGS: dict[str, tuple[bytes, str]] = {
    "string-for-int": (b'[worker]\nconcurrency = "four"\n' + GOOD_ACTOR.encode(), "concurrency"),
    "float-for-int": (b"[worker]\nmax_attempts = 2.5\n" + GOOD_ACTOR.encode(), "max_attempts"),
    "negative-timeout": (b"[actors.a]\ntimeout = -1\n", "timeout"),
    "int-for-table": (b"actors = 5\n", "actors"),
    "int-for-string": (b"[actors.a]\nworkspace = 123\n", "workspace"),
    "string-for-list": (
        b'[runners.claude]\npass_env = "ANTHROPIC_API_KEY"\n' + GOOD_ACTOR.encode(),
        "pass_env",
    ),
    "bad-env-name": (
        b'[runners.claude]\nenv = { "BAD NAME" = "x" }\n' + GOOD_ACTOR.encode(),
        "environment variable name",
    ),
    "traversal-actor-name": (b'[actors."../../etc"]\n', "names use a-z"),
    "unknown-runner": (b'[actors.a]\nrunner = "gpt"\n', "runner"),
    "permission-mode-typo": (
        b'[actors.a]\npermission_mode = "acceptEdit"\n',
        "permission_mode 'acceptEdit' is not a claude mode; expected one of: default, acceptEdits",
    ),
    "claude-mode-for-codex": (
        b'[actors.a]\nrunner = "codex"\npermission_mode = "acceptEdits"\n',
        "expected one of: read-only, workspace-write, danger-full-access",
    ),
    "port-out-of-range": (
        b"[channels.telegram]\nport = 99999\n" + GOOD_ACTOR.encode(),
        "channels.telegram.port",
    ),
    "typo-key": (b"[worker]\nconcurency = 2\n" + GOOD_ACTOR.encode(), "unknown key"),
    "default-actor-missing": (
        b'[worker]\ndefault_actor = "nobody"\n' + GOOD_ACTOR.encode(),
        "default_actor",
    ),
    "negative-spend-limit": (
        b"[actors.a]\nmax_usd_per_day = -5\n",
        "actors.a.max_usd_per_day: Input should be greater than or equal to 0",
    ),
    "spend-limit-of-a-bad-profile-name": (
        b'[pairing.profiles."Bad Name"]\nmax_usd_per_day = 1\n' + GOOD_ACTOR.encode(),
        "pairing.profiles.Bad Name.[key]: names use a-z",
    ),
    "model-name-with-a-space": (
        b'[actors.a]\nmodels = ["opus", "rm -rf"]\n',
        "actors.a.models.1: model names use letters, digits and . _ : @ / [ ] -",
    ),
    "no-actors": (b"", "define at least one [actors.NAME]"),
    "not-toml": (b"[worker\nconcurrency = 2\n", "not valid TOML"),
    "binary-junk": (b"\xff\xfe\x00\x01junk", "cannot read"),
    "nul-bytes": (b"[actors.a]\x00\n", "not valid TOML"),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_broken_config_is_one_clear_line_and_exit_1(home: Home, name: str) -> None:
    content, says = CONFIGS[name]
    home.config_file.write_bytes(content)
    before = sorted(p.relative_to(home.root) for p in home.root.rglob("*"))
    run = subprocess.run(
        [sys.executable, "-m", "tinyclaw", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "TINYCLAW_HOME": str(home.root), "HOME": str(home.root)},
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("error: ") for line in lines), run.stderr
    assert str(home.config_file) in lines[0]
    assert says.lower() in run.stderr.lower()
    assert sorted(p.relative_to(home.root) for p in home.root.rglob("*")) == before
