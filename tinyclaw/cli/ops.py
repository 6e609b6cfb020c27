"""Operating tinyclaw: ``start``, ``stop``, ``restart``, ``status``, ``attach``, ``logs``,
``doctor``, plus the programs the tmux windows run (``supervise``, ``watch``,
``dashboard``; hidden from ``--help``). Each command is a thin shell around the
``tinyclaw.launcher`` package and imports it only when called."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from tinyclaw.cli.context import check_node, clean_errors, command_name, home_from, load
from tinyclaw.cli.jsonout import JsonOption, emit

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.core import Home
    from tinyclaw.launcher import Launcher


def _launcher(home: Home, config: Config, node: str | None = None) -> Launcher:
    from tinyclaw.launcher import Launcher, Tmux, session_name, socket_name

    return Launcher(home, config, Tmux(session_name(config), socket_name()), node=node)


NodeOption = Annotated[
    str | None,
    typer.Option(
        "--node", help="this machine's worker node: run the worker as [nodes.NAME] (NATS)"
    ),
]


def _attach(home: Home, config: Config, actor: str | None) -> None:
    import subprocess

    from tinyclaw.core import LauncherError
    from tinyclaw.launcher import Tmux, actor_component, session_name, socket_name

    if actor is not None and actor.lstrip("@") not in config.actors:
        raise LauncherError(f"no actor {actor!r}; actors: {', '.join(config.actors)}")
    tmux = Tmux(session_name(config), socket_name())
    if not tmux.exists():
        raise LauncherError(
            f"tmux session {tmux.name!r} is not running; run `{command_name()} start`"
        )
    tmux.check_home(home.root)
    tmux.select(actor_component(actor.lstrip("@")) if actor else None)
    inside = bool(os.environ.get("TMUX"))
    argv = tmux.attach_argv(inside)
    if not inside:
        os.execv(argv[0], argv)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        outside = " ".join(tmux.attach_argv(False))
        raise LauncherError(
            "this terminal is inside another tmux server; detach (C-b d) and run "
            f"`{command_name()} attach`, or nest it: TMUX= {outside}"
        )


def _start(ctx: typer.Context, wait: float, attach: bool | None, node: str | None = None) -> None:
    home = home_from(ctx)
    config = load(home)
    launcher = _launcher(home, config, node)
    report = launcher.start(wait=wait)
    session = launcher.tmux.name
    me = command_name()  # what the user can type: `tinyclaw`, or its full path
    if report.already_running:
        typer.echo(f"tinyclaw is already running in tmux session {session!r} ({me} attach)")
        return
    width = max(len(c.window) for c in report.components)
    as_node = f" as worker node {node!r}" if node is not None else ""
    typer.echo(f"started tmux session {session!r} for {home.root}{as_node}")
    for component in report.components:
        if component.name in report.ready_after:
            state = f"ready after {report.ready_after[component.name]:.2f} s"
        elif wait > 0:
            state = typer.style(
                f"not ready: {report.not_ready.get(component.name, '?')}", fg="yellow"
            )
        else:
            state = "starting"
        typer.echo(f"  {component.window:<{width}}  {component.kind:<8}  {state}")
    if wait > 0:
        if report.not_ready:
            typer.secho(
                f"{len(report.not_ready)} component(s) not ready after {report.elapsed:.1f} s; "
                f"see `{me} status` and `{me} logs`",
                fg="yellow",
            )
        else:
            typer.echo(f"all ready in {report.elapsed:.2f} s")
    if attach is None:
        attach = sys.stdin.isatty() and sys.stdout.isatty()
    if attach:
        _attach(home, config, None)
    else:
        typer.echo(f"watch it: {me} attach [ACTOR]    stop it: {me} stop")


def _waiting(runs: int, timeout: float) -> None:
    """Said before stop waits, which can take up to ``worker.stop_timeout`` + 10 s."""
    if runs:
        typer.echo(
            f"stopping: waiting for {runs} run(s) in flight to finish (at most {timeout:.0f} s; "
            "a run still going then goes back to its inbox for the next start)"
        )
    else:
        typer.echo(
            f"stopping: no runs in flight; waiting for every process to exit "
            f"(at most {timeout:.0f} s)"
        )


def _stop(ctx: typer.Context, timeout: float | None) -> None:
    home = home_from(ctx)
    config = load(home)
    report = _launcher(home, config).stop(timeout=timeout, on_waiting=_waiting)
    if not report.was_running:
        typer.echo("tinyclaw is not running")
        return
    typer.echo(f"stopped {', '.join(report.stopped) or 'the session'} in {report.elapsed:.1f} s")
    if report.killed:
        typer.secho(
            f"killed {len(report.killed)} process(es) that did not stop in time: "
            + ", ".join(map(str, report.killed)),
            fg="yellow",
        )
    if report.waiting:
        waiting = ", ".join(f"{k} {v}" for k, v in report.waiting.items())
        typer.echo(f"kept in the queue for the next start: {waiting}")


def register(app: typer.Typer) -> None:
    @app.command()
    def start(
        ctx: typer.Context,
        wait: Annotated[
            float, typer.Option(help="seconds to wait until every component is ready (0: don't)")
        ] = 30.0,
        attach: Annotated[
            bool | None,
            typer.Option("--attach/--no-attach", help="attach afterwards (default: on a terminal)"),
        ] = None,
        node: NodeOption = None,
    ) -> None:
        """Start everything in one tmux session: worker, listeners, actors, status."""
        check_node(home_from(ctx), node)
        with clean_errors():
            _start(ctx, wait, attach, node)

    @app.command()
    def stop(
        ctx: typer.Context,
        timeout: Annotated[
            float | None,
            typer.Option(help="seconds before stragglers are killed (default: stop_timeout + 10)"),
        ] = None,
    ) -> None:
        """Stop gracefully: runs finish or go back to the queue, then the session ends."""
        with clean_errors():
            _stop(ctx, timeout)

    @app.command()
    def restart(
        ctx: typer.Context,
        wait: Annotated[float, typer.Option(help="seconds to wait for readiness")] = 30.0,
        attach: Annotated[bool | None, typer.Option("--attach/--no-attach")] = None,
        node: NodeOption = None,
    ) -> None:
        """Stop (gracefully), then start again (as the same worker node, unless
        --node names another)."""
        from tinyclaw.launcher import running_node

        node = node or running_node(home_from(ctx))
        check_node(home_from(ctx), node)  # refused before anything is stopped
        with clean_errors():
            _stop(ctx, None)
            _start(ctx, wait, attach, node)

    @app.command()
    def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """Components, queue depths, runs in flight and failures (works without tmux).
        Exit code 0: everything runs; 3: nothing runs; 4: a component is down."""
        from tinyclaw.core import LauncherError
        from tinyclaw.launcher import (
            Tmux,
            collect,
            format_status,
            session_name,
            snapshot_json,
            socket_name,
            status_code,
        )

        with clean_errors():
            home = home_from(ctx)
            config = load(home)
            name = session_name(config)
            running: bool | None
            try:
                running = Tmux(name, socket_name()).exists()
            except LauncherError:
                running = None
            snap = collect(home, config, session=name, session_running=running)
            if as_json:
                emit(snapshot_json(snap))
                raise typer.Exit(status_code(snap))
            typer.echo(format_status(snap))
            from tinyclaw.schedule import schedule_lines

            typer.echo("\n".join(schedule_lines(home, config)))
        raise typer.Exit(status_code(snap))

    @app.command()
    def attach(
        ctx: typer.Context,
        actor: Annotated[str | None, typer.Argument(help="show this actor's window")] = None,
    ) -> None:
        """Attach to the tmux session (switch-client inside tmux) and select a window."""
        with clean_errors():
            home = home_from(ctx)
            _attach(home, load(home), actor)

    @app.command()
    def logs(
        ctx: typer.Context,
        component: Annotated[
            str | None, typer.Argument(help="worker, telegram, events, an actor, …")
        ] = None,
        follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing")] = False,
        lines: Annotated[int, typer.Option("--lines", "-n", help="lines to show")] = 50,
    ) -> None:
        """Show a process's log (without COMPONENT: list the logs)."""
        from tinyclaw.launcher import logs as logfiles

        with clean_errors():
            home = home_from(ctx)
            if component is None:
                found = logfiles.available(home)
                if not found:
                    typer.echo(f"no logs yet in {home.logs}")
                for item in found:
                    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item.modified))
                    typer.echo(f"{item.name:<28} {item.size:>10}  {stamp}")
                return
            path = logfiles.resolve(home, component)
            for line in logfiles.last_lines(path, lines):
                typer.echo(line)
            if follow:
                with contextlib.suppress(KeyboardInterrupt):
                    logfiles.follow(path, sys.stdout)

    @app.command()
    def doctor(ctx: typer.Context) -> None:
        """Check tmux, the CLIs, tokens, permissions and the config; say how to fix each."""
        from tinyclaw.cli.doctor import Doctor, format_checks

        home = home_from(ctx)
        checks = Doctor(home).checks()
        typer.echo(format_checks(checks))
        raise typer.Exit(1 if any(c.level == "problem" for c in checks) else 0)

    @app.command(
        hidden=True,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def supervise(
        ctx: typer.Context,
        component: Annotated[str, typer.Argument(help="component name")],
        ready: Annotated[str, typer.Option(help="file | event:NAME | alive:SECONDS")] = "alive:1",
        interactive: Annotated[bool, typer.Option(help="the child reads the keyboard")] = False,
        own: Annotated[str, typer.Option(help="secrets the child may hold (NAME,…)")] = "",
        withhold: Annotated[str, typer.Option(help="secrets it must not hold (NAME,…)")] = "",
    ) -> None:
        """Run the command after -- and restart it with backoff when it dies."""
        from tinyclaw.launcher import supervise_main

        argv = list(ctx.args)
        if not argv:
            typer.secho("usage: tinyclaw supervise COMPONENT -- COMMAND…", err=True, fg="red")
            raise typer.Exit(2)
        home = home_from(ctx)
        code = supervise_main(
            component,
            argv,
            ready=ready,
            interactive=interactive,
            home_root=home.root,
            own=[n for n in own.split(",") if n],
            withheld=[n for n in withhold.split(",") if n],
        )
        raise typer.Exit(code)

    @app.command(hidden=True)
    def watch(
        ctx: typer.Context,
        actor: Annotated[str, typer.Argument(help="the actor to watch")],
    ) -> None:
        """The actor window: its live progress, and a prompt that talks to it."""
        from tinyclaw.launcher import watch_main

        with clean_errors():
            home = home_from(ctx)
            config = load(home)
            if actor not in config.actors:
                typer.secho(f"error: no actor {actor!r}", err=True, fg="red")
                raise typer.Exit(2)
            raise typer.Exit(watch_main(home, config, actor))

    @app.command(hidden=True)
    def dashboard(ctx: typer.Context) -> None:
        """The status window: a live view of queues, actors and failures."""
        from tinyclaw.launcher import dashboard_main, session_name

        with clean_errors():
            home = home_from(ctx)
            config = load(home)
            raise typer.Exit(dashboard_main(home, config, session_name(config)))
