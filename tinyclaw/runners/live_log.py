"""Live progress of each actor: ``logs/live/<actor>.jsonl``, written by the worker,
followed by the actor's tmux window.

:class:`LiveSink` is the worker's ``progress`` hook: every :class:`RunEvent` a CLI
streams (tool calls, commands, file edits, text, the final answer) becomes one JSON
line in the actor's file, with a ``task.start`` marker (the message it took) before a
run's first event and a ``task.end`` marker after its final answer. Files are bounded:
past ``max_bytes`` the file is renamed to ``<actor>.jsonl.1`` (replacing the previous
one) and a new one begins, so a busy actor costs at most twice ``max_bytes``.

:class:`JsonlTail` follows such a file like ``tail -F``: across the rename, across a
truncation, and before the file exists. Progress is for the operator only; a failure
to write it is logged and never disturbs the run.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tinyclaw.core import Home

if TYPE_CHECKING:
    from tinyclaw.core import Inbound
    from tinyclaw.runners.contract import RunEvent

log = logging.getLogger("tinyclaw.runners.live_log")

MAX_BYTES = 1_000_000
MAX_TEXT = 4_000
MAX_DATA = 4_000


def live_dir(home: Home) -> Path:
    return home.logs / "live"


def live_path(home: Home, actor: str) -> Path:
    return live_dir(home) / f"{actor}.jsonl"


def _bounded(value: Any) -> Any:
    """``value`` as JSON-safe data no longer than MAX_DATA characters when dumped."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= MAX_DATA:
        return json.loads(text)
    return {"truncated": text[:MAX_DATA] + "…"}


class LiveSink:
    """``Callable[[str, RunEvent], None]``: pass it as ``Worker(progress=...)``."""

    def __init__(
        self,
        home: Home,
        *,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = home
        self.dir = live_dir(home)
        self.max_bytes = max_bytes
        self.clock = clock
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}
        self._current: dict[str, str] = {}  # actor -> id of the message in its run
        self._begun: dict[str, tuple[str, Inbound]] = {}  # actor -> its run's message

    def begin(self, actor: str, message_id: str, message: Inbound) -> None:
        """The worker says which message ``actor``'s next run takes (``message_id`` is
        its file's name in ``processing/``): the ``task.start`` marker is made from it
        instead of listing that box and reading and validating the file once more."""
        with self._lock:
            self._begun[actor] = (message_id, message)

    def __call__(self, actor: str, event: RunEvent) -> None:
        try:
            with self._lock:
                self._record(actor, event)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("cannot record progress of @%s: %s", actor, exc)

    def _record(self, actor: str, event: RunEvent) -> None:
        """One event's lines (a task marker, the event, an end marker) in one write."""
        lines: list[dict[str, Any]] = []
        if event.kind == "start" or actor not in self._current:
            marker = self._task_marker(actor)
            if marker is not None:
                lines.append(marker)
        record = {
            "ts": round(self.clock(), 3),
            "kind": event.kind,
            "text": event.text[:MAX_TEXT],
            "data": _bounded(event.data) if event.data else {},
        }
        lines.append(record)
        final = event.kind == "result" or (event.kind == "error" and "cost_usd" in event.data)
        if final:
            self._begun.pop(actor, None)
            end = {"ts": record["ts"], "kind": "task.end", "id": self._current.pop(actor, None)}
            end["ok"] = event.kind == "result"
            if isinstance(event.data.get("cost_usd"), (int, float)):
                end["cost_usd"] = event.data["cost_usd"]
            lines.append(end)
        self._append(actor, lines)

    def _task_marker(self, actor: str) -> dict[str, Any] | None:
        """The message this actor's run took: the one :meth:`begin` named, else the one
        file in its ``processing/`` box (the worker runs one message per actor at a time
        and claims it first)."""
        begun = self._begun.get(actor)
        if begun is not None:
            message_id, message = begun
            if self._current.get(actor) == message_id:
                return None
            self._current[actor] = message_id
            return self._marker(message_id, message)
        from tinyclaw.core import InvalidMessageError, load_inbound
        from tinyclaw.spool import Spool

        box = self.home.queue / "processing" / actor
        files = Spool.list_box(box)
        if not files or self._current.get(actor) == files[0].stem:
            return None
        path = files[0]
        self._current[actor] = path.stem
        try:
            read = load_inbound(Spool.read(path), default_id=path.stem)
        except (OSError, InvalidMessageError):
            return self._marker(path.stem, None)
        return self._marker(path.stem, read)

    def _marker(self, message_id: str, message: Inbound | None) -> dict[str, Any]:
        marker: dict[str, Any] = {
            "ts": round(self.clock(), 3),
            "kind": "task.start",
            "id": message_id,
        }
        if message is None:
            return marker
        marker.update(
            text=message.text[:MAX_TEXT],
            channel=message.channel,
            chat_id=message.chat_id,
            sender=message.sender.name or message.sender.id,
            message_kind=message.kind,
        )
        if message.handoff is not None:
            marker["from_actor"] = message.handoff.from_actor
        return marker

    def _append(self, actor: str, records: list[dict[str, Any]]) -> None:
        path = self.dir / f"{actor}.jsonl"
        size = self._sizes.get(actor)
        if size is None:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
        if size >= self.max_bytes:
            os.replace(path, path.with_name(path.name + ".1"))
            size = 0
        data = "".join(
            json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records
        ).encode("utf-8")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except FileNotFoundError:  # the folder is made once, on the first write
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        self._sizes[actor] = size + len(data)


class JsonlTail:
    """Follow a JSON-lines file: :meth:`poll` returns the records appended since the
    last call. ``backlog`` bytes before the end are read on the first poll (whole
    lines only), so a window that opens late still shows what just happened."""

    def __init__(self, path: Path, *, backlog: int = 0) -> None:
        self.path = path
        self.backlog = backlog
        self._handle: IO[bytes] | None = None
        self._buffer = b""
        self._first = True

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> bool:
        try:
            handle = self.path.open("rb")
        except OSError:
            self._first = False  # whatever appears later is new: read it from the start
            return False
        if self._first:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - self.backlog)
            handle.seek(start)
            if start > 0:
                handle.readline()  # drop the partial line we landed in
        self._first = False
        self._handle = handle
        self._buffer = b""
        return True

    def _drain(self) -> bytes:
        assert self._handle is not None
        return self._handle.read()

    def poll(self) -> list[dict[str, Any]]:
        if self._handle is None and not self._open():
            return []
        assert self._handle is not None
        chunk = self._drain()
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(self._handle.fileno())
        if current is not None and current.st_ino != opened.st_ino:
            chunk += self._drain()  # the rest of the rotated file, then the new one
            self._handle.close()
            self._handle = None
            self._first = False
            records = self._parse(chunk, final=True)
            if self._open():
                records += self._parse(self._drain())
            return records
        if current is not None and current.st_size < self._handle.tell():
            self._handle.seek(0)  # truncated in place
            self._buffer = b""
            chunk = self._drain()
        return self._parse(chunk)

    def _parse(self, chunk: bytes, final: bool = False) -> list[dict[str, Any]]:
        lines = (self._buffer + chunk).split(b"\n")
        self._buffer = b"" if final else lines.pop()
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records
