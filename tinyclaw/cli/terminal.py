"""The terminal channel: ``tinyclaw send`` and ``tinyclaw chat``.

They go through exactly the path a chat platform takes (``incoming/`` → worker →
``outgoing/cli/``), which makes the terminal both the embedded default channel and
the simplest way to check a running installation.
"""

from __future__ import annotations

import getpass
import threading
import time
from collections.abc import Callable
from pathlib import Path

import typer

from tinyclaw.cli.context import load
from tinyclaw.core import (
    ConfigError,
    Home,
    Inbound,
    InvalidMessageError,
    Reply,
    Sender,
    lock_holder,
    printable,
    unique_name,
    worker_lock_path,
)
from tinyclaw.spool import SUFFIX, Spool, require_file_spool
from tinyclaw.worker import resolve_actor

CHANNEL = "cli"
ACTOR_COMMANDS = ("/reset", "/model")  # act on one actor (default: the default actor)
STARTING_GRACE = 5.0  # seconds `send` gives a worker that is starting up to take its lock
ANSWER_WAIT = 10.0  # seconds for the worker to confirm an answer to a permission question
NO_WORKER = "no worker is running for this home; start it with `scripts/start` or `tinyclaw worker`"


def enqueue(home: Home, text: str, *, actor: str | None, chat: str, kind: str = "chat") -> Inbound:
    config = load(home)
    require_file_spool(config, "tinyclaw send and chat")  # nobody would answer it on files
    if actor is not None and resolve_actor(config, actor) is None:
        raise ConfigError(
            f"no actor or team {actor!r}; choose one of: {', '.join([*config.actors, *config.teams])}"
        )
    if actor is not None and kind == "chat":
        text = f"@{actor} {text}"
    elif actor is not None and text.split()[0].lower() in ACTOR_COMMANDS:
        # `chat --actor coder` then `/reset` or `/model opus`: coder's, unless named
        command, _, rest = text.partition(" ")
        if not rest.lstrip().startswith("@"):
            text = f"{command} @{actor} {rest}".rstrip()
    user = getpass.getuser()
    message = Inbound(
        id=unique_name(),
        channel=CHANNEL,
        chat_id=chat,
        sender=Sender(id=user, name=user),
        text=text,
        kind=kind,  # type: ignore[arg-type]
    )
    Spool(home).put(message)
    return message


def receive(
    home: Home, message: Inbound, timeout: float, on_progress: Callable[[Reply], None] | None = None
) -> Reply | None:
    """Wait for the reply to ``message``; hand progress replies (a team at work, named
    ``<id>.<step>.json``) to ``on_progress`` as they land. Each is marked sent."""
    from tinyclaw.core import Watcher

    spool = Spool(home)
    box = spool.outgoing(CHANNEL)
    final = box / (message.id + SUFFIX)
    arrived = threading.Event()
    watcher = Watcher([box], arrived)
    watcher.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            for path in spool.list_box(box):
                if path.name.startswith(message.id + ".") and path != final:
                    progress = _take(spool, path)
                    if progress is not None and on_progress is not None:
                        on_progress(progress)
            if final.exists():
                return _take(spool, final)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            arrived.wait(min(remaining, 0.5))
            arrived.clear()
    finally:
        watcher.stop()


def _take(spool: Spool, path: Path) -> Reply | None:
    try:
        reply = spool.load_reply(path)
    except FileNotFoundError:
        return None
    except InvalidMessageError as exc:
        spool.fail(path, f"unreadable reply: {exc}")
        return None
    spool.mark_sent(path, CHANNEL)
    return reply


def collect_replies(home: Home, *, chat: str | None = None) -> int:
    """Print and mark delivered every reply waiting in ``outgoing/cli/`` (of ``chat``
    only, if given), oldest first, each under a line naming what it answers."""
    spool = Spool(home)
    shown = 0
    for path in spool.replies(CHANNEL):
        try:
            reply = spool.load_reply(path)
        except FileNotFoundError:
            continue
        except InvalidMessageError as exc:
            spool.fail(path, f"unreadable reply: {exc}")
            continue
        if chat is not None and reply.chat_id != chat:
            continue
        by = f", @{reply.actor}" if reply.actor else ""
        typer.secho(f"— {reply.in_reply_to} ({CHANNEL}:{reply.chat_id}{by})", dim=True)
        _print(reply)
        spool.mark_sent(path, CHANNEL)
        shown += 1
    return shown


def _print(reply: Reply) -> None:
    """Show a reply; its text is the model's or a chat user's, so control characters
    (a window retitle, a screen clear) are shown as text, never sent to the terminal."""
    text = printable(reply.text)
    if reply.kind == "progress":
        typer.secho(text, dim=True)
        return
    if reply.kind == "approval":
        typer.secho(text, fg=typer.colors.YELLOW, bold=True)
        return
    color = typer.colors.RED if reply.kind == "error" else None
    typer.secho(text, fg=color)
    for file in reply.files:
        typer.echo(f"[file] {printable(file)}")


def _step(home: Home, reply: Reply, chat: str) -> None:
    """A reply that comes before the answer: a step of the run is shown; a permission
    question is asked here and the answer goes back through the queue, like a chat's."""
    _print(reply)
    if reply.kind != "approval":
        return
    raw = reply.meta.get("approval")
    if not isinstance(raw, dict):
        return
    try:
        said = input("allow? [y once / a always / n deny] ").strip().lower()
    except (EOFError, KeyboardInterrupt):
        said = "n"
    from tinyclaw.core import ANSWER_WORDS

    decision = ANSWER_WORDS.get(said, "deny")
    user = getpass.getuser()
    answer = Inbound(
        id=unique_name(),
        channel=CHANNEL,
        chat_id=chat,
        sender=Sender(id=user, name=user),
        text=said or "n",
        kind="approval",
        meta={"approval": {"actor": raw.get("actor"), "key": raw.get("key"), "decision": decision}},
    )
    Spool(home).put(answer)
    words = {"allow": "allowed once", "allow_session": "allowed for this conversation"}
    noted = receive(home, answer, ANSWER_WAIT)  # the router's word on it, taken here
    late = noted is not None and not noted.text.startswith(("Allowed", "Denied"))
    shown = printable(noted.text) if late and noted else words.get(decision, "denied")
    typer.secho(shown, dim=True)


def worker_running(home: Home, grace: float = 0.0) -> bool:
    """Whether a worker serves ``home`` (it holds the worker lock), waiting up to
    ``grace`` seconds for one that is still starting."""
    deadline = time.monotonic() + grace
    while lock_holder(worker_lock_path(home.state)) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _default_timeout(home: Home) -> float:
    config = load(home)
    return max(a.timeout for a in config.actors.values()) + 60


def send_and_wait(
    home: Home, text: str, *, actor: str | None, chat: str, wait: bool, timeout: float | None
) -> int:
    kind = "command" if text.startswith("/") else "chat"
    message = enqueue(home, text, actor=actor, chat=chat, kind=kind)
    if not wait:
        typer.echo(message.id)
        return 0
    if not worker_running(home, grace=STARTING_GRACE):
        typer.secho(f"queued as {message.id}, but {NO_WORKER}", err=True, fg=typer.colors.YELLOW)
        return 2
    reply = receive(home, message, timeout or _default_timeout(home), on_progress=_print)
    if reply is None:
        typer.secho(
            f"no reply yet (message {message.id} is queued). Is `tinyclaw worker` running?",
            err=True,
            fg=typer.colors.YELLOW,
        )
        return 2
    _print(reply)
    return 1 if reply.kind == "error" else 0


def interactive(home: Home, *, actor: str | None, chat: str) -> None:
    timeout = _default_timeout(home)
    typer.echo("tinyclaw chat: type a message, /help for commands, Ctrl-D to leave.")
    if not worker_running(home):
        typer.secho(f"note: {NO_WORKER}; messages wait in the queue", fg=typer.colors.YELLOW)
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo()
            return
        if not line:
            continue
        kind = "command" if line.startswith("/") else "chat"
        message = enqueue(home, line, actor=actor, chat=chat, kind=kind)
        reply = receive(home, message, timeout, on_progress=lambda r: _step(home, r, chat))
        if reply is None:
            typer.secho("(no reply in time; is `tinyclaw worker` running?)", fg=typer.colors.YELLOW)
        else:
            _print(reply)
