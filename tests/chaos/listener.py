"""What every platform side of ``python -m tests.chaos`` shares: a real listener process
against a loopback fake, SIGKILLed and restarted, and the per-platform audit.

A side (``telegram.py``, ``discord.py``, ``whatsapp.py`` next to this module) says only
how its platform is configured, how a user's message reaches the fake and what the
fake accepted as answers. The rest is here:

* the process: ``python -m tinyclaw.channels PLATFORM`` (what the launcher runs), one
  stderr file per life; :meth:`ListenerSide.restart` SIGKILLs it and starts the next
  one at once; a listener that exits by itself is restarted as a supervisor would and
  counted (``<platform>_unexpected_exits``);
* the bookkeeping: message number -> the chat it was written in. A number counts once
  per answer the fake accepted *in that chat* whose text carries it, so a part sent
  again after a kill shows up as a duplicate, the way a user would see it; an answer in
  another chat counts as ``<platform>_wrong_chat``.

The bound the run checks per platform: at most one duplicate per listener kill. A
listener killed after the platform accepted a part, before it recorded that in
``sent/``, sends that part again on restart: none of the three send APIs takes an
idempotency key, so nothing on our side can tell "sent" from "about to be sent".
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from tests.chaos.queues import FileQueue, QueueView
from tinyclaw.core.errors import InvalidMessageError
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_inbound
from tinyclaw.spool import Spool

NUMBER = re.compile(r"<(\d+)>")
USERS = 6  # distinct users per platform, each in a 1:1 chat of their own

for _name in ("aiohttp.server", "aiohttp.web", "aiohttp.websocket"):
    # A listener SIGKILLed mid-request makes the fakes' aiohttp log a traceback: expected.
    logging.getLogger(_name).setLevel(logging.CRITICAL)


class ListenerSide(ABC):
    """One platform: its loopback fake, its listener process, what was sent and answered.

    ``lock`` orders the process's life against the side's own threads (a sender that
    must not hand a message to a listener being killed, the supervisor)."""

    platform: ClassVar[str]

    def __init__(self, home: Home, repo: Path, queue: QueueView | None = None) -> None:
        self.home = home
        self.repo = repo
        self.spool = Spool(home)
        self.queue: QueueView = queue if queue is not None else FileQueue(self.spool)
        self.lock = threading.RLock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.lives = 0
        self.kills = 0
        self.kill_times: list[float] = []
        self.unexpected_exits: list[int] = []
        self.exit_times: list[float] = []  # when each of those was noticed
        self.expected: dict[int, str] = {}  # message number -> chat id it was written in
        self.actor_of: dict[int, str] = {}  # message number -> the actor it was for
        self.answered_at: dict[int, float] = {}  # message number -> when first seen answered
        self._tally_lock = threading.Lock()
        self._tallied = 0  # answers counted so far (the fakes only ever append)
        self._counts: Counter[int] = Counter()
        self._wrong = 0
        self.closed = threading.Event()
        self._stopping = False
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"chaos-{self.platform}-supervisor", daemon=True
        )

    # -- what a platform provides ------------------------------------------------------

    @abstractmethod
    def config(self) -> str:
        """The ``[channels.<platform>]`` table pointing the listener at the fake."""

    @abstractmethod
    def secrets(self) -> dict[str, str]:
        """The environment the listener reads its token(s) from."""

    @abstractmethod
    def chat_id(self, chat: int) -> str:
        """The id of the 1:1 chat of user ``chat % USERS`` with the bot."""

    @abstractmethod
    def deliver(self, text: str, chat: int) -> None:
        """User ``chat % USERS`` writes ``text`` to the bot."""

    @abstractmethod
    def answers(self) -> list[tuple[str, str]]:
        """(chat id, text) of every message the fake accepted from the bot."""

    def pending(self) -> int:
        """User messages the platform has not handed to a listener yet."""
        return 0

    def figures(self) -> dict[str, Any]:
        """Platform-specific figures, added to the audit as ``<platform>_<name>``."""
        return {}

    def killed(self) -> None:  # noqa: B027 (an optional hook)
        """Called (under ``lock``) once a killed listener is gone, before the next starts."""

    @abstractmethod
    def close_fake(self) -> None:
        """Stop the platform's fake and any thread of the side."""

    # -- the listener process ----------------------------------------------------------

    def start(self) -> float:
        """Start the next life of the listener (and, the first time, its supervisor)."""
        with self.lock:
            self.lives += 1
            name = f"chaos-{self.platform}-{self.lives:03d}.stderr"
            log = (self.home.logs / name).open("wb")
            env = {**os.environ, "TINYCLAW_HOME": str(self.home.root), **self.secrets()}
            env.pop("TINYCLAW_FAILPOINT", None)
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tinyclaw.channels", self.platform],
                cwd=self.repo,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
            log.close()
            self.started()
            if not self._supervisor.is_alive():
                self._supervisor.start()
            return time.time()

    def started(self) -> None:  # noqa: B027 (an optional hook)
        """Called (under ``lock``) right after a new listener process was spawned."""

    def restart(self) -> float:
        """SIGKILL the listener, then start the next one at once; returns the kill time."""
        with self.lock:
            assert self.proc is not None
            when = time.time()
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1
            self.kill_times.append(when)
            self.killed()
            self.start()
            return when

    def stop(self) -> int | None:
        """SIGTERM: the listener must finish what it sends and exit 0."""
        with self.lock:
            self._stopping = True
            if self.proc is None:
                return None
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None

    def close(self) -> None:
        self.closed.set()
        if self._supervisor.is_alive():
            self._supervisor.join(5)
        self.close_fake()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def is_ready(self) -> bool:
        """Whether the current listener said it is serving (its ``listener.ready`` event)."""
        pid = self.proc.pid if self.proc is not None else None
        return any(
            e["event"] == "listener.ready" and e.get("channel") == self.platform and e["pid"] == pid
            for e in EventLog(self.home.logs / "events.jsonl").read()
        )

    def _supervise(self) -> None:
        """Restart a listener that exited without being told to (a crash, a port still
        taken): what the launcher's supervisor does. Each such exit is reported."""
        while not self.closed.wait(0.2):
            with self.lock:
                if self._stopping or self.proc is None:
                    continue
                code = self.proc.poll()
                if code is not None:
                    self.unexpected_exits.append(code)
                    self.exit_times.append(time.time())
                    self.start()

    # -- messages and the audit --------------------------------------------------------

    def send(self, number: int, actor: str, chat: int) -> None:
        """A user writes message ``number`` for ``actor``; the answer must quote it."""
        self.expected[number] = self.chat_id(chat)  # before the answer can exist
        self.actor_of[number] = actor
        self.deliver(f"@{actor} message <{number}>", chat)

    def queued(self, chat_id: str, message_id: str) -> bool:
        """Whether a listener queued the platform's message (or is sure to: a writer
        killed between the two steps is rolled forward by the worker). The key is the
        one ``Spool.put`` registers in ``queue/seen/`` for ``dedupe_key``."""
        key = f"{chat_id}:{message_id}".encode()
        digest = hashlib.sha256(key).hexdigest()[:40]
        return (self.spool.seen_root / self.platform / digest).exists()

    def tally(self) -> tuple[Counter[int], int]:
        """How often each number was answered in its own chat, and answers elsewhere.
        Counted as answers arrive, so polling it through a long run stays cheap."""
        with self._tally_lock:
            answers = self.answers()
            for chat, text in answers[self._tallied :]:
                if not text.startswith("echo: "):
                    continue
                for match in NUMBER.findall(text):
                    number = int(match)
                    if self.expected.get(number) == chat:
                        self._counts[number] += 1
                        self.answered_at.setdefault(number, time.time())
                    else:
                        self._wrong += 1
            self._tallied = len(answers)
            return Counter(self._counts), self._wrong

    def failed(self) -> set[int]:
        """Numbers of this platform's messages in ``failed/`` (the worker gave up on
        them, say after ``max_attempts`` interruptions): not lost, they carry a reason."""
        numbers: set[int] = set()
        for data in self.queue.failed_messages():
            try:
                message = load_inbound(data)
            except InvalidMessageError:
                continue  # a reply that could not be delivered: its message counts as lost
            if message.channel == self.platform:
                numbers.update(int(n) for n in NUMBER.findall(message.text))
        return numbers

    def delivered(self) -> int:
        """Messages answered at least once (the run's progress)."""
        self.tally()
        with self._tally_lock:
            return len(self._counts)

    def settled(self) -> bool:
        done, _ = self.tally()
        failed = self.failed()
        return (
            self.pending() == 0
            and all(n in done or n in failed for n in self.expected)
            and not self.queue.waiting(self.platform)
        )

    def audit(self) -> dict[str, Any]:
        done, wrong = self.tally()
        failed = self.failed() - set(done)
        p = self.platform
        figures: dict[str, Any] = {
            f"{p}_messages": len(self.expected),
            f"{p}_kills": self.kills,
            f"{p}_answered": sum(1 for n in self.expected if n in done),
            f"{p}_failed": sum(1 for n in self.expected if n in failed),
            f"{p}_lost": sum(1 for n in self.expected if n not in done and n not in failed),
            f"{p}_duplicated": sum(1 for n in self.expected if done[n] > 1),
            f"{p}_wrong_chat": wrong,
            f"{p}_left_in_outgoing": self.queue.waiting(p),
            f"{p}_listener_lives": self.lives,
            f"{p}_unexpected_exits": len(self.unexpected_exits),
        }
        figures.update({f"{p}_{k}": v for k, v in self.figures().items()})
        return figures

    def ok(self, figures: dict[str, Any], exit_code: int | None) -> bool:
        """This platform's part of the verdict (its losses count in the run's ``lost``)."""
        p = self.platform
        return (
            figures[f"{p}_lost"] == 0
            # The documented bound: one part in flight per listener kill, sent again.
            and figures[f"{p}_duplicated"] <= figures[f"{p}_kills"]
            and figures[f"{p}_wrong_chat"] == 0
            and figures[f"{p}_left_in_outgoing"] == 0
            and figures[f"{p}_unexpected_exits"] == 0  # a listener dies only when killed
            and exit_code == 0
        )
