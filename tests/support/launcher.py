"""The launcher's side of the stories: a home whose two actors run the fake CLI,
read-only helpers over the test's private tmux server, and the state each component
reports."""

from __future__ import annotations

import subprocess

from tests.support.messages import message
from tests.support.paths import FAKE_CLI
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.launcher.state import ComponentState, read_states, state_dir
from tinyclaw.spool import Spool

SESSION = "tc-test"

CONFIG = """\
[worker]
concurrency = 2
scan_interval = 0.5
stop_timeout = {stop_timeout}
max_attempts = 5

[runners.claude]
command = "{fake_cli}"
{runner_env}

[actors.coder]
runner = "claude"
description = "writes the code"

[actors.reviewer]
runner = "claude"
{channels}
"""


def write_config(
    home: Home, *, stop_timeout: float = 2.0, runner_env: str = "", channels: str = ""
) -> None:
    """Two fake-CLI actors, ``coder`` and ``reviewer``, ready for ``tinyclaw start``."""
    home.config_file.write_text(
        CONFIG.format(
            stop_timeout=stop_timeout,
            fake_cli=FAKE_CLI,
            runner_env=runner_env,
            channels=channels,
        ),
        encoding="utf-8",
    )


class TmuxServer:
    """Read-only helpers over the test's private tmux server."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )

    def windows(self) -> dict[str, str]:
        """Component name (the @tinyclaw option) -> window name."""
        out = self.tmux("list-windows", "-t", f"={SESSION}", "-F", "#{@tinyclaw}\t#{window_name}")
        return dict(line.split("\t", 1) for line in out.stdout.splitlines() if "\t" in line)

    def window_id(self, component: str) -> str:
        out = self.tmux("list-windows", "-t", f"={SESSION}", "-F", "#{@tinyclaw}\t#{window_id}")
        for line in out.stdout.splitlines():
            name, _, window_id = line.partition("\t")
            if name == component:
                return window_id
        raise AssertionError(f"no window for {component}: {out.stdout!r}")

    def capture(self, component: str) -> str:
        return self.tmux(
            "capture-pane", "-p", "-J", "-S", "-200", "-t", self.window_id(component)
        ).stdout

    def send_line(self, component: str, text: str) -> None:
        window = self.window_id(component)
        self.tmux("send-keys", "-t", window, "-l", text)
        self.tmux("send-keys", "-t", window, "Enter")

    def has_session(self) -> bool:
        return self.tmux("has-session", "-t", f"={SESSION}").returncode == 0


def states(home: Home) -> dict[str, ComponentState]:
    return read_states(state_dir(home.root))


def claimed(home: Home, actor: str, text: str, sender: str = "Alice") -> Inbound:
    """A Telegram message the worker has claimed for ``actor`` (it sits in processing/)."""
    spool = Spool(home)
    msg = message(
        text, channel="telegram", chat="42", sender=Sender(id="7", name=sender), actor=actor
    )
    path = spool.put(msg, spool.inbox(actor))
    assert path is not None
    spool.claim(path, actor)
    return msg
