"""The cases of the bad-input corpus (see ``corpus.py`` for how they are run and judged).

Each case names the bad input, plants it, and says how it must end. A ``known_bug``
text says why a case does not behave as specified yet and where the fix goes.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.reliability.corpus import Case, Lab
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.messages import Reply, dump

# -- planting helpers -----------------------------------------------------------------------


def _bytes(data: bytes) -> Callable[[Lab], str]:
    return lambda lab: lab.drop(f"bad-{unique_name()}.json", data)


def _fields(text: str, **fields: Any) -> Callable[[Lab], str]:
    return lambda lab: lab.drop_message(text, **fields)


def _huge_file(lab: Lab) -> str:
    name = f"huge-{unique_name()}.json"
    body = b'{"text": "' + b"A" * (50 * 1024 * 1024) + b'"}'
    return lab.drop(name, body)


def _junk(lab: Lab) -> str:
    return lab.drop(f"junk-{unique_name()}.json", bytes(range(256)) * 64 + b"\x00\xff" * 999)


def _attachment(path: Callable[[Lab], str], name: str = "notes.txt") -> Callable[[Lab], str]:
    def plant(lab: Lab) -> str:
        files = [{"path": path(lab), "name": name, "kind": "document", "size": 10}]
        return lab.drop_message("see the attachment", attachments=files)

    return plant


def _symlink_in(box: Callable[[Lab], Path]) -> Callable[[Lab], str]:
    def plant(lab: Lab) -> str:
        folder = box(lab)
        folder.mkdir(parents=True, exist_ok=True)
        # The target is a valid message outside the home whose text is the secret;
        # its id is the link's name, so a reply to it shows up as this case's reply.
        ident = f"link-{unique_name()}"
        target = lab.outside / f"{ident}.json"
        target.write_text(json.dumps(lab.message(lab.secret, id=ident)), encoding="utf-8")
        os.symlink(target, folder / f"{ident}.json")
        return f"{ident}.json"

    return plant


def _fifo(lab: Lab) -> str:
    name = f"fifo-{unique_name()}.json"
    os.mkfifo(lab.spool.incoming / name)
    return name


def _dev_zero(lab: Lab) -> str:
    name = f"zero-{unique_name()}.json"
    os.symlink("/dev/zero", lab.spool.incoming / name)
    return name


def _directory(lab: Lab) -> str:
    name = f"dir-{unique_name()}.json"
    (lab.spool.incoming / name).mkdir()
    return name


def _send_file(target: Callable[[Lab], str]) -> Callable[[Lab], str]:
    """A reply asking to send a file: fake-cli echoes the tag back as the answer."""
    return lambda lab: lab.drop_message(f"[send_file: {target(lab)}]")


def _workspace_link(lab: Lab) -> str:
    link = lab.workspace / f"leak-{secrets.token_hex(3)}.txt"
    os.symlink(lab.sentinel, link)
    return link.name


def _workspace_dir_link(lab: Lab) -> str:
    link = lab.workspace / f"out-{secrets.token_hex(3)}"
    os.symlink(lab.outside, link, target_is_directory=True)
    return f"{link.name}/sentinel.txt"


def _linked_reply_folder(lab: Lab) -> str:
    """The reply folder of a channel replaced by a link to a folder outside the home."""
    elsewhere = lab.outside / "replies"
    elsewhere.mkdir(exist_ok=True)
    os.symlink(elsewhere, lab.spool.outgoing_root / "linked", target_is_directory=True)
    return lab.drop_message("answer me through the link", channel="linked")


def _same_id_twice(lab: Lab) -> str:
    """Two files carrying one id: the first (named after it) is answered, the second
    would share its reply and be taken for answered."""
    first = lab.drop_message("the first of two with one id")
    ident = first.removesuffix(".json")
    body = json.dumps(lab.message("the second of two with one id", id=ident)).encode()
    return lab.drop(f"copy-{unique_name()}.json", body)


def _nested_bytes(size: int) -> bytes:
    """A JSON object of about ``size`` bytes, nested far past the parser's depth."""
    depth = (size - 20) // 2
    return b'{"text": ' + b"[" * depth + b"]" * depth + b"}"


def _in_drop_folder(folder: str, data: bytes) -> Callable[[Lab], str]:
    """What an actor's CLI can write with its Write tool: a file in its workspace's
    ``outbox/`` or ``schedules/`` (refused files go to ``queue/failed/`` and to
    ``schedules/failed/`` in the workspace)."""

    def plant(lab: Lab) -> str:
        name = f"drop-{unique_name()}.json"
        target = lab.workspace / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return name

    return plant


def _dotdot_to_sentinel(lab: Lab) -> str:
    return os.path.relpath(lab.sentinel, lab.workspace)


def _nested(depth: int, box: Callable[[Lab], Path] | None = None) -> Callable[[Lab], str]:
    """A message whose ``meta`` nests ``depth`` lists (5,000 is 10 KB: json.loads
    raises RecursionError near 1,000, far below the size limit)."""

    def plant(lab: Lab) -> str:
        name = f"deep-{unique_name()}.json"
        head = b'{"channel": "cli", "chat_id": "corpus", "sender": {"id": "me"}, "text": "x"'
        body = head + b', "meta": {"a": ' + b"[" * depth + b"]" * depth + b"}}"
        return lab.drop(name, body, box(lab) if box else None)

    return plant


def _raw_field(field: str, literal: str) -> Callable[[Lab], str]:
    """A message with one field written as a raw JSON literal (``Infinity``, a
    5,000-digit number): what json.dumps would never write, but a hand can."""

    def plant(lab: Lab) -> str:
        name = f"raw-{unique_name()}.json"
        head = b'{"channel": "cli", "chat_id": "corpus", "sender": {"id": "me"}, "text": "x"'
        return lab.drop(name, head + f', "{field}": {literal}}}'.encode())

    return plant


def _answered_id_reused(lab: Lab) -> str:
    """A new file carrying the id of a message whose reply was delivered already."""
    ident = unique_name()
    reply = Reply(id=ident, in_reply_to=ident, channel="cli", chat_id="corpus", text="done")
    sent = lab.spool.sent("cli")
    sent.mkdir(parents=True, exist_ok=True)
    (sent / f"{ident}.json").write_bytes(dump(reply))
    return lab.drop_message("a new question under an old id", id=ident)


def _far_future(seconds: float) -> Callable[[Lab], str]:
    return lambda lab: lab.drop_message("wait for me", not_before=time.time() + seconds)


def _handoff(conversation: str) -> dict[str, Any]:
    return {"from_actor": "assistant", "conversation": conversation}


CASES: list[Case] = [
    Case("empty-file", "an empty file", _bytes(b""), "failed", "empty"),
    Case("whitespace", "only whitespace", _bytes(b" \n\t\n"), "failed", "empty"),
    Case("malformed-json", "JSON cut off", _bytes(b'{"id": "x", "text": '), "failed", "JSON"),
    Case("json-list", "a JSON list", _bytes(b"[1, 2, 3]"), "failed", "JSON object"),
    Case("json-string", "a JSON string", _bytes(b'"hello"'), "failed", "JSON object"),
    Case("json-null", "JSON null", _bytes(b"null"), "failed", "JSON object"),
    Case("json-empty-object", "{}", _bytes(b"{}"), "failed", "not a valid inbound"),
    Case(
        "wrong-types",
        "text is a number, sender a string",
        _bytes(json.dumps({"channel": "cli", "chat_id": 1, "sender": "me", "text": 5}).encode()),
        "failed",
        "not a valid inbound",
    ),
    Case("unknown-field", "an extra top-level field", _fields("hi", evil=1), "failed", "evil"),
    Case("future-version", "format version 2", _fields("hi", v=2), "failed", "version"),
    Case("binary-junk", "16 KB of binary junk with NULs", _junk, "failed", "JSON"),
    Case("utf8-invalid", "invalid UTF-8", _bytes(b'{"text": "\xff\xfe"}'), "failed", "UTF-8"),
    Case("file-50mb", "a 50 MB file", _huge_file, "failed", "limit"),
    Case("huge-text", "a 200,000-character text", _fields("x" * 200_000), "failed", "100000"),
    Case(
        "max-text-ascii",
        "a 100,000-character ASCII text (the limit)",
        _fields("y" * 100_000),
        "reply",
        "echo: yyyy",
    ),
    Case(
        "max-text-multibyte",
        "a 90,000-character non-ASCII text (180 KB of UTF-8)",
        _fields("é" * 90_000),
        "reply",
        "echo: [This message is too long to pass inline",  # the CLI reads it from a file
    ),
    Case(
        "control-chars",
        "terminal escapes, BEL, CR, backspace, RTL override in the text",
        _fields("\x1b[2J\x1b]0;pwned\x07\rA\x08\x7f\u202eB"),
        "reply",
        "echo: \x1b[2J",
    ),
    Case(
        "control-chars-chat-id",
        "escape codes in chat id and sender name",
        _fields("hi", chat_id="\x1b[31mred\r\n", sender={"id": "\x07", "name": "\x1b[0m"}),
        "reply",
        "echo: hi",
    ),
    Case("nul-in-text", "a NUL byte in the text", _fields("a\x00b"), "failed", "NUL"),
    Case(
        "nul-in-chat-id", "a NUL byte in chat_id", _fields("hi", chat_id="a\x00"), "failed", "NUL"
    ),
    Case(
        "nul-in-sender",
        "a NUL byte in the sender id",
        _fields("hi", sender={"id": "a\x00b"}),
        "failed",
        "NUL",
    ),
    Case(
        "actor-traversal-field",
        "actor field '../../etc'",
        _fields("hi", actor="../../etc"),
        "failed",
        "unknown actor",
    ),
    Case(
        "actor-traversal-prefix",
        "'@../../etc hi' (not an address: the default actor answers)",
        _fields("@../../etc hi"),
        "reply",
        "echo: @../../etc hi",
    ),
    Case(
        "actor-traversal-prefix-2",
        "'@etc/../../x hi' (names actor 'etc', which does not exist)",
        _fields("@etc/../../x hi"),
        "error",
        "no actor called @etc",
    ),
    Case("id-traversal", "id '../../etc'", _fields("hi", id="../../etc"), "failed", "id"),
    Case(
        "channel-traversal",
        "channel '../../outside' (it names the outgoing folder)",
        _fields("hi", channel="../../outside"),
        "failed",
        "channel",
    ),
    Case(
        "attachment-dotdot-path",
        "attachment path with '../' out of queue/files",
        _attachment(lambda lab: f"{lab.home.queue}/files/x/../../../../outside/sentinel.txt"),
        "failed",
        "..",
    ),
    Case(
        "attachment-relative-path",
        "attachment path relative ('../../outside/sentinel.txt')",
        _attachment(lambda lab: "../../outside/sentinel.txt"),
        "failed",
        "absolute",
    ),
    Case(
        "attachment-name-traversal",
        "attachment name '../../etc/passwd'",
        _attachment(lambda lab: f"{lab.home.queue}/files/x/a.txt", name="../../etc/passwd"),
        "failed",
        "bare file name",
    ),
    Case(
        "attachment-nul",
        "a NUL byte in an attachment path",
        _attachment(lambda lab: f"{lab.home.queue}/files/x/a\x00b"),
        "failed",
        "NUL",
    ),
    Case(
        "attachment-absolute-outside",
        "attachment path absolute, outside the home",
        _attachment(lambda lab: str(lab.sentinel)),
        "failed",
        "attachment",
    ),
    Case(
        "too-many-attachments",
        "60 attachments",
        lambda lab: lab.drop_message(
            "many",
            attachments=[{"path": f"/tmp/f{i}", "name": f"f{i}"} for i in range(60)],
        ),
        "failed",
        "attachments",
    ),
    Case(
        "symlink-in-incoming",
        "a symlink in queue/incoming to a valid message outside the home",
        _symlink_in(lambda lab: lab.spool.incoming),
        "failed",
        "symlink",
    ),
    Case(
        "symlink-in-inbox",
        "a symlink in an actor's inbox to a valid message outside the home",
        _symlink_in(lambda lab: lab.spool.inbox("coder")),
        "failed",
        "symlink",
    ),
    Case(
        "symlink-in-processing",
        "a symlink left in queue/processing/<actor>/ (crash recovery reads it)",
        _symlink_in(lambda lab: lab.spool.processing("coder")),
        "failed",
        "symlink",
    ),
    Case(
        "symlinked-reply-folder",
        "queue/outgoing/<channel> is a symlink to a folder outside the home",
        _linked_reply_folder,
        "failed",
        "symlink",
        isolated=True,
        runs_first=True,
    ),
    Case(
        "same-id-twice",
        "a second file whose JSON carries the id of another queued message",
        _same_id_twice,
        "failed",
        "differs from the file name",
    ),
    Case(
        "directory-as-message",
        "a directory named like a message file",
        _directory,
        "failed",
        "regular file",
        isolated=True,
    ),
    Case(
        "fifo-in-incoming",
        "a FIFO named like a message file",
        _fifo,
        "failed",
        "regular file",
        isolated=True,
    ),
    Case(
        "dev-zero-symlink",
        "a symlink to /dev/zero (an endless file)",
        _dev_zero,
        "failed",
        "symlink",
        isolated=True,
    ),
    Case(
        "outbox-nested-json",
        "an actor's outbox note nested 100,000 deep (200 KB, under the 512 KiB limit)",
        _in_drop_folder("outbox", _nested_bytes(200_000)),
        "failed",
        "nested too deeply",
    ),
    Case(
        "outbox-unparseable",
        "binary junk in an actor's outbox",
        _in_drop_folder("outbox", bytes(range(256)) * 16),
        "failed",
        "JSON",
    ),
    Case(
        "schedule-nested-json",
        "an actor's schedule file nested 30,000 deep (60 KB, under the 64 KiB limit)",
        _in_drop_folder("schedules", _nested_bytes(60_000)),
        "failed",
        "nested too deeply",
    ),
    Case(
        "schedule-unparseable",
        "a schedule file cut off mid-string",
        _in_drop_folder("schedules", b'{"every": "1h", "prompt": "cut'),
        "failed",
        "JSON",
    ),
    Case(
        "send-file-workspace-symlink",
        "the reply asks to send a workspace symlink that points outside the home",
        _send_file(_workspace_link),
        "refused",
        "outside the workspace",
    ),
    Case(
        "send-file-workspace-dir-symlink",
        "the reply asks for a file under a workspace folder symlinked outside",
        _send_file(_workspace_dir_link),
        "refused",
        "outside the workspace",
    ),
    Case(
        "send-file-dotdot",
        "the reply asks to send '../../../../outside/sentinel.txt'",
        _send_file(_dotdot_to_sentinel),
        "refused",
        "outside the workspace",
    ),
    Case(
        "json-nested-5000",
        "a message nested 5,000 lists deep in queue/incoming (10 KB)",
        _nested(5000),
        "failed",
        "nested too deeply",
        isolated=True,
    ),
    Case(
        "json-nested-5000-inbox",
        "a message nested 5,000 lists deep at the head of an actor's inbox",
        _nested(5000, lambda lab: lab.spool.inbox("coder")),
        "failed",
        "nested too deeply",
        isolated=True,
    ),
    Case(
        "json-nested-300",
        "a message nested 300 lists deep (parses, but could never be written back)",
        _nested(300),
        "failed",
        "nested too deeply",
    ),
    Case(
        "json-number-5000-digits",
        "a 5,000-digit number (int() refuses it with a ValueError)",
        _raw_field("attempts", "9" * 5000),
        "failed",
        "digits",
    ),
    Case(
        "json-lone-surrogate",
        "a lone UTF-16 surrogate (\\ud800) in the text: valid JSON, not valid text",
        _raw_field("meta", '{"note": "\\ud800"}'),
        "failed",
        "unicode",
    ),
    Case(
        "json-not-before-infinity",
        "not_before: Infinity (Python's json reads it)",
        _raw_field("not_before", "Infinity"),
        "failed",
        "finite number",
    ),
    Case(
        "json-not-before-nan",
        "not_before: NaN",
        _raw_field("not_before", "NaN"),
        "failed",
        "finite number",
    ),
    Case(
        "json-not-before-1e300",
        "not_before: 1e300 (finite, and for ever)",
        _raw_field("not_before", "1e300"),
        "failed",
        "beyond the longest retry wait",
    ),
    Case(
        "json-not-before-next-year",
        "not_before a year away",
        _far_future(365 * 86400),
        "failed",
        "beyond the longest retry wait",
    ),
    Case(
        "answered-id-reused",
        "a new file reusing the id of a message whose reply was delivered",
        _answered_id_reused,
        "failed",
        "was answered already",
    ),
    Case(
        "kind-operator-from-telegram",
        "kind 'operator' from an unpaired Telegram sender (it would skip pairing)",
        _fields("hi", kind="operator", channel="telegram", chat_id="666", sender={"id": "666"}),
        "failed",
        "operator lines come only from",
    ),
    Case(
        "kind-handoff-unknown-conversation",
        "kind 'handoff' naming a conversation that does not exist",
        _fields("do it", kind="handoff", actor="coder", handoff=_handoff("nope-1")),
        "failed",
        "does not exist",
    ),
    Case(
        "kind-handoff-path-conversation",
        "a handoff whose conversation is a path out of the home",
        _fields("do it", kind="handoff", actor="coder", handoff=_handoff("../../../outside/ho")),
        "failed",
        "not a conversation id",
    ),
    Case(
        "kind-fanin-without-handoff",
        "kind 'fanin' without handoff data",
        _fields("answers", kind="fanin", actor="coder"),
        "failed",
        "without handoff data",
    ),
    Case(
        "kind-handoff-in-inbox",
        "a hand-made handoff dropped straight into an actor's inbox (past the router)",
        lambda lab: lab.drop(
            f"{unique_name()}.json",
            json.dumps(
                {k: v for k, v in lab.message("x", kind="handoff").items() if k != "id"}
                | {"handoff": _handoff("nope-2")}
            ).encode(),
            lab.spool.inbox("coder"),
        ),
        "failed",
        "does not exist",
    ),
    Case(
        "send-file-absolute",
        "the reply asks to send an absolute path outside the home",
        _send_file(lambda lab: str(lab.sentinel)),
        "refused",
        "outside the workspace",
    ),
]
