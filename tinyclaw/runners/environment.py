"""The environment a CLI runs in, and where its binary is.

The CLI runs model-chosen shell commands, so whatever is in its environment is one
``env`` away from the model and the chat. It therefore gets an allow-list, never
tinyclaw's own environment: the basics a shell needs, its state directory, the
literal ``env`` of its settings and the variables ``pass_env`` names. A bot token
(``TELEGRAM_BOT_TOKEN``) or any other secret of tinyclaw's cannot leak by default.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from tinyclaw.config import RunnerSettings

BASE_VARS = ("PATH", "LANG", "TERM", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL")
_MIN_SECRET_LENGTH = 4
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")


def _absolute(path: str) -> str:
    """The CLI runs in its workspace, so a relative state dir would move with it."""
    return os.path.abspath(os.path.expanduser(path))


def build_cli_env(
    settings: RunnerSettings, kind: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """The complete environment for one CLI of ``kind`` ("claude" or "codex").

    Precedence, lowest first: the basics copied from ``environ``, HOME/CODEX_HOME,
    ``settings.env``, then ``settings.pass_env`` (copied only if present).
    """
    env = {name: environ[name] for name in BASE_VARS if name in environ}
    env.update({name: value for name, value in environ.items() if name.startswith("LC_")})
    if kind == "claude":
        # claude keeps its sessions under $HOME/.claude: resume needs the same HOME.
        home = _absolute(settings.home) if settings.home else environ.get("HOME")
        if home:
            env["HOME"] = home
    else:
        if "HOME" in environ:
            env["HOME"] = environ["HOME"]
        codex_home = _absolute(settings.home) if settings.home else environ.get("CODEX_HOME")
        if codex_home:
            env["CODEX_HOME"] = codex_home
    env.update(settings.env)
    env.update({name: environ[name] for name in settings.pass_env if name in environ})
    return env


def secret_values(settings: RunnerSettings, environ: Mapping[str, str]) -> list[str]:
    """Values that must never be logged: everything ``pass_env`` hands over, and any
    literal ``env`` value whose name looks like a credential."""
    values = [environ[name] for name in settings.pass_env if name in environ]
    values += [
        value
        for name, value in settings.env.items()
        if any(word in name.upper() for word in _SECRET_WORDS)
    ]
    return [value for value in values if len(value) >= _MIN_SECRET_LENGTH]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (longest first)."""
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= _MIN_SECRET_LENGTH:
            text = text.replace(value, "***")
    return text


def default_search_dirs(root: Path) -> list[Path]:
    """Where a home's own install of the CLIs lives (``npm install --prefix .tools``)."""
    return [root / ".tools" / "node_modules" / ".bin"]


def resolve_command(
    kind: str,
    settings: RunnerSettings,
    environ: Mapping[str, str],
    search_dirs: Iterable[Path] = (),
) -> str | None:
    """The executable to run, or None if there is none.

    An explicit ``settings.command`` is used as given (a bare name is looked up on
    PATH); otherwise ``kind`` on PATH, then in each of ``search_dirs``.
    """
    path = environ.get("PATH", os.defpath)
    if settings.command:
        command = os.path.expanduser(settings.command)
        if os.sep in command:
            return command if os.access(command, os.X_OK) and os.path.isfile(command) else None
        return shutil.which(command, path=path)
    found = shutil.which(kind, path=path)
    if found:
        return found
    for directory in search_dirs:
        candidate = Path(directory) / kind
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None
