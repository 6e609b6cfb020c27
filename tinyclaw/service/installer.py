"""Install, remove and inspect the units; talk to the user's systemd when it is there.

A headless machine often has a user manager (``systemctl --user`` works over SSH
with lingering on); a container or a plain ``su`` shell has none. ``install`` always
writes the unit files, then either runs ``daemon-reload`` and ``enable --now`` or,
without a reachable user manager, prints exactly those commands for later. The
``systemctl``/``loginctl`` calls go through :class:`Systemctl`, whose runner is
passed in, so the decision logic runs in tests against a real program on PATH.
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.core import Home, TinyclawError
from tinyclaw.service.units import render_units, unit_paths

Run = Callable[[list[str]], tuple[int, str]]


def run_command(argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` and return (exit code, its output); 127 if it cannot start."""
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def units_dir(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user``, else ``~/.config/systemd/user``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base).expanduser() / "systemd" / "user"


class Systemctl:
    """``systemctl --user`` and ``loginctl``, through ``run``."""

    def __init__(self, run: Run = run_command) -> None:
        self.run = run

    def reachable(self) -> bool:
        """Whether a user manager answers (it does not in containers or under ``su``)."""
        code, _ = self.run(["systemctl", "--user", "show-environment"])
        return code == 0

    def user(self, *args: str) -> tuple[int, str]:
        return self.run(["systemctl", "--user", *args])

    def lingering(self, user: str) -> bool | None:
        """Whether ``user``'s units run without a login session (None: unknown)."""
        code, out = self.run(["loginctl", "show-user", user, "--property=Linger", "--value"])
        if code != 0:
            return None
        return out.strip() == "yes"


@dataclass(frozen=True)
class Outcome:
    lines: list[str]
    ok: bool = True


class ServiceManager:
    def __init__(
        self,
        home: Home,
        directory: Path,
        systemctl: Systemctl,
        *,
        prefix: str = "tinyclaw",
        user: str | None = None,
    ) -> None:
        self.home = home
        self.directory = directory
        self.systemctl = systemctl
        self.prefix = prefix
        self.user = user or _user_name()

    def install(
        self, config: Config, *, python: str, path_env: str, node: str | None = None
    ) -> Outcome:
        """Write and start the units; ``node``: the worker node this machine runs
        (ConfigError, before anything is written, for a node ``[nodes]`` does not
        name, or none where ``[nodes]`` is defined)."""
        from tinyclaw.worker import node_actors

        node_actors(config, node)
        units = render_units(
            self.home, config, prefix=self.prefix, python=python, path_env=path_env, node=node
        )
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            wanted = {unit.name for unit in units}
            stale = [p for p in unit_paths(self.directory, self.prefix) if p.name not in wanted]
            for unit in units:
                _write(self.directory / unit.name, unit.text)
        except OSError as exc:
            raise TinyclawError(f"cannot write the units in {self.directory}: {exc}") from None
        lines = [f"wrote {self.directory / unit.name}" for unit in units]
        names = [unit.name for unit in units]
        commands = [
            ["systemctl", "--user", "disable", "--now", *(p.name for p in stale)] if stale else [],
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "--now", *names],
        ]
        for path in stale:  # a listener disabled in tinyclaw.toml since the last install
            lines.append(f"removed {path} (that listener is no longer enabled)")
        ok = self._apply([c for c in commands if c], lines)
        for path in stale:
            path.unlink(missing_ok=True)
        lines += self._linger_advice()
        lines.append(f"logs: journalctl --user -u '{self.prefix}-*' -f   (and {self.home.logs})")
        return Outcome(lines, ok)

    def uninstall(self) -> Outcome:
        paths = unit_paths(self.directory, self.prefix)
        if not paths:
            return Outcome([f"no {self.prefix} units in {self.directory}"])
        lines: list[str] = []
        ok = self._apply(
            [["systemctl", "--user", "disable", "--now", *(p.name for p in paths)]], lines
        )
        for path in paths:
            path.unlink(missing_ok=True)
            lines.append(f"removed {path}")
        ok &= self._apply([["systemctl", "--user", "daemon-reload"]], lines)
        return Outcome(lines, ok)

    def status(self) -> Outcome:
        paths = unit_paths(self.directory, self.prefix)
        if not paths:
            return Outcome(
                [
                    f"not installed: no {self.prefix} units in {self.directory}",
                    "install them: tinyclaw service install",
                ],
                ok=False,
            )
        reachable = self.systemctl.reachable()
        lines = []
        ok = True
        for path in paths:
            if not reachable:
                lines.append(f"{path.name}: installed ({path})")
                continue
            _, active = self.systemctl.user("is-active", path.name)
            _, enabled = self.systemctl.user("is-enabled", path.name)
            state = active.splitlines()[0] if active else "unknown"
            ok &= path.suffix == ".target" or state == "active"
            lines.append(f"{path.name}: {state}, {enabled.splitlines()[0] if enabled else '?'}")
        if not reachable:
            lines.append(
                "the systemd user manager is not reachable from here; "
                "run `systemctl --user status 'tinyclaw-*'` in a login session"
            )
            ok = False
        lines += self._linger_advice()
        return Outcome(lines, ok)

    def _apply(self, commands: list[list[str]], lines: list[str]) -> bool:
        """Run ``commands`` if a user manager answers; else list them for the user."""
        if not self.systemctl.reachable():
            lines.append(
                "the systemd user manager is not reachable from here "
                "(no login session, or no systemd); run these where it is:"
            )
            lines += ["  " + shlex.join(c) for c in commands]
            return True
        ok = True
        for command in commands:
            code, out = self.systemctl.run(command)
            lines.append(f"$ {shlex.join(command)}" + (f"\n{out}" if out else ""))
            ok &= code == 0
        return ok

    def _linger_advice(self) -> list[str]:
        if self.systemctl.lingering(self.user):
            return []
        return [
            f"lingering is off for {self.user}: your units stop when you log out and start "
            "only when you log in. For a headless machine, turn it on once:",
            f"  sudo loginctl enable-linger {self.user}",
        ]


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
