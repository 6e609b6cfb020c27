"""Files an actor sends, at the edges: over the platform's upload limit they become a
short note instead of a refusal that takes the rest of the reply down; a 413 from the
server is the same, never retried; and what is uploaded is the file the outbox opened
after checking it, not whatever the path points to a moment later.

Big files are sparse (``truncate``): their size is real to ``stat`` but costs no disk
and, since they are refused before reading, no time."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from tests.channels.conftest import ALICE_ID, until
from tests.channels.test_whatsapp import listening, queued_dm, reply_to, sent_box
from tests.fakes.telegram_api import ScriptedError, TelegramFake
from tests.fakes.whatsapp_api import ScriptedError as GraphError
from tests.fakes.whatsapp_api import WhatsAppFake, async_wait_for
from tinyclaw.channels.base import OutgoingFile
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply
from tinyclaw.spool import Spool

MB = 1024 * 1024


def workspace_of(home: Home) -> Path:
    workspace = home.actors / "assistant" / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    return workspace


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def telegram_reply(home: Home, text: str, files: list[str]) -> Reply:
    return Reply(
        id=unique_name(),
        in_reply_to="m1",
        channel="telegram",
        chat_id=str(ALICE_ID),
        text=text,
        files=files,
        workspace=str(workspace_of(home)),
    )


def telegram_sent(home: Home) -> list[str]:
    spool = Spool(home)
    return [p.name for p in spool.list_box(spool.sent("telegram"))]


# -- Telegram ---------------------------------------------------------------------------


async def test_telegram_file_over_50_mb_becomes_a_note(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    workspace = workspace_of(home)
    sparse(workspace / "dump.tar", 51 * MB)
    (workspace / "notes.txt").write_text("small enough")
    async with run_telegram():
        Spool(home).put_reply(telegram_reply(home, "Both files.", ["dump.tar", "notes.txt"]))
        await until(lambda: telegram_sent(home), "the reply delivered")
    texts = telegram_fake.texts()
    assert texts[0] == "Both files."
    assert texts[1] == (
        "(file dump.tar not sent: too large, 51.0 MB is over Telegram's 50 MB upload limit)"
    )
    assert [(s.kind, s.file_name) for s in telegram_fake.sent if s.kind != "text"] == [
        ("document", "notes.txt")
    ]
    assert telegram_fake.calls_to("sendDocument")[0].params["document"] == "<file notes.txt>"


async def test_telegram_413_is_not_retried_and_becomes_a_note(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    """A server with a lower limit (a proxy) answers 413: retrying cannot help."""
    (workspace_of(home) / "video.bin").write_bytes(b"v" * 4096)
    telegram_fake.fail("sendDocument", ScriptedError(413, "Request Entity Too Large"))
    async with run_telegram():
        Spool(home).put_reply(telegram_reply(home, "The recording.", ["video.bin"]))
        await until(lambda: telegram_sent(home), "the reply delivered")
    assert [c.status for c in telegram_fake.calls_to("sendDocument")] == [413]
    note = telegram_fake.texts()[1]
    assert note.startswith("(file video.bin not sent: too large for Telegram")
    spool = Spool(home)
    assert spool.list_box(spool.failed) == []


async def test_telegram_uploads_the_opened_file_not_what_the_path_holds_later(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    """``send_upload`` streams the handle the outbox opened after its checks; a path
    replaced afterwards (by the actor, or an attacker racing it) changes nothing."""
    path = workspace_of(home) / "report.txt"
    path.write_bytes(b"the checked content")
    async with run_telegram() as channel:
        with path.open("rb") as handle:
            path.unlink()
            path.write_bytes(b"swapped in afterwards")
            upload = OutgoingFile(path, path.name, 19, "text/plain", handle)
            await channel.send_upload(str(ALICE_ID), upload)
    [sent] = telegram_fake.sent
    assert (sent.file_name, sent.data) == ("report.txt", b"the checked content")


async def test_a_symlink_swapped_in_during_delivery_is_never_followed(
    home: Home, tmp_path: Path, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    """Another process flips ``report.txt`` between a real file and a symlink to a
    secret while replies naming it are delivered: whatever each delivery catches, the
    secret never leaves (the file is opened once, without following a symlink, and
    checked again once open)."""
    workspace = workspace_of(home)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"the owner's secret")
    (workspace / "real.tmp").write_bytes(b"report")
    target = workspace / "report.txt"
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            os.symlink(secret, workspace / "link.tmp")
            os.replace(workspace / "link.tmp", target)
            (workspace / "file.tmp").write_bytes(b"report")
            os.replace(workspace / "file.tmp", target)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    try:
        async with run_telegram():
            for n in range(20):
                Spool(home).put_reply(telegram_reply(home, f"report {n}", ["report.txt"]))
            await until(lambda: len(telegram_sent(home)) == 20, "all replies delivered")
    finally:
        stop.set()
        flipper.join(5)
    assert all(s.data != b"the owner's secret" for s in telegram_fake.sent)
    assert {s.data for s in telegram_fake.sent if s.kind == "document"} <= {b"report"}


# -- WhatsApp ---------------------------------------------------------------------------


async def test_whatsapp_files_over_metas_limits_become_notes(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    fake = whatsapp_fake
    workspace = workspace_of(home)
    sparse(workspace / "song.mp3", 17 * MB)  # audio: 16 MB
    sparse(workspace / "archive.pdf", 101 * MB)  # documents: 100 MB
    (workspace / "ok.pdf").write_bytes(b"%PDF small")
    async with listening(home, fake) as (_channel, meta):
        message = await queued_dm(home, fake, meta, "send them")
        files = ["song.mp3", "archive.pdf", "ok.pdf"]
        Spool(home).put_reply(reply_to(message, "Files:", files=files, workspace=str(workspace)))
        await async_wait_for(lambda: sent_box(home), what="sent/")
    assert fake.texts == [
        "Files:",
        "(file song.mp3 not sent: too large, 17.0 MB is over WhatsApp's 16 MB upload limit)",
        "(file archive.pdf not sent: too large, 101.0 MB is over WhatsApp's 100 MB upload limit)",
    ]
    assert [u.filename for u in fake.uploads] == ["ok.pdf"]


async def test_whatsapp_413_on_upload_becomes_a_note_without_retries(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    fake = whatsapp_fake
    workspace = workspace_of(home)
    (workspace / "clip.pdf").write_bytes(b"%PDF clip")
    retry = RetryPolicy(tries=3, base=0.01, round_backoff=0.01)
    async with listening(home, fake, retry=retry) as (_channel, meta):
        message = await queued_dm(home, fake, meta, "the clip please")
        fake.fail("media", GraphError(413, "Request Entity Too Large", code=100))
        Spool(home).put_reply(
            reply_to(message, "Here:", files=["clip.pdf"], workspace=str(workspace))
        )
        await async_wait_for(lambda: sent_box(home), what="sent/")
    assert len(fake.requests_to("POST", "/media")) == 1
    assert fake.texts[0] == "Here:"
    assert fake.texts[1].startswith("(file clip.pdf not sent: too large for WhatsApp")
    assert fake.uploads == []
