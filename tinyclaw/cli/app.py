"""The ``tinyclaw`` command. Commands import what they need lazily, so ``tinyclaw
send`` starts fast and a listener process never imports another platform's library."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated

import typer

from tinyclaw.cli.context import clean_errors, command_name, home_from
from tinyclaw.core import ENV_VAR, Home, find_home, user_home

app = typer.Typer(
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    help="tinyclaw: your assistant in Telegram, Discord and WhatsApp, powered by claude and codex.",
    pretty_exceptions_enable=False,
)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home", help="tinyclaw home (default: $TINYCLAW_HOME, nearest tinyclaw.toml, ~/.tinyclaw)"
    ),
]


def _print_version(value: bool) -> None:
    if value:
        from tinyclaw import __version__

        typer.echo(f"tinyclaw {__version__}")
        raise typer.Exit(0)


VersionOption = Annotated[
    bool,
    typer.Option(
        "--version", "-V", is_eager=True, callback=_print_version, help="print the version and exit"
    ),
]


@app.callback()
def _root(ctx: typer.Context, home: HomeOption = None, version: VersionOption = False) -> None:
    # Whether the user chose the home (`init` without a path creates ~/.tinyclaw otherwise).
    ctx.meta["home_given"] = bool(home or os.environ.get(ENV_VAR))
    resolved: Home = find_home(home)
    # Sub-commands in other modules find the home through the environment as well.
    os.environ["TINYCLAW_HOME"] = str(resolved.root)
    ctx.obj = resolved


@app.command()
def version() -> None:
    """Print tinyclaw's version."""
    from tinyclaw import __version__

    typer.echo(__version__)


@app.command()
def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="where to create the home (default: --home, $TINYCLAW_HOME, ~/.tinyclaw)"
        ),
    ] = None,
) -> None:
    """Create a home: tinyclaw.toml and the queue/, actors/, pairing/ folders."""
    from tinyclaw.config import DEFAULT_CONFIG

    with clean_errors():
        home = Home(path.expanduser().resolve()) if path else _init_home(ctx)
    if home.config_file.exists():
        typer.secho(
            f"error: {home.config_file} already exists; not overwriting it", err=True, fg="red"
        )
        raise typer.Exit(1)
    home.root.mkdir(parents=True, exist_ok=True)
    home.ensure()
    home.config_file.write_text(DEFAULT_CONFIG, encoding="utf-8")
    typer.echo(f"created {home.root}")
    if not ctx.meta.get("home_given"):
        typer.echo(
            "commands find it from any folder that is not itself a home (a checkout is); "
            f"or: export TINYCLAW_HOME={home.root}"
        )
    typer.echo(f'next: edit {home.config_file}, then `{command_name()} send "hello"`')


def _init_home(ctx: typer.Context) -> Home:
    """``--home`` or ``$TINYCLAW_HOME`` when given, else ``~/.tinyclaw``: never the
    checkout or folder the command happens to run in (a checkout is already a home)."""
    if ctx.meta.get("home_given"):
        return home_from(ctx)
    return user_home()


@app.command()
def worker(
    ctx: typer.Context,
    node: Annotated[
        str | None,
        typer.Option("--node", help="run the actors of [nodes.NAME] (queue on NATS)"),
    ] = None,
) -> None:
    """Run the worker in the foreground (Ctrl-C stops it gracefully)."""
    from tinyclaw.worker import exit_code, serve_worker

    with clean_errors(exit_code):  # 2 for a broken tinyclaw.toml, as a listener
        serve_worker(home_from(ctx), node=node)


@app.command()
def send(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="the message")],
    actor: Annotated[str | None, typer.Option("--actor", "-a", help="actor or team to ask")] = None,
    chat: Annotated[
        str, typer.Option(help="conversation name (sessions are kept per chat)")
    ] = "local",
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="only queue it; print the message id")
    ] = False,
    timeout: Annotated[float | None, typer.Option(help="seconds to wait for the reply")] = None,
) -> None:
    """Send a message through the queue, like a chat app would, and print the reply."""
    from tinyclaw.cli.terminal import send_and_wait

    with clean_errors():
        code = send_and_wait(
            home_from(ctx), text, actor=actor, chat=chat, wait=not no_wait, timeout=timeout
        )
    raise typer.Exit(code)


@app.command()
def replies(
    ctx: typer.Context,
    chat: Annotated[
        str | None, typer.Option(help="only this conversation (default: every one)")
    ] = None,
) -> None:
    """Print the terminal's replies still waiting (answers to `send --no-wait`, or to
    scheduled jobs addressed to cli:CHAT); each is then marked delivered."""
    from tinyclaw.cli.terminal import collect_replies

    with clean_errors():
        shown = collect_replies(home_from(ctx), chat=chat)
    if not shown:
        typer.echo("no replies waiting")


@app.command()
def chat(
    ctx: typer.Context,
    actor: Annotated[
        str | None, typer.Option("--actor", "-a", help="actor or team to talk to")
    ] = None,
    chat_name: Annotated[str, typer.Option("--chat", help="conversation name")] = "local",
) -> None:
    """An interactive conversation over the same queue (needs a running worker)."""
    from tinyclaw.cli.terminal import interactive

    with clean_errors():
        interactive(home_from(ctx), actor=actor, chat=chat_name)


@app.command()
def reset(
    ctx: typer.Context,
    actor: Annotated[str, typer.Argument(help="the actor whose session to forget")],
    chat_key: Annotated[
        str | None, typer.Option("--chat", help="only this conversation (channel:chat_id)")
    ] = None,
) -> None:
    """Forget an actor's CLI session, so its next message starts fresh."""
    from tinyclaw.cli.context import load
    from tinyclaw.runners import open_session_store

    with clean_errors():
        home = home_from(ctx)
        config = load(home)
        if actor not in config.actors:
            typer.secho(
                f"error: no actor {actor!r}; actors: {', '.join(config.actors)}", err=True, fg="red"
            )
            raise typer.Exit(1)
        open_session_store(home, config).reset(actor, chat_key)
    typer.echo(f"reset @{actor}" + (f" for {chat_key}" if chat_key else " for every conversation"))


# Command groups that live in their own modules; each exposes register(app).
_GROUPS = (
    "tinyclaw.cli.listen",
    "tinyclaw.cli.pair",
    "tinyclaw.cli.schedule",
    "tinyclaw.cli.actors",
    "tinyclaw.cli.ops",
    "tinyclaw.cli.cost",
    "tinyclaw.cli.operate",
    "tinyclaw.cli.live",
    "tinyclaw.cli.spool",
)
for _module in _GROUPS:
    try:
        importlib.import_module(_module).register(app)
    except ModuleNotFoundError as _exc:
        if _exc.name != _module:
            raise


def main() -> None:
    app()
