"""What every command needs: the home, its configuration, clean error exits."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from tinyclaw.config import Config, load_home_config
from tinyclaw.core import Home, TinyclawError, find_home


def home_from(ctx: typer.Context | None = None) -> Home:
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, Home):
        return obj
    return find_home()


def command_name() -> str:
    """How to type this very ``tinyclaw`` in a new shell: the bare name when that is
    what PATH finds, else the full path of this installation's script (a checkout's
    ``.venv/bin/tinyclaw`` before anything linked it onto PATH)."""
    own = Path(sys.executable).parent / "tinyclaw"
    found = shutil.which("tinyclaw")
    if not own.exists() or (found is not None and Path(found).resolve() == own.resolve()):
        return "tinyclaw"
    return str(own)


def load(home: Home) -> Config:
    """Read ``.env`` (without overriding the real environment), then the config."""
    return load_home_config(home)


def check_node(home: Home, node: str | None) -> None:
    """Exit code 2 and one line for a worker node the configuration refuses (one
    ``[nodes]`` does not name, or none where ``[nodes]`` is defined), as the worker
    exits; a broken configuration stays exit code 1, as everywhere."""
    from tinyclaw.worker import node_actors

    with clean_errors():
        config = load(home)
    with clean_errors(lambda _exc: 2):
        node_actors(config, node)


@contextmanager
def clean_errors(code: Callable[[TinyclawError], int] | None = None) -> Iterator[None]:
    """Turn any TinyclawError into one line on stderr and exit code 1 (or what
    ``code`` says for it)."""
    try:
        yield
    except TinyclawError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code(exc) if code is not None else 1) from None
