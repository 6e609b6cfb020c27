"""``tinyclaw watch ACTOR``: the actor's tmux window — watch it work, type to steer it.

What the window shows comes from three files, polled a few times a second: the
actor's live progress (``logs/live/<actor>.jsonl``: the task it took, tool calls,
commands, file edits, the answer), the event log (queued, finished in N s, cost,
failures) and ``queue/outgoing/operator/`` (answers to what the operator typed).

A line typed here **steers** the actor: it becomes a steering file
(``queue/steer/<actor>/``) that the running agent gets mid-turn, on its stdin (claude)
or as ``turn/steer`` (codex). While the actor is idle the line becomes the next
message of the conversation it last worked on (shown as "lines go to …"); ``#N``
before a line picks conversation N of the list the window shows, ``#0`` the window's
own side conversation with the actor (channel ``operator``, chat = the actor).

When the agent asks permission for a tool, the question is shown here and ``y``
(allow once), ``a`` (allow this tool for the conversation) or ``n`` (deny) answers it.
A line starting with ``/`` is a chat command (``/status``, ``/cancel``, ``/reset``)
for the window's own conversation, except that the operator owns the home: ``/cancel``
here stops whatever @actor is running, whoever asked for it, and that chat is told
the owner stopped it. Answers in the side conversation come back as reply files,
which this window shows and then moves to ``sent/`` (it has no other listener).
"""

from __future__ import annotations

import getpass
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TextIO

from tinyclaw.config import Config
from tinyclaw.core.errors import InvalidMessageError
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import (
    ANSWER_WORDS,
    answer_approval,
    pending_approvals,
    put_steer,
    recent_conversations,
)
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.launcher import render
from tinyclaw.launcher.state import touch_ready
from tinyclaw.runners.live_log import JsonlTail, live_path
from tinyclaw.spool import Spool

CHANNEL = "operator"
BACKLOG = 16_000


class ActorWatch:
    def __init__(
        self,
        home: Home,
        config: Config,
        actor: str,
        *,
        out: TextIO | None = None,
        color: bool | None = None,
        user: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = home
        self.config = config
        self.actor = actor
        self.out = out or sys.stdout
        self.style = render.Style(self.out.isatty() if color is None else color)
        self.user = user or _user()
        self.clock = clock
        self.spool = Spool(home)
        self.live = JsonlTail(live_path(home, actor), backlog=BACKLOG)
        self.events = JsonlTail(home.logs / "events.jsonl")
        self._shown: dict[str, bool] = {}  # task id -> its text was shown
        self._last_text: str | None = None  # the CLI's last message, if just shown
        self._last_answer: str | None = None
        self._write_lock = threading.Lock()
        self._asked: set[str] = set()  # approval keys already shown
        self._target: str | None = None  # the conversation lines go to, as last shown

    # -- output ----------------------------------------------------------------------

    def emit(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._write_lock:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()

    def header(self) -> list[str]:
        s = self.style
        actor = self.config.actors[self.actor]
        model = f" · model {actor.model}" if actor.model else ""
        workspace = self.config.workspace_for(self.home, self.actor)
        lines = [
            s(f"@{self.actor}", "bold") + s(f" — {actor.runner}{model} — {workspace}", "dim"),
        ]
        if actor.description:
            lines.append(s(actor.description, "dim"))
        lines.append(
            s(
                f"Type a line to steer @{self.actor}: it reaches the run in progress, or "
                "becomes the next message of the conversation shown as 'lines go to'. "
                "#N before a line picks conversation N (#0: your side chat with "
                f"@{self.actor}). y / a / n reply to a permission question (allow once, "
                f"allow for the conversation, deny). /cancel stops @{self.actor}'s "
                "current run. C-b d detaches.",
                "yellow",
            )
        )
        return [*lines, ""]

    # -- where lines go, and questions ---------------------------------------------

    def conversations(self) -> list[dict[str, object]]:
        """#1.. the actor's recent conversations, newest first (#0 is the side chat)."""
        return list(recent_conversations(self.home, self.actor))

    def poll_target(self) -> list[str]:
        recent = self.conversations()
        if not recent:
            return []
        first = recent[0]
        key = str(first["key"])
        if key == self._target:
            return []
        self._target = key
        listed = ", ".join(
            f"#{n} {entry['key']}" + (f" ({entry.get('sender')})" if entry.get("sender") else "")
            for n, entry in enumerate(recent, 1)
        )
        return [self.style(f"(lines go to {key}; {listed}; #0 side chat)", "dim")]

    def poll_questions(self) -> list[str]:
        lines = []
        for request in self._window_questions():
            key = str(request.get("key"))
            if key in self._asked:
                continue
            self._asked.add(key)
            lines.append(
                self.style(
                    f"? @{self.actor} asks to use {request.get('tool')}: "
                    f"{request.get('detail', '')}  [y once / a always / n deny]",
                    "bold",
                    "yellow",
                )
            )
        return lines

    def _window_questions(self) -> list[dict[str, object]]:
        return [
            r for r in pending_approvals(self.home, self.actor) if "window" in r.get("routes", [])
        ]

    # -- the three sources -----------------------------------------------------------

    def _task_from_event(self, event: dict[str, object]) -> list[str]:
        task_id = str(event.get("id", "?"))
        if task_id in self._shown:
            return []
        record: dict[str, object] = {"ts": event.get("ts"), "id": task_id}
        path = self.spool.processing(self.actor) / f"{task_id}.json"
        try:
            from tinyclaw.core.messages import load_inbound

            message = load_inbound(path.read_bytes(), default_id=task_id)
            record.update(
                text=message.text,
                channel=message.channel,
                chat_id=message.chat_id,
                sender=message.sender.name or message.sender.id,
            )
            if message.handoff is not None:
                record["from_actor"] = message.handoff.from_actor
        except (OSError, InvalidMessageError):
            pass
        self._shown[task_id] = "text" in record
        return render.task_header(record, self.style)

    def _task_from_marker(self, record: dict[str, object]) -> list[str]:
        task_id = str(record.get("id", "?"))
        if task_id not in self._shown:
            self._shown[task_id] = True
            return render.task_header(record, self.style)
        if not self._shown[task_id] and record.get("text"):
            self._shown[task_id] = True
            return [self.style(line, "cyan") for line in render._indent(str(record["text"]), 6)]
        return []

    def poll_events(self) -> list[tuple[float, list[str]]]:
        found: list[tuple[float, list[str]]] = []
        for event in self.events.poll():
            if event.get("actor") != self.actor:
                continue
            if event.get("event") == "run.start":
                lines = self._task_from_event(event)
            else:
                lines = render.logged(event, self.style)
            if lines:
                found.append((_ts(event), lines))
        return found

    def poll_live(self) -> list[tuple[float, list[str]]]:
        found: list[tuple[float, list[str]]] = []
        for record in self.live.poll():
            kind = record.get("kind")
            text = str(record.get("text", ""))
            if kind == "task.start":
                lines = self._task_from_marker(record)
            elif kind == "task.end":
                continue  # run.end in the event log says it, with timing
            elif kind == "result":
                lines = render.progress(record, self.style, repeated=text == self._last_text)
                self._last_answer = text
            else:
                lines = render.progress(record, self.style)
            if kind == "text":
                self._last_text = text
            elif kind != "result":
                self._last_text = None
            if lines:
                found.append((_ts(record), lines))
        return found

    def poll_replies(self) -> list[str]:
        lines: list[str] = []
        for path in self.spool.replies(CHANNEL):
            try:
                # The spool's reader: a link or FIFO planted in the box is refused.
                reply = self.spool.load_reply(path)
            except FileNotFoundError:
                continue
            except InvalidMessageError as exc:
                self.spool.fail(path, f"unreadable operator reply: {exc}")
                continue
            if reply.chat_id != self.actor:
                continue  # another actor's window will show it
            lines += render.operator_reply(
                reply.actor or self.actor,
                reply.text,
                reply.kind,
                self.clock(),
                self.style,
                repeated=reply.text == self._last_answer,
            )
            self.spool.mark_sent(path, CHANNEL)
        return lines

    def poll(self) -> list[str]:
        """Everything new, in time order across the event log and the live file (they
        are written by different threads of the worker), then the operator's replies."""
        batches = sorted(self.poll_events() + self.poll_live(), key=lambda item: item[0])
        lines = [line for _, batch in batches for line in batch]
        return lines + self.poll_replies() + self.poll_target() + self.poll_questions()

    # -- input -----------------------------------------------------------------------

    def send(self, text: str) -> str | None:
        """Act on one typed line; returns the id of what it queued (None: nothing)."""
        if text.startswith("/"):
            return self._command(text)
        questions = self._window_questions()
        decision = ANSWER_WORDS.get(text.strip().lower())
        if questions and decision is not None:
            request = questions[0]
            answered = answer_approval(
                self.home, self.actor, str(request["key"]), decision, by=f"window:{self.user}"
            )
            word = {"allow": "allowed once", "allow_session": "allowed for the conversation"}
            said = word.get(decision, "denied") if answered else "too late: no longer asked"
            self.emit([self.style(f"  → {request.get('tool')}: {said}", "yellow")])
            return str(request["key"]) if answered else None
        conversation, line = self._pick(text)
        if conversation == "":
            return None
        try:
            path = put_steer(self.home, self.actor, line, by=self.user, conversation=conversation)
        except ValueError as exc:
            self.emit([self.style(f"not sent: {exc}".splitlines()[0], "red")])
            return None
        where = conversation or self._target or f"{CHANNEL}:{self.actor}"
        self.emit(render.steer_sent(line, where, self.actor, self.style))
        return path.stem

    def _pick(self, text: str) -> tuple[str | None, str]:
        """``#N rest``: conversation N of the list (``#0`` the side chat); "" when N is
        not on the list (said in the window)."""
        if not text.startswith("#"):
            return None, text
        number, _, rest = text[1:].partition(" ")
        if not number.isdigit():
            return None, text
        if number == "0":
            return f"{CHANNEL}:{self.actor}", rest.strip()
        recent = self.conversations()
        index = int(number) - 1
        if index >= len(recent):
            self.emit([self.style(f"not sent: there is no conversation #{number}", "red")])
            return "", rest
        return str(recent[index]["key"]), rest.strip()

    def _command(self, text: str) -> str | None:
        """Queue one ``/command`` for the window's own conversation."""
        try:
            message = self._message(text, True)
        except ValueError as exc:  # pydantic's ValidationError: a NUL byte, too long
            self.emit([self.style(f"not sent: {exc}".splitlines()[0], "red")])
            return None
        self.spool.put(message)
        self.emit(render.operator_sent(text, message.id, self.actor, self.style))
        return message.id

    def _message(self, text: str, command: bool) -> Inbound:
        return Inbound(
            id=unique_name(),
            channel=CHANNEL,
            chat_id=self.actor,
            sender=Sender(id=CHANNEL, name=self.user),
            text=text,
            kind="command" if command else "operator",
            actor=None if command else self.actor,
        )

    # -- the program -----------------------------------------------------------------

    def run(
        self, stdin: TextIO, *, interval: float = 0.1, stop: threading.Event | None = None
    ) -> None:
        stop = stop or threading.Event()
        self.emit(self.header())
        history = [line for _, batch in self.poll_live() for line in batch]
        if history:
            self.emit(
                [self.style("(recent activity)", "dim"), *history, self.style("(live)", "dim")]
            )
        touch_ready()
        poller = threading.Thread(target=self._poll_loop, args=(stop, interval), daemon=True)
        poller.start()
        try:
            self._read_input(stdin, stop)
            stop.wait()
        finally:
            stop.set()
            poller.join(timeout=2)

    def _poll_loop(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            self.emit(self.poll())
            stop.wait(interval)

    def _read_input(self, stdin: TextIO, stop: threading.Event) -> None:
        interactive = stdin.isatty()
        while not stop.is_set():
            try:
                line = stdin.readline()
            except KeyboardInterrupt:
                self.emit(
                    [
                        self.style(
                            "(Ctrl-C stops nothing here: /cancel stops the actor's current run)",
                            "dim",
                        )
                    ]
                )
                continue
            if not line:
                if not interactive:
                    return  # no keyboard (tests, pipes): keep watching
                self.emit([self.style("(this window stays open; C-b d detaches)", "dim")])
                continue
            text = line.strip()
            if text:
                self.send(text)


def _ts(record: dict[str, object]) -> float:
    value = record.get("ts")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def watch_main(home: Home, config: Config, actor: str) -> int:
    """The body of ``tinyclaw watch ACTOR``."""
    from tinyclaw.core.logsetup import setup_logging

    setup_logging(home.logs, f"watch-{actor}", stderr=False)
    stop = threading.Event()

    def _on_term(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    ActorWatch(home, config, actor).run(sys.stdin, stop=stop)
    return 0
