"""How the worker process ends when it cannot serve: one line and an exit code.

Shared by the three ways to start it (``tinyclaw worker`` with and without the
command-line application, ``python -m tinyclaw.worker``), and free of Typer for the
same reason as :mod:`tinyclaw.cli.run_worker`."""

from __future__ import annotations

from tinyclaw.cli.run_worker import run_worker
from tinyclaw.core.errors import ConfigError, HomeError, TinyclawError
from tinyclaw.core.home import Home

# As a listener's: a broken tinyclaw.toml is not cured by a restart (the launcher's
# supervisor stops restarting on it), only by a person.
CONFIG_EXIT = 2


def exit_code(error: TinyclawError) -> int:
    """The worker's exit code for an error that stopped it: 2 for the configuration,
    1 for anything a restart may cure (another worker holds the home, ...)."""
    return CONFIG_EXIT if isinstance(error, ConfigError) else 1


def serve_worker(home: Home) -> None:
    """:func:`run_worker`, with a home the worker cannot write to (a read-only disk,
    wrong permissions) as a HomeError: one line naming the file, not a traceback."""
    try:
        run_worker(home)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise HomeError(f"cannot use the home {home.root}: {exc.strerror or exc}{where}") from None
