"""``tinyclaw spool move --to nats|file``: move a home's queue between its backends.

:func:`things_to_move` is the one list of what a move carries from one backend to
the other: the queue, the pairing store and the actors' sessions. A store that comes
to live on the backend adds its own :class:`~tinyclaw.spool.ThingToMove` here, and
every move carries it from then on."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from tinyclaw.cli.context import clean_errors, home_from, load

if TYPE_CHECKING:
    from tinyclaw.spool import MoveReport, ThingToMove


class Backend(StrEnum):
    nats = "nats"
    file = "file"


spool_app = typer.Typer(
    no_args_is_help=True, help="The queue's backend: move it between files and NATS."
)


def things_to_move() -> list[ThingToMove]:
    """What a move carries, in order: the queue, then the stores kept on the backend."""
    from tinyclaw.pairing import PairingToMove
    from tinyclaw.runners import SessionsToMove
    from tinyclaw.spool import QueueToMove

    return [QueueToMove(), PairingToMove(), SessionsToMove()]


def register(app: typer.Typer) -> None:
    app.add_typer(spool_app, name="spool")


@spool_app.command("move")
def move(
    ctx: typer.Context,
    to: Annotated[Backend, typer.Option("--to", help="where the queue goes")],
) -> None:
    """Move everything queued to the other backend, then switch the spool backend in
    tinyclaw.toml. Stop the worker and the listeners (on every machine) first."""
    from tinyclaw.spool import move_home

    with clean_errors():
        home = home_from(ctx)
        config = load(home)
        report = move_home(home, config, to.value, things_to_move(), say=typer.echo)
    _print(report)


def _print(report: MoveReport) -> None:
    names = {"file": "the files", "nats": "NATS"}
    if report.nothing_to_do:
        typer.echo(f"the queue is already on {names[report.target]}; nothing to move")
        return
    if report.resumed:
        typer.echo(f"finished the move from {names[report.source]} to {names[report.target]}")
    for name, kinds in report.held.items():
        what = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
        typer.echo(f"{name}: {what}")
    copied = report.copied.get("queue", 0)
    removed = report.removed.get("queue", 0)
    typer.echo(
        f"moved to {names[report.target]}: {copied} copied, {removed} removed from "
        f"{names[report.source]}"
    )
    stores = [name for name in report.copied if name != "queue"]
    if stores:
        typer.echo(
            f"copied {' and '.join(stores)} to {names[report.target]} too (kept on "
            f"{names[report.source]} as well, unread)"
        )
    if report.config is not None:
        typer.echo(f'{report.config.name}: [spool] backend = "{report.target}"')
