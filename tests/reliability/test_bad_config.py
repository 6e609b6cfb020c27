"""A broken tinyclaw.toml stops the worker (and a listener) before it starts, with one
line naming the key and what is wrong: exit code 2 (retrying cannot help), no
traceback, nothing queued or touched."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.worker.conftest import REPO
from tinyclaw.actors.manage import add_actor
from tinyclaw.config import load_config
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home

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
        'pairing.profiles."Bad Name"."[key]": names use a-z',
    ),
    "model-name-with-a-space": (
        b'[actors.a]\nmodels = ["opus", "rm -rf"]\n',
        "actors.a.models.1: model names use letters, digits and . _ : @ / [ ] -",
    ),
    "no-actors": (b"", "define at least one [actors.NAME]"),
    "not-toml": (b"[worker\nconcurrency = 2\n", "not valid TOML"),
    "binary-junk": (b"\xff\xfe\x00\x01junk", "cannot read"),
    "nul-bytes": (b"[actors.a]\x00\n", "not valid TOML"),
    "nested-5000": (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    "url-not-a-url": (
        b'[channels.telegram]\nbase_url = "::::"\n' + GOOD_ACTOR.encode(),
        "channels.telegram.base_url: Value error, '::::' is not a http:// or https:// URL",
    ),
    "url-bad-port": (
        b'[channels.discord]\napi_base = "http://127.0.0.1:99999/api"\n' + GOOD_ACTOR.encode(),
        "is not a URL (Port out of range",
    ),
    "url-http-for-gateway": (
        b'[channels.discord]\ngateway_url = "https://gw"\n' + GOOD_ACTOR.encode(),
        "is not a ws:// or wss:// URL",
    ),
    "actor-name-newline": (b'[actors."a\\nb"]\n', 'actors."a\\nb"'),
    "allow-from-names": (
        b'[channels.telegram]\nallow_from = ["@alice", "7000 "]\n' + GOOD_ACTOR.encode(),
        "'@alice' is not a user id: ids are numbers",
    ),
}


def start_refused(home: Home, *command: str) -> str:
    """Start ``command`` (default: the worker) on ``home``; it must refuse with one
    line and exit code 2, and change nothing in the home. Returns its stderr."""
    before = sorted(p.relative_to(home.root) for p in home.root.rglob("*"))
    run = subprocess.run(
        [sys.executable, "-m", *(command or ("tinyclaw", "worker"))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "TINYCLAW_HOME": str(home.root), "HOME": str(home.root)},
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("error: ") for line in lines), run.stderr
    assert str(home.config_file) in lines[0]
    assert sorted(p.relative_to(home.root) for p in home.root.rglob("*")) == before
    return run.stderr


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_broken_config_is_one_clear_line_and_exit_2(home: Home, name: str) -> None:
    content, says = CONFIGS[name]
    home.config_file.write_bytes(content)
    assert says.lower() in start_refused(home).lower()


def _fifo(path: Path) -> None:
    os.mkfifo(path)


PLANTED: dict[str, tuple[Callable[[Path], None], str]] = {
    "symlink-to-dev-zero": (lambda path: os.symlink("/dev/zero", path), "not a regular file"),
    "fifo": (_fifo, "not a regular file"),
    "a-folder": (lambda path: path.mkdir(), "not a regular file"),
    "two-megabytes": (
        lambda path: path.write_bytes(b"# " + b"x" * 2_000_000 + b"\n" + GOOD_ACTOR.encode()),
        "larger than 1024 KiB",
    ),
}


@pytest.mark.parametrize("name", list(PLANTED))
def test_a_config_that_is_no_text_file_is_refused_without_reading_it_all(
    home: Home, name: str
) -> None:
    plant, says = PLANTED[name]
    plant(home.config_file)
    assert says in start_refused(home)


def test_a_listener_with_a_broken_url_exits_2_instead_of_retrying_for_ever(home: Home) -> None:
    home.config_file.write_text(
        '[channels.telegram]\nenabled = true\nbase_url = "::::"\n' + GOOD_ACTOR
    )
    stderr = start_refused(home, "tinyclaw.channels", "telegram")
    assert "channels.telegram.base_url" in stderr


def test_a_byte_order_mark_and_spaces_around_ids_are_forgiven(home: Home) -> None:
    """Windows editors write a BOM; a pasted id may carry a space. Neither is worth
    refusing the file for, and a stripped id matches its sender."""
    text = '[channels.telegram]\nallow_from = ["7000 ", 8000]\n' + GOOD_ACTOR
    home.config_file.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_config(home).channels.telegram.allow_from == ["7000", "8000"]


def test_a_config_symlinked_to_a_regular_file_is_read(home: Home, tmp_path: Path) -> None:
    """A tinyclaw.toml kept in a dotfiles repository and linked into the home."""
    kept = tmp_path / "dotfiles" / "tinyclaw.toml"
    kept.parent.mkdir()
    kept.write_text(GOOD_ACTOR)
    os.symlink(kept, home.config_file)
    assert list(load_config(home).actors) == ["assistant"]


def test_editing_the_config_reads_it_as_the_worker_does(home: Home) -> None:
    """`tinyclaw actors add` reads tinyclaw.toml itself: with the same limits (a link to
    /dev/zero is refused, not read until memory runs out) and the same BOM forgiveness."""
    home.config_file.write_bytes(b"\xef\xbb\xbf" + GOOD_ACTOR.encode())
    assert "helper" in add_actor(home, "helper").actors
    home.config_file.unlink()
    os.symlink("/dev/zero", home.config_file)
    with pytest.raises(ConfigError, match="not a regular file"):
        add_actor(home, "another")
