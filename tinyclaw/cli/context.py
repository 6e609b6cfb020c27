"""What every command needs: the home, its configuration, clean error exits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer

from tinyclaw.config import Config, load_home_config
from tinyclaw.errors import TinyclawError
from tinyclaw.home import Home, find_home


def home_from(ctx: typer.Context | None = None) -> Home:
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, Home):
        return obj
    return find_home()


def load(home: Home) -> Config:
    """Read ``.env`` (without overriding the real environment), then the config."""
    return load_home_config(home)


@contextmanager
def clean_errors(code: Callable[[TinyclawError], int] | None = None) -> Iterator[None]:
    """Turn any TinyclawError into one line on stderr and exit code 1 (or what
    ``code`` says for it)."""
    try:
        yield
    except TinyclawError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code(exc) if code is not None else 1) from None
