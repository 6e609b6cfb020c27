"""The ``tinyclaw`` console script (and ``python -m tinyclaw``).

``tinyclaw worker`` is the long-running process users start by hand, so it should
idle as lightly as ``python -m tinyclaw.worker`` (what the launcher runs): Typer, and
rich through it, cost about 4 MB of resident memory the worker never uses. So a plain
``tinyclaw [--home DIR] worker`` starts the worker before the command-line application
is imported; every other command line (``tinyclaw worker --help`` included) goes to
Typer (:mod:`tinyclaw.cli.app`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def worker_home(args: list[str]) -> tuple[Path | None] | None:
    """``(home or None,)`` if ``args`` is exactly ``[--home DIR] worker``, else None."""
    if args == ["worker"]:
        return (None,)
    if len(args) == 3 and args[0] == "--home" and args[2] == "worker":
        return (Path(args[1]),)
    if len(args) == 2 and args[0].startswith("--home=") and args[1] == "worker":
        return (Path(args[0].removeprefix("--home=")),)
    return None


def main() -> None:
    plain_worker = worker_home(sys.argv[1:])
    if plain_worker is None:
        from tinyclaw.cli.app import main as typer_main

        typer_main()
        return
    from tinyclaw.cli.worker_entry import exit_code, serve_worker
    from tinyclaw.core.errors import TinyclawError
    from tinyclaw.core.home import find_home

    try:
        home = find_home(plain_worker[0])
        os.environ["TINYCLAW_HOME"] = str(home.root)  # as the Typer callback does
        serve_worker(home)
    except TinyclawError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exit_code(exc))
