"""`tinyclaw service`: user units that systemd accepts, installed the way a user does,
and a worker that tells systemd it is ready only when it serves."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.ops.conftest import tinyclaw
from tests.worker.conftest import (
    REPO,
    fake_cli_config,
    message,
    reply_for,
    start_worker_process,
    write_config,
)
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

FAKES = REPO / "tests" / "fakes" / "bin"
CHANNELS = """
[channels.telegram]
enabled = true
[channels.discord]
enabled = true
"""


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "xdg-config"


def units_in(config_home: Path) -> Path:
    return config_home / "systemd" / "user"


def test_installed_units_pass_systemd_analyze_verify(tmp_path: Path, config_home: Path) -> None:
    # a home whose path has a space and a percent sign, both special in unit files
    home = Home(tmp_path / "my home 100%")
    home.ensure()
    write_config(home, fake_cli_config(extra=CHANNELS))
    result = tinyclaw(home, "service", "install", XDG_CONFIG_HOME=str(config_home))
    assert result.returncode == 0, result.stderr
    units = sorted(units_in(config_home).iterdir())
    assert [p.name for p in units] == [
        "tinyclaw-listen-discord.service",
        "tinyclaw-listen-telegram.service",
        "tinyclaw-worker.service",
        "tinyclaw.target",
    ]
    # verify --user needs a runtime dir, not a running systemd. A short one: the user
    # units the machine ships (gpg-agent's sockets) put socket paths under it, and a
    # socket path longer than 107 bytes is an error verify would report.
    with tempfile.TemporaryDirectory(prefix="xdg-", dir="/run") as runtime:
        verify = subprocess.run(
            ["systemd-analyze", "verify", "--user", *map(str, units)],
            capture_output=True,
            text=True,
            env={**os.environ, "XDG_RUNTIME_DIR": runtime, "XDG_CONFIG_HOME": str(config_home)},
            check=False,
        )
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stderr
    worker = (units_in(config_home) / "tinyclaw-worker.service").read_text()
    for line in (
        "Type=notify",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StandardOutput=journal",
        "KillMode=mixed",
    ):
        assert line in worker.splitlines()
    assert f'Environment="TINYCLAW_HOME={tmp_path}/my home 100%%"' in worker
    telegram = (units_in(config_home) / "tinyclaw-listen-telegram.service").read_text()
    assert "RestartPreventExitStatus=2" in telegram  # a refused token does not loop
    assert '"-m" "tinyclaw.channels" "telegram"' in telegram


def test_without_a_user_manager_install_writes_the_units_and_prints_the_commands(
    home: Home, config_home: Path
) -> None:
    write_config(home, fake_cli_config())
    result = tinyclaw(
        home,
        "service",
        "install",
        XDG_CONFIG_HOME=str(config_home),
        PATH=f"{_no_systemd_path(home)}",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "the systemd user manager is not reachable" in out
    assert "  systemctl --user daemon-reload\n" in out
    assert "  systemctl --user enable --now tinyclaw.target tinyclaw-worker.service\n" in out
    assert "sudo loginctl enable-linger" in out
    assert (units_in(config_home) / "tinyclaw-worker.service").exists()


def _no_systemd_path(home: Home) -> str:
    """A PATH whose systemctl cannot reach a manager: a script that fails like one."""
    bin_dir = home.root / "no-systemd"
    bin_dir.mkdir()
    for name in ("systemctl", "loginctl"):
        script = bin_dir / name
        script.write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
        script.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_with_a_user_manager_install_enables_and_starts_and_uninstall_removes(
    home: Home, config_home: Path, tmp_path: Path
) -> None:
    write_config(home, fake_cli_config(extra=CHANNELS))
    log = tmp_path / "systemctl.jsonl"
    env = {
        "XDG_CONFIG_HOME": str(config_home),
        "PATH": f"{FAKES}:{os.environ['PATH']}",
        "FAKE_SYSTEMD_LOG": str(log),
    }
    assert tinyclaw(home, "service", "install", **env).returncode == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert ["systemctl", "--user", "daemon-reload"] in calls
    assert [
        "systemctl",
        "--user",
        "enable",
        "--now",
        "tinyclaw.target",
        "tinyclaw-worker.service",
        "tinyclaw-listen-telegram.service",
        "tinyclaw-listen-discord.service",
    ] in calls
    status = tinyclaw(home, "service", "status", **env)
    assert status.returncode == 0
    assert "tinyclaw-worker.service: active, enabled" in status.stdout

    # discord switched off: the next install disables and removes its unit
    write_config(home, fake_cli_config(extra="[channels.telegram]\nenabled = true\n"))
    log.unlink()
    assert tinyclaw(home, "service", "install", **env).returncode == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[1] == [
        "systemctl",
        "--user",
        "disable",
        "--now",
        "tinyclaw-listen-discord.service",
    ]
    assert not (units_in(config_home) / "tinyclaw-listen-discord.service").exists()

    result = tinyclaw(home, "service", "uninstall", **env)
    assert result.returncode == 0
    assert list(units_in(config_home).iterdir()) == []
    assert tinyclaw(home, "service", "status", **env).returncode == 1


def test_a_real_worker_says_ready_once_it_serves_and_stopping_on_sigterm(
    home: Home, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    write_config(home, fake_cli_config())
    worker = start_worker_process(home, NOTIFY_SOCKET=path)
    try:
        ready = sock.recv(4096).decode()
        fields = dict(line.split("=", 1) for line in ready.splitlines())
        assert fields["READY"] == "1" and fields["MAINPID"] == str(worker.pid)
        # ready means serving: the queues were recovered and are watched already
        started = [
            e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "worker.start"
        ]
        assert started and started[0]["pid"] == worker.pid
        msg = message("are you up?")
        Spool(home).put(msg)
        assert reply_for(home, msg).text == "echo: are you up?"
        worker.send_signal(signal.SIGTERM)
        assert sock.recv(4096).decode().startswith("STOPPING=1")
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stderr.close()  # type: ignore[union-attr]


def test_sd_notify_reaches_an_abstract_socket_and_is_a_no_op_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tinyclaw.core import sdnotify

    name = f"tinyclaw-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.ready("serving")
        assert sock.recv(4096).decode().splitlines()[:2] == ["READY=1", "STATUS=serving"]
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not sdnotify.ready("serving")
