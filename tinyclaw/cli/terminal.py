"""The terminal channel: ``tinyclaw send`` and ``tinyclaw chat``.

They go through exactly the path a chat platform takes (``incoming/`` → worker →
``outgoing/cli/``), which makes the terminal both the embedded default channel and
the simplest way to check a running installation. They use the queue ``[spool]``
names, files or NATS, through the backend interface only, so on NATS a worker node on
another machine answers them.
"""

from __future__ import annotations

import getpass
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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
from tinyclaw.spool import SpoolBackend, open_spool, watch_replies
from tinyclaw.worker import resolve_actor

CHANNEL = "cli"
ACTOR_COMMANDS = ("/reset", "/model")  # act on one actor (default: the default actor)
STARTING_GRACE = 5.0  # seconds `send` gives a worker that is starting up to take its lock
ANSWER_WAIT = 10.0  # seconds for the worker to confirm an answer to a permission question
NO_WORKER = "no worker is running for this home; start it with `scripts/start` or `tinyclaw worker`"

Queue = SpoolBackend[Any]


@contextmanager
def opened(home: Home) -> Iterator[Queue]:
    """The home's queue as ``[spool]`` says (files, or a connection to NATS), closed
    again at the end."""
    spool = open_spool(home, load(home))
    try:
        yield spool
    finally:
        close = getattr(spool, "close", None)  # a NATS spool: its connection
        if close is not None:
            close()


def on_nats(home: Home) -> bool:
    """Whether the queue is shared with other machines: a worker serving it may run
    on any of them, so this machine's worker lock says nothing."""
    return load(home).spool.backend != "file"


def enqueue(
    home: Home, spool: Queue, text: str, *, actor: str | None, chat: str, kind: str = "chat"
) -> Inbound:
    config = load(home)
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
    spool.put(message)
    return message


def receive(
    spool: Queue,
    message: Inbound,
    timeout: float,
    on_progress: Callable[[Reply], None] | None = None,
) -> Reply | None:
    """Wait for the reply to ``message``; hand progress replies (a team at work, with
    the id ``<id>.<step>``) to ``on_progress`` as they land. Each is marked sent. A
    watcher (files) or a subscription (NATS) wakes the wait; the scan is the truth."""
    arrived = threading.Event()
    stop = watch_replies(spool, CHANNEL, arrived.set)
    others: set[Any] = set()  # waiting replies to other messages: not read again
    try:
        deadline = time.monotonic() + timeout
        while True:
            final: Any = None
            for handle in spool.replies(CHANNEL):
                if handle in others:
                    continue
                reply = _read(spool, handle)
                if reply is None or not reply.id.startswith(message.id):
                    others.add(handle)
                elif reply.id == message.id:
                    final = handle
                elif reply.id.startswith(message.id + "."):
                    spool.mark_sent(handle, CHANNEL)
                    if on_progress is not None:
                        on_progress(reply)
                else:
                    others.add(handle)
            if final is not None:
                return _take(spool, final)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            arrived.wait(min(remaining, 0.5))
            arrived.clear()
    finally:
        stop()


def _read(spool: Queue, handle: Any) -> Reply | None:
    """The reply behind ``handle``; None when it is gone, or unreadable (then it is
    failed with the reason, never shown half)."""
    try:
        return spool.load_reply(handle)
    except FileNotFoundError:
        return None
    except InvalidMessageError as exc:
        spool.fail(handle, f"unreadable reply: {exc}")
        return None


def _take(spool: Queue, handle: Any) -> Reply | None:
    reply = _read(spool, handle)
    if reply is not None:
        spool.mark_sent(handle, CHANNEL)
    return reply


def collect_replies(home: Home, *, chat: str | None = None) -> int:
    """Print and mark delivered every reply waiting for the terminal (of ``chat``
    only, if given), oldest first, each under a line naming what it answers."""
    shown = 0
    with opened(home) as spool:
        for handle in spool.replies(CHANNEL):
            reply = _read(spool, handle)
            if reply is None or (chat is not None and reply.chat_id != chat):
                continue
            by = f", @{reply.actor}" if reply.actor else ""
            typer.secho(f"— {reply.in_reply_to} ({CHANNEL}:{reply.chat_id}{by})", dim=True)
            _print(reply)
            spool.mark_sent(handle, CHANNEL)
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


def _step(spool: Queue, reply: Reply, chat: str) -> None:
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
    spool.put(answer)
    words = {"allow": "allowed once", "allow_session": "allowed for this conversation"}
    noted = receive(spool, answer, ANSWER_WAIT)  # the router's word on it, taken here
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
    with opened(home) as spool:
        message = enqueue(home, spool, text, actor=actor, chat=chat, kind=kind)
        if not wait:
            typer.echo(message.id)
            return 0
        shared = on_nats(home)
        if not shared and not worker_running(home, grace=STARTING_GRACE):
            typer.secho(
                f"queued as {message.id}, but {NO_WORKER}", err=True, fg=typer.colors.YELLOW
            )
            return 2
        reply = receive(spool, message, timeout or _default_timeout(home), on_progress=_print)
    if reply is None:
        who = "the worker node of its actor" if shared else "`tinyclaw worker`"
        typer.secho(
            f"no reply yet (message {message.id} is queued). Is {who} running?",
            err=True,
            fg=typer.colors.YELLOW,
        )
        return 2
    _print(reply)
    return 1 if reply.kind == "error" else 0


def interactive(home: Home, *, actor: str | None, chat: str) -> None:
    timeout = _default_timeout(home)
    typer.echo("tinyclaw chat: type a message, /help for commands, Ctrl-D to leave.")
    shared = on_nats(home)
    if not shared and not worker_running(home):
        typer.secho(f"note: {NO_WORKER}; messages wait in the queue", fg=typer.colors.YELLOW)
    with opened(home) as spool:
        while True:
            try:
                line = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                typer.echo()
                return
            if not line:
                continue
            kind = "command" if line.startswith("/") else "chat"
            message = enqueue(home, spool, line, actor=actor, chat=chat, kind=kind)
            reply = receive(spool, message, timeout, on_progress=lambda r: _step(spool, r, chat))
            if reply is None:
                who = "a worker node for its actor" if shared else "`tinyclaw worker`"
                typer.secho(f"(no reply in time; is {who} running?)", fg=typer.colors.YELLOW)
            else:
                _print(reply)
