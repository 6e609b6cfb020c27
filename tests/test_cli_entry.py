"""`tinyclaw worker` idles as lightly as the launcher's worker: the console script
starts it before the command-line application (Typer, rich) is imported; every other
command line goes to that application."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyclaw.cli.main import worker_home
from tinyclaw.core.home import Home
from tinyclaw.core.instance import lock_holder, worker_lock_path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["worker"], (None,)),
        (["--home", "/srv/claw", "worker"], (Path("/srv/claw"),)),
        (["--home=/srv/claw", "worker"], (Path("/srv/claw"),)),
        (["worker", "--help"], None),
        (["send", "worker"], None),
        (["--home", "/srv/claw"], None),
        ([], None),
    ],
)
def test_only_a_plain_worker_command_skips_the_application(
    args: list[str], expected: tuple[Path | None] | None
) -> None:
    assert worker_home(args) == expected


def test_the_worker_runs_without_typer_and_help_still_comes_from_it(home: Home) -> None:
    home.config_file.write_text("[actors.assistant]\n")
    worker = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "tinyclaw", "--home", str(home.root), "worker"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while lock_holder(worker_lock_path(home.state)) != worker.pid:
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, imports = worker.communicate(timeout=30)
    assert worker.returncode == 0, imports[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in imports.splitlines() if "|" in line}
    assert "tinyclaw.worker.loop" in imported
    assert not {"typer", "click", "rich"} & imported

    helped = subprocess.run(
        [sys.executable, "-m", "tinyclaw", "worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0 and "Run the worker in the foreground" in helped.stdout


TINYCLAW = Path(sys.executable).parent / "tinyclaw"  # the console script of this venv


def test_version_prints_the_version_and_exits_zero(tmp_path: Path) -> None:
    from tinyclaw import __version__

    for flag in ("--version", "-V"):
        shown = subprocess.run(
            [str(TINYCLAW), flag], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == f"tinyclaw {__version__}\n"


def test_shell_completion_is_offered_and_completes_commands(tmp_path: Path) -> None:
    script = subprocess.run(
        [str(TINYCLAW), "--show-completion", "bash"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    assert "_TINYCLAW_COMPLETE" in script.stdout

    env = {**os.environ, "_TINYCLAW_COMPLETE": "complete_bash", "COMP_WORDS": "tinyclaw pa",
           "COMP_CWORD": "1"}  # fmt: skip
    completed = subprocess.run(
        [str(TINYCLAW)], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
    )
    assert completed.stdout.split() == ["pair"]


def test_what_tinyclaw_tells_you_to_type_works_in_your_shell(tmp_path: Path) -> None:
    """`start` says `tinyclaw attach`: true only when PATH finds this tinyclaw;
    otherwise it names the full path."""
    ask = [sys.executable, "-c", "from tinyclaw.cli.context import command_name as c; print(c())"]
    elsewhere = {**os.environ, "PATH": "/usr/bin:/bin"}
    on_path = {**os.environ, "PATH": f"{TINYCLAW.parent}:/usr/bin:/bin"}

    assert subprocess.run(ask, capture_output=True, text=True, env=elsewhere, check=True,
                          cwd=tmp_path).stdout.strip() == str(TINYCLAW)  # fmt: skip
    assert subprocess.run(ask, capture_output=True, text=True, env=on_path, check=True,
                          cwd=tmp_path).stdout.strip() == "tinyclaw"  # fmt: skip
