"""``tinyclaw steer``, ``tinyclaw cancel`` and ``tinyclaw approve``: what the actor's
window does, for scripts.

``steer`` writes the same steering file a line typed in the window does: the running
agent gets it mid-turn; an idle actor gets it as the next message of the conversation
it last worked on (``--chat`` names another). ``cancel`` is the window's ``/cancel``:
the worker interrupts the run through the CLI's protocol and tells the chat user that
the owner stopped it. ``approve`` answers a pending permission question.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tinyclaw.cli.context import clean_errors, home_from, load
from tinyclaw.core.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("steer")(steer)
    app.command("cancel")(cancel)
    app.command("approve")(approve)


def _actor(ctx: typer.Context, actor: str) -> None:
    config = load(home_from(ctx))
    if actor not in config.actors:
        raise ConfigError(f"no actor {actor!r}; actors: {', '.join(config.actors)}")


def steer(
    ctx: typer.Context,
    actor: Annotated[str, typer.Argument(help="the actor to steer")],
    text: Annotated[str, typer.Argument(help="the line for the agent")],
    chat: Annotated[
        str | None,
        typer.Option(
            "--chat",
            help="conversation (channel:chat_id) for the line; default: "
            "the one the actor works on, else the one it last worked on",
        ),
    ] = None,
) -> None:
    """Send a line to an actor's running agent (or its conversation's next turn)."""
    from tinyclaw.core.live_files import put_steer

    with clean_errors():
        _actor(ctx, actor)
        try:
            path = put_steer(home_from(ctx), actor, text, by="owner", conversation=chat)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    typer.echo(path.stem)


def cancel(
    ctx: typer.Context,
    actor: Annotated[str, typer.Argument(help="the actor whose run to stop")],
) -> None:
    """Stop what an actor is running (the session stays; the user is told)."""
    from tinyclaw.core.fsutil import unique_name
    from tinyclaw.core.messages import Inbound, Sender
    from tinyclaw.spool import Spool

    with clean_errors():
        _actor(ctx, actor)
        message = Inbound(
            id=unique_name(),
            channel="operator",
            chat_id=actor,
            sender=Sender(id="operator", name="owner"),
            text="/cancel",
            kind="command",
        )
        Spool(home_from(ctx)).put(message)
    typer.echo(message.id)


def approve(
    ctx: typer.Context,
    actor: Annotated[str, typer.Argument(help="the actor that asks")],
    decision: Annotated[str, typer.Argument(help="yes, always or no")] = "yes",
    key: Annotated[
        str | None, typer.Option("--key", help="which question (default: oldest)")
    ] = None,
) -> None:
    """Answer an actor's pending permission question (yes = once, always, no)."""
    from tinyclaw.core.live_files import ANSWER_WORDS, answer_approval, pending_approvals

    with clean_errors():
        _actor(ctx, actor)
        home = home_from(ctx)
        chosen = ANSWER_WORDS.get(decision.lower())
        if chosen is None:
            raise ConfigError(f"answer yes, always or no, not {decision!r}")
        waiting = [r for r in pending_approvals(home, actor) if key in (None, r.get("key"))]
        if not waiting:
            raise ConfigError(
                f"@{actor} is not asking anything" + (f" with key {key}" if key else "")
            )
        request = waiting[0]
        if not answer_approval(home, actor, str(request["key"]), chosen, by="cli:owner"):
            raise ConfigError("that question was answered already")
    typer.echo(f"{chosen}: {request.get('tool')} {request.get('detail', '')}")
