"""The one tmux session, through libtmux.

The session name comes from ``[launcher] session_name`` (``TINYCLAW_TMUX_SESSION``
overrides it) and the server from ``TINYCLAW_TMUX_SOCKET`` (a ``tmux -L`` socket
name; default: the user's own server, so ``attach`` can switch-client from inside
tmux). Tests set the socket to a private one and never touch the user's server.

The windows get the home and PATH explicitly (``new-window -e``): a tmux server that
was already running has the environment of whoever started it, not ours. A server we
start gets our environment without any secret (``unset``): its global environment is
what every window and every shell opened in the session inherits. A secret goes only
into the window of the component that owns it (``extra``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.core.errors import LauncherError
from tinyclaw.launcher.components import STATUS, Component

SOCKET_ENV = "TINYCLAW_TMUX_SOCKET"
SESSION_ENV = "TINYCLAW_TMUX_SESSION"
COMPONENT_OPTION = "@tinyclaw"
HOME_OPTION = "@tinyclaw_home"
TMUX_INSTALL = "sudo apt-get install tmux   (macOS: brew install tmux)"
# Passed into every window; secrets are not among them.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "VIRTUAL_ENV", "NO_COLOR", "TZ")


def session_name(config: Config) -> str:
    name = os.environ.get(SESSION_ENV) or config.launcher.session_name
    if not name or any(c in name for c in ".:") or name.strip() != name:
        raise LauncherError(
            f"tmux session name {name!r} is not usable (no '.', ':' or surrounding spaces)"
        )
    return name


def socket_name() -> str | None:
    return os.environ.get(SOCKET_ENV) or None


def tmux_binary() -> str:
    found = shutil.which("tmux")
    if found is None:
        raise LauncherError(f"tmux is not installed; install it with: {TMUX_INSTALL}")
    return found


def window_env(home_root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What every window needs to find this home and this tmux session again."""
    environ = os.environ if environ is None else environ
    env = {name: environ[name] for name in PASS_ENV if environ.get(name)}
    env["TINYCLAW_HOME"] = str(home_root)
    for name in (SOCKET_ENV, SESSION_ENV):
        if environ.get(name):
            env[name] = environ[name]
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def _environment_without(names: Collection[str]) -> Iterator[None]:
    """This process's environment without ``names`` for the block: libtmux starts
    the tmux client (and with it a new server) with ``os.environ``."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


class Tmux:
    """The tinyclaw session on one tmux server."""

    def __init__(self, session: str, socket: str | None = None) -> None:
        import libtmux

        self.binary = tmux_binary()
        self.name = session
        self.socket = socket
        self.server = libtmux.Server(socket_name=socket, tmux_bin=self.binary)

    @property
    def socket_args(self) -> list[str]:
        return ["-L", self.socket] if self.socket else []

    def exists(self) -> bool:
        from libtmux.exc import LibTmuxException

        try:
            return bool(self.server.has_session(self.name))
        except (LibTmuxException, OSError):
            return False

    def home(self) -> str | None:
        """The home this session was started for (its ``@tinyclaw_home`` option)."""
        try:
            out = self._tmux("show-options", "-v", "-t", f"={self.name}:", HOME_OPTION)
        except LauncherError:
            return None
        return out.strip() or None

    def check_home(self, home_root: Path) -> None:
        """Refuse to act on a session another home started under the same name."""
        owner = self.home()
        if owner is not None and owner != str(home_root):
            raise LauncherError(
                f"tmux session {self.name!r} belongs to the home {owner}; give this home "
                "its own name with [launcher] session_name or TINYCLAW_TMUX_SESSION"
            )

    def create(
        self,
        components: Sequence[Component],
        *,
        python: str,
        env: Mapping[str, str],
        cwd: Path,
        extra: Mapping[str, Mapping[str, str]] | None = None,
        unset: Collection[str] = (),
    ) -> None:
        """Create the session with one window per component, detached. ``cwd`` is the
        home: the windows start there, and the session records it as its owner.
        ``extra`` adds variables to one component's window only; ``unset`` names
        variables a tmux server started now must not inherit from this process."""
        from libtmux.exc import LibTmuxException

        if not components:
            raise LauncherError("nothing to start")
        first, rest = components[0], components[1:]
        extra = extra or {}
        try:
            with _environment_without(unset):
                session = self.server.new_session(
                    session_name=self.name,
                    window_name=first.window,
                    window_command=first.window_command(python),
                    environment={**env, **extra.get(first.name, {})},
                    start_directory=str(cwd),
                    x=200,
                    y=50,
                    attach=False,
                )
            windows = [(first, session.windows[0])]
            for component in rest:
                window = session.new_window(
                    window_name=component.window,
                    window_shell=component.window_command(python),
                    environment={**env, **extra.get(component.name, {})},
                    start_directory=str(cwd),
                    attach=False,
                )
                windows.append((component, window))
            for component, window in windows:
                assert window.id is not None
                self._tmux("set-option", "-w", "-t", window.id, COMPONENT_OPTION, component.name)
                # A window's name stays the component's; programs must not rename it.
                self._tmux("set-option", "-w", "-t", window.id, "automatic-rename", "off")
            self._tmux("set-option", "-t", f"={self.name}:", HOME_OPTION, str(cwd))
        except (LibTmuxException, OSError) as exc:
            raise LauncherError(f"cannot create tmux session {self.name!r}: {exc}") from exc

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(
            [self.binary, *self.socket_args, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if proc.returncode != 0:
            raise LauncherError(f"tmux {' '.join(args[:2])}: {proc.stderr.strip()}")
        return proc.stdout

    def windows(self) -> dict[str, tuple[str, int | None]]:
        """Component name → (window id, pane pid) for every tinyclaw window."""
        if not self.exists():
            return {}
        fmt = f"#{{window_id}}\t#{{{COMPONENT_OPTION}}}\t#{{pane_pid}}\t#{{pane_dead}}"
        try:
            out = self._tmux("list-panes", "-s", "-t", f"={self.name}", "-F", fmt)
        except LauncherError:
            return {}
        found: dict[str, tuple[str, int | None]] = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) != 4 or not parts[1]:
                continue
            pid = int(parts[2]) if parts[2].isdigit() and parts[3] != "1" else None
            found.setdefault(parts[1], (parts[0], pid))
        return found

    def kill(self) -> None:
        if self.exists():
            try:
                self._tmux("kill-session", "-t", f"={self.name}")
            except LauncherError:
                if self.exists():
                    raise

    def select(self, component: str | None) -> str:
        """Select the window of ``component`` (default: status); returns its target."""
        windows = self.windows()
        wanted = component or STATUS
        if wanted not in windows:
            known = ", ".join(sorted(windows)) or "none"
            raise LauncherError(f"no window for {wanted!r} in session {self.name!r} ({known})")
        window_id = windows[wanted][0]
        self._tmux("select-window", "-t", window_id)
        return window_id

    def attach_argv(self, inside_tmux: bool) -> list[str]:
        """The tmux command that shows the session to the user of this terminal."""
        verb = ["switch-client", "-t"] if inside_tmux else ["attach-session", "-t"]
        return [self.binary, *self.socket_args, *verb, f"={self.name}"]
