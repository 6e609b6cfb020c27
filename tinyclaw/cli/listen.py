"""``tinyclaw listen telegram|discord|whatsapp``: one platform listener in the foreground.

The platform module is imported inside the command (see ``tinyclaw.channels.serve``),
so a listener process carries its own library and nothing else. SIGINT/SIGTERM stop
it cleanly: the reply being sent finishes or stays queued, the connection is closed.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Annotated

import typer

from tinyclaw.cli.context import home_from


class PlatformName(StrEnum):
    telegram = "telegram"
    discord = "discord"
    whatsapp = "whatsapp"


def register(app: typer.Typer) -> None:
    @app.command()
    def listen(
        ctx: typer.Context,
        platform: Annotated[PlatformName, typer.Argument(help="which chat platform to serve")],
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
    ) -> None:
        """Run one chat platform's listener in the foreground (Ctrl-C stops it)."""
        from tinyclaw.channels import run_listener

        level = logging.DEBUG if verbose else logging.INFO
        raise typer.Exit(run_listener(home_from(ctx), platform.value, level=level))
