"""``tinyclaw schedule``: add, list, pause, resume and remove scheduled prompts.

Each job is a file under ``<home>/schedules/``; the worker notices it on its next scan
and queues a run for the actor whenever it is due, delivering the answer to ``--to``.
Every mistake (a bad cron expression, an unknown zone, a malformed target, an actor
that is not configured) is one line on stderr and exit code 1.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from tinyclaw.actors.persona import refresh_persona
from tinyclaw.cli.context import clean_errors, home_from
from tinyclaw.cli.jsonout import JsonOption, emit
from tinyclaw.config import NAME_RE, load_config
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home
from tinyclaw.schedule.models import build_job
from tinyclaw.schedule.scheduler import Scheduler
from tinyclaw.schedule.status import format_rows, format_time
from tinyclaw.schedule.store import JobStore
from tinyclaw.schedule.targets import CHANNELS
from tinyclaw.schedule.timing import local_zone

schedule_app = typer.Typer(
    name="schedule",
    help="Prompts that run on a schedule: add, list, pause, resume, rm.",
    no_args_is_help=True,
    add_completion=False,
)


def register(app: typer.Typer) -> None:
    """Mount the group on the main command as ``tinyclaw schedule``."""
    app.add_typer(schedule_app, name="schedule")


def _check_actor(home: Home, actor: str) -> None:
    """A valid name, and, when the home has a configuration, a defined actor (without
    one, e.g. while setting up, the name alone is checked)."""
    if not NAME_RE.fullmatch(actor):
        raise ConfigError(
            f"invalid actor name {actor!r}: use a-z, 0-9, '-' and '_', at most 32 characters"
        )
    if not home.config_file.exists():
        return
    config = load_config(home)
    if actor not in config.actors:
        defined = ", ".join(sorted(config.actors))
        raise ConfigError(f"unknown actor {actor!r} (defined: {defined})")


def _refresh_persona(home: Home, actor: str) -> None:
    """A job's ``--to`` is a chat its actor may write to first, and the actor's persona
    lists those chats: rewrite it now, not at the next worker start (the worker also
    notices on its next pass)."""
    if home.config_file.exists():
        refresh_persona(home, load_config(home), actor)


@schedule_app.command("add")
def add(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="what the actor is asked at each run")],
    actor: Annotated[str, typer.Option("--actor", help="the actor that runs the prompt")],
    to: Annotated[
        str,
        typer.Option(
            "--to", help=f"where the answer goes: channel:chat_id ({', '.join(CHANNELS)})"
        ),
    ],
    cron: Annotated[
        str | None, typer.Option("--cron", help="cron expression, e.g. '0 9 * * 1-5'")
    ] = None,
    every: Annotated[str | None, typer.Option("--every", help="interval, e.g. 30m, 2h, 1d")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="once, at an ISO date-time, e.g. 2026-12-01T09:00")
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="IANA zone for --cron and a naive --at (default: local)"),
    ] = None,
) -> None:
    """Schedule a prompt: exactly one of --cron, --every, --at."""
    with clean_errors():
        if sum(value is not None for value in (cron, every, at)) != 1:
            raise ConfigError("give exactly one of --cron, --every or --at")
        if tz is not None and every is not None:
            raise ConfigError("--tz applies to --cron and --at, not to --every")
        home = home_from(ctx)
        _check_actor(home, actor)
        zone = local_zone()
        job = build_job(
            actor=actor,
            to=to,
            prompt=prompt,
            now=datetime.now(UTC),
            local_tz=zone,
            cron=cron,
            every=every,
            at=at,
            tz=tz,
        )
        JobStore.for_home(home).add(job)
        _refresh_persona(home, actor)
    typer.echo(f"added {job.id}: {job.schedule_text}, next run {format_time(job.next_run, zone)}")


@schedule_app.command("list")
def list_jobs(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option("--actor", help="only this actor's jobs")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show every job with its next run; rejected job files are listed after them."""
    with clean_errors():
        store = JobStore.for_home(home_from(ctx))
        zone = local_zone()
        scheduler = Scheduler(store, local_tz=zone)
        now = datetime.now(UTC)
        rows = [
            scheduler.job_row(job, now)
            for job in store.list()
            if actor is None or job.actor == actor
        ]
        failures = store.failures()
    if as_json:
        emit(
            {
                "jobs": [
                    {
                        "id": row.key,
                        "actor": row.actor,
                        "schedule": row.schedule,
                        "to": row.to,
                        "next_run": row.next_run,
                        "last_run": row.last_run,
                        "state": row.state,
                        "prompt": row.prompt,
                    }
                    for row in rows
                ],
                "rejected": [{"file": f.name, "reason": f.reason} for f in failures],
            }
        )
        return
    if rows:
        typer.echo(format_rows(rows, zone))
    else:
        typer.echo("no scheduled jobs" + (f" for {actor}" if actor else ""))
    for failed in failures:
        typer.echo(f"failed/{failed.name}: {failed.reason}")


@schedule_app.command("pause")
def pause(ctx: typer.Context, job_id: Annotated[str, typer.Argument(help="job id")]) -> None:
    """Stop a job from running until it is resumed."""
    with clean_errors():
        job = JobStore.for_home(home_from(ctx)).pause(job_id)
    typer.echo(f"paused {job.id}")


@schedule_app.command("resume")
def resume(ctx: typer.Context, job_id: Annotated[str, typer.Argument(help="job id")]) -> None:
    """Let a paused job run again (slots missed while paused are skipped)."""
    with clean_errors():
        zone = local_zone()
        job = JobStore.for_home(home_from(ctx)).resume(job_id, datetime.now(UTC), zone)
    when = "done" if job.done else f"next run {format_time(job.next_run, zone)}"
    typer.echo(f"resumed {job.id}: {when}")


@schedule_app.command("rm")
def remove(ctx: typer.Context, job_id: Annotated[str, typer.Argument(help="job id")]) -> None:
    """Delete a job."""
    with clean_errors():
        home = home_from(ctx)
        job = JobStore.for_home(home).remove(job_id)
        _refresh_persona(home, job.actor)
    typer.echo(f"removed {job.id}")
