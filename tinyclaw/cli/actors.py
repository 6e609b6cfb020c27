"""``tinyclaw actor add|list|show|remove`` and ``tinyclaw trace``.

Every mistake (a bad name, a name in use, an actor still in a team) is one line on
stderr and exit code 1. ``remove`` asks before it deletes an actor's folder (and the
workspace in it) unless ``--yes`` is given, and never deletes anything outside it,
nor the folder while another actor's workspace is inside it. The actor's scheduled
jobs are listed and removed with it (after a yes); declining keeps the actor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from tinyclaw.cli.context import clean_errors, home_from, load
from tinyclaw.cli.jsonout import JsonOption, emit
from tinyclaw.config import RunnerKind
from tinyclaw.core import Home

if TYPE_CHECKING:
    from tinyclaw.teams import Conversations

actor_app = typer.Typer(
    name="actor",
    help="The actors of this home: add, list, show, remove.",
    no_args_is_help=True,
    add_completion=False,
)


def register(app: typer.Typer) -> None:
    """Mount ``tinyclaw actor`` and ``tinyclaw trace`` on the main command."""
    app.add_typer(actor_app, name="actor")
    app.command("trace")(trace)


@actor_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a-z, 0-9, '-' and '_', at most 32 characters")],
    runner: Annotated[str, typer.Option(help="claude or codex")] = "claude",
    model: Annotated[str | None, typer.Option(help="model passed to the CLI")] = None,
    description: Annotated[
        str, typer.Option(help="what it does (shown to users and teammates)")
    ] = "",
    persona: Annotated[str, typer.Option(help="who it is: the start of its persona file")] = "",
    permission_mode: Annotated[
        str | None,
        typer.Option(
            help="claude: --permission-mode (default acceptEdits); "
            "codex: --sandbox (default workspace-write)"
        ),
    ] = None,
) -> None:
    """Add an actor: its section in tinyclaw.toml, its folders and its persona file."""
    from tinyclaw.actors import add_actor, persona_path
    from tinyclaw.core import ConfigError

    with clean_errors():
        if runner not in ("claude", "codex"):
            raise ConfigError(f"runner must be claude or codex, not {runner!r}")
        home = home_from(ctx)
        kind: RunnerKind = "claude" if runner == "claude" else "codex"
        config = add_actor(
            home,
            name,
            runner=kind,
            model=model,
            description=description,
            persona=persona,
            permission_mode=permission_mode,
        )
        typer.echo(f"added @{name} ({runner}); persona file: {persona_path(home, config, name)}")
        typer.echo("a running worker serves it within seconds (it follows tinyclaw.toml)")


@actor_app.command("list")
def list_actors(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every actor: runner, model, teams, waiting messages, description."""
    from tinyclaw.actors import info
    from tinyclaw.teams import teams_of

    with clean_errors():
        home = home_from(ctx)
        config = load(home)
        rows = [info(home, config, name) for name in config.actors]
    if as_json:
        emit(
            {
                "actors": [
                    {
                        "name": r.name,
                        "runner": r.runner,
                        "model": config.actors[r.name].model,
                        "permission_mode": config.actors[r.name].permission_mode,
                        "description": r.description,
                        "teams": teams_of(config, r.name),
                        "teammates": r.teammates,
                        "workspace": r.workspace,
                        "persona_file": r.persona_file,
                        "waiting": r.queued,
                        "default": r.name == config.default_actor,
                    }
                    for r in rows
                ]
            }
        )
        return
    width = max(len(r.name) for r in rows) + 1
    for r in rows:
        teams = ", ".join(r.teams) or "-"
        typer.echo(
            f"@{r.name:<{width}} {r.runner:<6} {r.model:<12} teams: {teams:<20} "
            f"waiting: {r.queued:<3} {r.description}"
        )


@actor_app.command("show")
def show(ctx: typer.Context, name: Annotated[str, typer.Argument(help="the actor")]) -> None:
    """One actor in detail: where its files are and who it works with."""
    from tinyclaw.actors import info

    with clean_errors():
        home = home_from(ctx)
        config = load(home)
        i = info(home, config, name.lstrip("@"))
    persona_state = "" if i.persona_file.exists() else " (written at the next worker start)"
    lines = [
        f"@{i.name}",
        f"  runner:       {i.runner}",
        f"  model:        {i.model}",
        f"  description:  {i.description or '-'}",
        f"  teams:        {', '.join(i.teams) or '-'}",
        f"  teammates:    {', '.join('@' + m for m in i.teammates) or '-'}",
        f"  workspace:    {i.workspace}",
        f"  persona file: {i.persona_file}{persona_state}",
        f"  waiting:      {i.queued} message(s) in its inbox",
    ]
    typer.echo("\n".join(lines))


@actor_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the actor")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="delete its folder without asking")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="remove it even with messages waiting in its inbox")
    ] = False,
) -> None:
    """Remove an actor from tinyclaw.toml with its scheduled jobs; asks before deleting
    actors/NAME/ (its workspace) and before removing jobs."""
    from tinyclaw.actors import delete_folder, plan_removal, remove_from_config, remove_jobs
    from tinyclaw.core import ConfigError

    with clean_errors():
        home = home_from(ctx)
        load(home)
        plan = plan_removal(home, name.lstrip("@"), force=force)
        # Every question comes first: an aborted or declined one changes nothing.
        if plan.jobs:
            typer.echo(f"@{plan.name} has {len(plan.jobs)} scheduled job(s):")
            for job in plan.jobs:
                typer.echo(f"  {job.id}: {job.schedule_text} → {job.to}")
            if not (yes or typer.confirm("Remove them with the actor?", default=False)):
                raise ConfigError(
                    f"@{plan.name} not removed: its jobs would be left without an actor; "
                    "remove them (tinyclaw schedule rm ID) or answer yes"
                )
        delete = False
        if plan.used_by:
            users = ", ".join(f"@{u}" for u in plan.used_by)
        elif plan.folder.exists():
            what = "its folder and the workspace in it" if plan.workspace_inside else "its folder"
            delete = yes or typer.confirm(f"Delete {what}, {plan.folder}?", default=False)
        for path in remove_from_config(home, plan.name):
            typer.echo(f"removed [actors.{plan.name}] from {path}")
        for job_id in remove_jobs(home, plan):
            typer.echo(f"removed job {job_id}")
        if not plan.workspace_inside:
            typer.echo(f"kept its workspace {plan.workspace} (outside {plan.folder})")
        if delete:
            delete_folder(home, plan.name)
            typer.echo(f"deleted {plan.folder}")
        elif plan.used_by:
            typer.echo(f"kept {plan.folder}: the workspace of {users} is inside it")
        elif plan.folder.exists():
            typer.echo(f"kept {plan.folder}")


def trace(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument(help="a conversation id or any message id in it")],
    as_json: JsonOption = False,
) -> None:
    """The path a message took: who got what, when, how long each run took, its cost."""
    from tinyclaw.teams import trace as trace_lines
    from tinyclaw.teams import trace_data

    with clean_errors(), _conversations(home_from(ctx)) as (home, store):
        if as_json:
            emit(trace_data(home, ident, store))
            return
        lines = trace_lines(home, ident, store)
    typer.echo("\n".join(lines))


@contextmanager
def _conversations(home: Home) -> Iterator[tuple[Home, Conversations | None]]:
    """The home and where its team conversations are: the home's files (None, the
    default), or the shared bucket on NATS, whose spool is closed afterwards. The
    events trace reads are always this machine's own."""
    config = load(home)
    if config.spool.backend == "file":
        yield home, None
        return
    from tinyclaw.spool import open_spool
    from tinyclaw.teams import open_conversations

    spool = open_spool(home, config)
    try:
        yield home, open_conversations(home, config, spool)
    finally:
        close = getattr(spool, "close", None)
        if close is not None:
            close()
