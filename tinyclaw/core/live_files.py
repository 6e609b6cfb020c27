"""The files of live runs: steering lines, approval requests and answers, and which
conversations each actor last worked on.

Everything the owner sends a running agent is a file first, written the Maildir way
(``queue/tmp`` → fsync → rename), so a worker that dies loses none of it::

    queue/steer/<actor>/<id>.json        a steering line not delivered yet
    queue/steer/<actor>/taken/<id>.json  taken by a run; removed once on the CLI's stdin
    queue/approvals/<actor>/<key>.json         a permission the CLI waits for
    queue/approvals/<actor>/<key>.answer.json  the answer (window, chat, terminal)
    state/live/<actor>.json              the actor's recent conversations, newest first

A steering line is ``{"v": 1, "id", "text", "by", "conversation", "ts"}``;
``conversation`` (a conversation key such as ``telegram:42``) is None for "the one
the actor works on now, else the one it last worked on". An approval request names
the tool, what it touches, who asked and when it expires; the answer is ``{"v": 1,
"decision": "allow" | "allow_session" | "deny", "by"}``. The module only reads and
writes these files; what they mean to a run is the worker's business.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyclaw.core.errors import InvalidFileError
from tinyclaw.core.fsutil import atomic_write, read_json_object, unique_name, write_tmp
from tinyclaw.core.home import Home

MAX_STEER = 8_000
MAX_FILE = 64_000
RECENT = 5
_KEY_RE = re.compile(r"[^A-Za-z0-9._-]+")
ANSWER_SUFFIX = ".answer.json"
ANSWER_WORDS = {
    "y": "allow",
    "yes": "allow",
    "allow": "allow",
    "once": "allow",
    "a": "allow_session",
    "always": "allow_session",
    "session": "allow_session",
    "n": "deny",
    "no": "deny",
    "deny": "deny",
}


def steer_box(home: Home, actor: str) -> Path:
    return home.queue / "steer" / actor


def approvals_box(home: Home, actor: str) -> Path:
    return home.queue / "approvals" / actor


def recent_path(home: Home, actor: str) -> Path:
    return home.state / "live" / f"{actor}.json"


def safe_key(key: str) -> str:
    """A CLI's request id as a file name (ids are uuids, but they are the CLI's)."""
    return _KEY_RE.sub("_", key)[:120] or "request"


def _write_new(home: Home, box: Path, name: str, record: dict[str, Any]) -> Path:
    box.mkdir(parents=True, exist_ok=True)
    tmp = write_tmp(home.queue / "tmp", json.dumps(record, ensure_ascii=False).encode("utf-8"))
    target = box / name
    os.rename(tmp, target)
    return target


# -- steering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SteerLine:
    id: str
    text: str
    by: str
    conversation: str | None
    path: Path


def put_steer(
    home: Home, actor: str, text: str, *, by: str = "owner", conversation: str | None = None
) -> Path:
    """Queue one steering line for ``actor``; the running agent gets it mid-turn."""
    text = text.strip()
    if not text:
        raise ValueError("nothing to send: the line is empty")
    if "\x00" in text or len(text) > MAX_STEER:
        raise ValueError(f"a steering line is plain text of at most {MAX_STEER} characters")
    ident = unique_name()
    record = {
        "v": 1,
        "id": ident,
        "text": text,
        "by": by,
        "conversation": conversation,
        "ts": time.time(),
    }
    return _write_new(home, steer_box(home, actor), f"{ident}.json", record)


def read_steer(path: Path) -> SteerLine:
    """One steering file; InvalidFileError when it is not one."""
    raw = read_json_object(path, MAX_FILE)
    text, by, conversation = raw.get("text"), raw.get("by", "owner"), raw.get("conversation")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_STEER:
        raise InvalidFileError(f"{path.name}: `text` must be a non-empty string")
    if not isinstance(by, str) or not (conversation is None or isinstance(conversation, str)):
        raise InvalidFileError(f"{path.name}: `by` and `conversation` must be strings")
    return SteerLine(path.stem, text, by[:100], conversation, path)


def pending_steers(home: Home, actor: str) -> list[Path]:
    box = steer_box(home, actor)
    try:
        names = sorted(n for n in os.listdir(box) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    return [box / n for n in names]


def take_steer(path: Path) -> Path | None:
    """Claim a steering file by rename into ``taken/``; None if another got it."""
    taken = path.parent / "taken"
    taken.mkdir(exist_ok=True)
    target = taken / path.name
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return target


def restore_taken_steers(home: Home) -> int:
    """At start-up: lines a dead worker had taken but not delivered go back."""
    restored = 0
    root = home.queue / "steer"
    for taken in root.glob("*/taken/*.json"):
        try:
            os.rename(taken, taken.parent.parent / taken.name)
            restored += 1
        except FileNotFoundError:
            continue
    return restored


# -- approvals -----------------------------------------------------------------------------


def put_approval(home: Home, actor: str, request: dict[str, Any]) -> Path:
    box = approvals_box(home, actor)
    key = safe_key(str(request["key"]))
    target = box / f"{key}.json"
    atomic_write(target, json.dumps({"v": 1, **request}, ensure_ascii=False).encode("utf-8"))
    return target


def pending_approvals(home: Home, actor: str) -> list[dict[str, Any]]:
    """The requests of ``actor`` that wait for an answer, oldest first."""
    box = approvals_box(home, actor)
    found = []
    try:
        names = sorted(os.listdir(box))
    except FileNotFoundError:
        return []
    for name in names:
        if not name.endswith(".json") or name.endswith(ANSWER_SUFFIX):
            continue
        if (box / (name[: -len(".json")] + ANSWER_SUFFIX)).exists():
            continue
        try:
            found.append(read_json_object(box / name, MAX_FILE))
        except (OSError, InvalidFileError):
            continue
    return sorted(found, key=lambda r: float(r.get("asked_at") or 0))


def answer_approval(home: Home, actor: str, key: str, decision: str, *, by: str) -> bool:
    """Record an answer; False when no such request waits (answered, expired, gone)."""
    if decision not in ("allow", "allow_session", "deny"):
        raise ValueError(f"unknown decision {decision!r}")
    box = approvals_box(home, actor)
    name = safe_key(key)
    if not (box / f"{name}.json").exists():
        return False
    record = {"v": 1, "decision": decision, "by": by[:200], "at": time.time()}
    try:
        _write_new(home, box, name + ANSWER_SUFFIX, record)
    except FileExistsError:
        return False
    return True


def read_answer(home: Home, actor: str, key: str) -> dict[str, Any] | None:
    path = approvals_box(home, actor) / (safe_key(key) + ANSWER_SUFFIX)
    try:
        return read_json_object(path, MAX_FILE)
    except FileNotFoundError:
        return None
    except (OSError, InvalidFileError):
        return {"decision": "deny", "by": "an unreadable answer"}


def drop_approval(home: Home, actor: str, key: str) -> None:
    box = approvals_box(home, actor)
    name = safe_key(key)
    (box / (name + ANSWER_SUFFIX)).unlink(missing_ok=True)
    (box / f"{name}.json").unlink(missing_ok=True)


def clear_approvals(home: Home) -> list[dict[str, Any]]:
    """At start-up: every request a dead worker left is void (its run starts over and
    the CLI asks again); returns them, so each can be logged as denied."""
    cleared = []
    for path in sorted((home.queue / "approvals").glob("*/*.json")):
        if not path.name.endswith(ANSWER_SUFFIX):
            with contextlib.suppress(OSError, InvalidFileError):
                cleared.append(read_json_object(path, MAX_FILE))
        path.unlink(missing_ok=True)
    return cleared


# -- recent conversations ----------------------------------------------------------------


def note_conversation(home: Home, actor: str, entry: dict[str, Any]) -> None:
    """Put ``entry`` (``key``, ``channel``, ``chat_id``, ``sender``) first in the
    actor's recent conversations, so the window can say where a line goes."""
    note_conversations(home, actor, [entry])


def note_conversations(home: Home, actor: str, noted: list[dict[str, Any]]) -> None:
    """:func:`note_conversation` for each of ``noted`` in turn (the last one ends
    first), in one write."""
    entries = recent_conversations(home, actor)
    for entry in noted:
        entries = [e for e in entries if e.get("key") != entry["key"]]
        entries.insert(0, {**entry, "at": time.time()})
    data = json.dumps({"v": 1, "conversations": entries[:RECENT]}, ensure_ascii=False)
    atomic_write(recent_path(home, actor), data.encode("utf-8"), durable=False)


def recent_conversations(home: Home, actor: str) -> list[dict[str, Any]]:
    try:
        raw = read_json_object(recent_path(home, actor), MAX_FILE)
    except (OSError, InvalidFileError):
        return []
    entries = raw.get("conversations")
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("key"), str)]
