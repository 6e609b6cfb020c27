"""Commands for running tinyclaw as a service: ``reload``, ``service``, ``backup``,
``restore``. Each imports its module inside the command, so none of them slows the
start of the others."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tinyclaw.cli.context import clean_errors, home_from

if TYPE_CHECKING:
    from tinyclaw.service import Outcome, ServiceManager

service_app = typer.Typer(
    no_args_is_help=True,
    help="Run tinyclaw under systemd (user units): install, uninstall, status.",
)


def register(app: typer.Typer) -> None:
    app.command()(reload)
    app.command()(backup)
    app.command()(restore)
    app.add_typer(service_app, name="service")


def reload(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each answer")] = 15.0,
) -> None:
    """Make the running worker and listeners read tinyclaw.toml again (no restart)."""
    from tinyclaw.cli.reload_request import request_reload

    home = home_from(ctx)
    with clean_errors():
        report = request_reload(home, timeout=timeout)
    if report.error is not None:
        typer.secho(
            f"error: refused, the running configuration stays in force: {report.error}",
            err=True,
            fg="red",
        )
        raise typer.Exit(1)
    if not report.answers:
        typer.echo("nothing is running; the configuration is valid and is read at start")
    for answer in report.answers:
        typer.echo(answer.line())
    raise typer.Exit(0 if report.ok else 1)


def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the archive to write (.tar.gz)")],
    workspaces: Annotated[
        bool, typer.Option("--workspaces", help="also archive the actors' workspaces")
    ] = False,
    with_env: Annotated[
        bool, typer.Option("--with-env", help="also archive .env (it holds your tokens)")
    ] = False,
) -> None:
    """Archive the home (config, pairing, sessions, schedules, state, queue) while it runs."""
    from tinyclaw.backup import create_backup

    with clean_errors():
        summary = create_backup(
            home_from(ctx), file.resolve(), workspaces=workspaces, with_env=with_env
        )
    typer.echo(summary)


def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="an archive made by `tinyclaw backup`")],
) -> None:
    """Bring a backup back into an empty home (refuses a home that has data)."""
    from tinyclaw.backup import restore_backup

    with clean_errors():
        summary = restore_backup(home_from(ctx), file.resolve())
    typer.echo(summary)


def _manager(ctx: typer.Context, prefix: str) -> ServiceManager:
    from tinyclaw.service import NAME_RE, ServiceManager, Systemctl, units_dir

    if not NAME_RE.fullmatch(prefix):
        raise typer.BadParameter("letters, digits, '-' and '_' only", param_hint="--name")

    return ServiceManager(home_from(ctx), units_dir(), Systemctl(), prefix=prefix)


PrefixOption = Annotated[
    str, typer.Option("--name", help="unit name prefix (one per home on a machine)")
]


@service_app.command("install")
def service_install(
    ctx: typer.Context,
    name: PrefixOption = "tinyclaw",
    node: Annotated[
        str | None,
        typer.Option("--node", help="run the worker as worker node [nodes.NAME] (NATS)"),
    ] = None,
) -> None:
    """Write user units for the worker and each enabled listener, and start them."""
    import os
    import sys

    from tinyclaw.cli.context import check_node, load

    check_node(home_from(ctx), node)
    with clean_errors():
        config = load(home_from(ctx))
        outcome = _manager(ctx, name).install(
            config, python=sys.executable, path_env=os.environ.get("PATH", ""), node=node
        )
    _print(outcome)


@service_app.command("uninstall")
def service_uninstall(ctx: typer.Context, name: PrefixOption = "tinyclaw") -> None:
    """Stop and disable the units, and remove their files."""
    with clean_errors():
        outcome = _manager(ctx, name).uninstall()
    _print(outcome)


@service_app.command("status")
def service_status(ctx: typer.Context, name: PrefixOption = "tinyclaw") -> None:
    """Which units are installed, and whether they run (exit 1 if one does not)."""
    with clean_errors():
        outcome = _manager(ctx, name).status()
    _print(outcome)


def _print(outcome: Outcome) -> None:
    for line in outcome.lines:
        typer.echo(line)
    raise typer.Exit(0 if outcome.ok else 1)
