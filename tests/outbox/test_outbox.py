"""An actor writes a message file into its outbox; tinyclaw delivers it, but only to
chats the actor may reach, with files from its own workspace, and never twice."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC
from pathlib import Path

import pytest

from tests.schedule.running import failed_reasons, outgoing
from tinyclaw.actors.shared import SETTLE_SECONDS
from tinyclaw.core.home import Home
from tinyclaw.outbox.service import OutboxService
from tinyclaw.schedule.models import build_job
from tinyclaw.schedule.store import JobStore
from tinyclaw.schedule.timing import from_timestamp
from tinyclaw.spool import Spool

from .conftest import drop, settled, workspace


def outbox_names(home: Home, actor: str = "coder") -> list[str]:
    return sorted(p.name for p in (workspace(home, actor) / "outbox").iterdir())


def test_every_actor_gets_an_outbox_folder(service: OutboxService, configured: Home) -> None:
    for actor in ("coder", "helper", "loner"):
        assert (workspace(configured, actor) / "outbox").is_dir()


def test_a_message_reaches_the_owner_chat_as_a_notice_with_its_files(
    service: OutboxService, configured: Home
) -> None:
    report = workspace(configured) / "reports" / "ci.txt"
    report.parent.mkdir(parents=True)
    report.write_text("3 failures")
    drop(
        configured,
        "ci.json",
        {"to": "telegram:1001", "text": "CI is red.", "files": ["reports/ci.txt"]},
    )

    written = (workspace(configured) / "outbox" / "ci.json").stat().st_mtime
    # Sent at once; the file stays until the Write tool cannot be at work on it any more.
    assert service.tick(time.time()) == pytest.approx(written + SETTLE_SECONDS)
    assert outbox_names(configured) == ["ci.json"]

    [reply] = outgoing(configured, "telegram")
    assert (reply.chat_id, reply.text, reply.kind, reply.actor) == (
        "1001",
        "CI is red.",
        "notice",
        "coder",
    )
    assert reply.files == [str(report.resolve())]
    assert reply.workspace == str(workspace(configured))
    assert reply.in_reply_to == reply.id and "-outbox-coder-" in reply.id
    assert service.tick(written + SETTLE_SECONDS) is None
    assert outbox_names(configured) == []  # consumed
    assert len(outgoing(configured, "telegram")) == 1  # and not sent again
    assert failed_reasons(configured) == {}


def test_without_to_it_goes_to_the_owner_chat(service: OutboxService, configured: Home) -> None:
    drop(configured, "hello.json", {"text": "Good morning!"})
    service.tick(settled())
    [reply] = outgoing(configured, "telegram")
    assert (reply.chat_id, reply.text) == ("1001", "Good morning!")


def test_may_message_and_the_operators_jobs_add_chats(
    service: OutboxService, configured: Home
) -> None:
    JobStore.for_home(configured).add(
        build_job(
            actor="coder",
            to="whatsapp:4915112345678",
            prompt="daily digest",
            now=from_timestamp(time.time()),
            local_tz=UTC,
            every="1d",
        )
    )
    drop(configured, "a.json", {"to": "discord:55", "text": "to the team channel"})
    drop(configured, "b.json", {"to": "whatsapp:4915112345678", "text": "to the digest chat"})
    service.tick(settled())
    assert [r.text for r in outgoing(configured, "discord")] == ["to the team channel"]
    assert [r.chat_id for r in outgoing(configured, "whatsapp")] == ["4915112345678"]


def test_a_chat_the_actor_may_not_reach_is_refused(
    service: OutboxService, configured: Home
) -> None:
    drop(configured, "spam.json", {"to": "telegram:666", "text": "Buy now!"})

    service.tick(settled())

    assert outgoing(configured, "telegram") == []
    [(name, reason)] = failed_reasons(configured).items()
    assert name.startswith("outbox-coder-") and name.endswith("-spam.json")
    assert "@coder may not write to telegram:666" in reason
    assert "allowed: telegram:1001, discord:55" in reason
    assert json.loads((Spool(configured).failed / name).read_text())["text"] == "Buy now!"
    assert outbox_names(configured) == []


def test_an_actor_with_no_chat_of_its_own_can_send_nothing(
    service: OutboxService, configured: Home
) -> None:
    drop(configured, "hi.json", {"text": "hello?"}, actor="loner")
    drop(configured, "hi2.json", {"to": "telegram:1001", "text": "hello?"}, actor="loner")
    service.tick(settled())
    assert outgoing(configured, "telegram") == []
    reasons = sorted(failed_reasons(configured).values())
    assert len(reasons) == 2
    assert all("none: set owner_chat or may_message" in reason for reason in reasons)


def _outside(home: Home, tmp_path: Path) -> list[str]:
    secret = tmp_path / "secret.txt"
    secret.write_text("the owner's secret")
    os.symlink(secret, workspace(home) / "innocent.txt")
    return ["innocent.txt"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe{}", "not valid UTF-8 JSON"),
        ([1, 2], "expected a JSON object, got list"),
        ({"to": "telegram:1001", "txt": "typo"}, "txt: unknown key (use to, text, files)"),
        ({"to": "telegram:1001", "text": "  "}, 'nothing to send: give "text", "files" or both'),
        ({"to": "telegram", "text": "hi"}, "'telegram' is not a target"),
        ({"to": "telegram:1001", "text": "x", "files": ["../../../etc/passwd"]}, "outside"),
        ({"to": "telegram:1001", "text": "x", "files": ["missing.txt"]}, "does not exist"),
        ({"to": "telegram:1001", "text": "x", "files": ["."]}, "not a regular file"),
        ({"to": "telegram:1001", "text": "x" * 100_001}, "text: String should have at most"),
    ],
    ids=[
        "broken",
        "binary",
        "list",
        "unknown-key",
        "empty",
        "bad-target",
        "escape",
        "missing",
        "directory",
        "too-long",
    ],
)
def test_a_bad_file_goes_to_failed_with_its_reason(
    service: OutboxService, configured: Home, content: object, problem: str
) -> None:
    path = workspace(configured) / "outbox" / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        drop(configured, "bad.json", content)
    service.tick(time.time() + 60)  # long after it was written: not a writer mid-way

    assert outgoing(configured, "telegram") == []
    [reason] = failed_reasons(configured).values()
    assert reason.startswith("outbox of @coder: bad.json: ")
    assert problem in reason
    assert outbox_names(configured) == []


def test_a_symlinked_attachment_leading_out_of_the_workspace_is_refused(
    service: OutboxService, configured: Home, tmp_path: Path
) -> None:
    files = _outside(configured, tmp_path)
    drop(configured, "leak.json", {"text": "here you go", "files": files})
    service.tick(settled())
    assert outgoing(configured, "telegram") == []
    [reason] = failed_reasons(configured).values()
    assert "'innocent.txt' is outside the workspace" in reason


def test_a_symlink_as_the_message_file_is_refused_unread(
    service: OutboxService, configured: Home, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"text": "smuggled"}))
    os.symlink(elsewhere, workspace(configured) / "outbox" / "link.json")
    service.tick(settled())
    assert outgoing(configured, "telegram") == []
    [(name, reason)] = failed_reasons(configured).items()
    assert "a symlink is not accepted" in reason
    assert (Spool(configured).failed / name).is_symlink()  # moved, not followed
    assert elsewhere.exists()


def test_too_big_files_are_refused(service: OutboxService, configured: Home) -> None:
    huge = workspace(configured) / "video.mp4"
    with huge.open("wb") as handle:
        handle.truncate(51 * 1024 * 1024)  # sparse: big, but costs no disk
    drop(configured, "video.json", {"text": "the recording", "files": ["video.mp4"]})
    drop(configured, "essay.json", {"text": "x" * 600_000})
    service.tick(settled())
    assert outgoing(configured, "telegram") == []
    reasons = " | ".join(failed_reasons(configured).values())
    assert "'video.mp4' is 53477376 bytes; the limit is 52428800" in reasons
    assert "over the limit of 524288 bytes" in reasons


def test_a_file_still_being_written_waits_for_its_writer(
    service: OutboxService, configured: Home
) -> None:
    path = drop(configured, "slow.json", '{"text": "half of a mess')
    written = path.stat().st_mtime

    retry_at = service.tick(time.time())

    assert retry_at == pytest.approx(written + 5.0)
    assert outbox_names(configured) == ["slow.json"]  # left alone
    path.write_text('{"text": "half of a message, then the rest"}')
    service.tick(time.time())
    [reply] = outgoing(configured, "telegram")
    assert reply.text == "half of a message, then the rest"
    assert failed_reasons(configured) == {}


def test_a_file_that_never_becomes_json_is_refused_once_it_settles(
    service: OutboxService, configured: Home
) -> None:
    path = drop(configured, "stuck.json", "")
    service.tick(time.time())
    assert outbox_names(configured) == ["stuck.json"]
    service.tick(path.stat().st_mtime + 5.0)
    [reason] = failed_reasons(configured).values()
    assert "not valid UTF-8 JSON" in reason


def test_only_json_files_are_picked_up(service: OutboxService, configured: Home) -> None:
    drop(configured, "draft.json.tmp", {"text": "not yet"})
    drop(configured, ".hidden.json", {"text": "not me"})
    drop(configured, "chart.png", "PNG")
    service.tick(settled())
    assert outgoing(configured, "telegram") == [] and failed_reasons(configured) == {}
    assert outbox_names(configured) == [".hidden.json", "chart.png", "draft.json.tmp"]


def test_a_crash_after_queueing_does_not_send_the_message_twice(
    service: OutboxService, configured: Home, tmp_path: Path
) -> None:
    path = drop(configured, "once.json", {"text": "only once"})
    keep = tmp_path / "same-inode"
    os.link(path, keep)  # the very same file, as a crash before its removal leaves it
    service.tick(settled())
    os.link(keep, path)
    service.tick(settled())
    assert [r.text for r in outgoing(configured, "telegram")] == ["only once"]
    assert outbox_names(configured) == []

    spool = Spool(configured)
    [waiting] = spool.list_box(spool.outgoing("telegram"))
    spool.mark_sent(waiting, "telegram")  # the listener delivered it
    os.link(keep, path)  # and again after it was delivered
    service.tick(settled())
    assert outgoing(configured, "telegram") == []


def test_the_same_name_written_again_is_a_new_message(
    service: OutboxService, configured: Home
) -> None:
    drop(configured, "status.json", {"text": "build started"})
    service.tick(settled())
    drop(configured, "status.json", {"text": "build done"})
    service.tick(settled())
    assert sorted(r.text for r in outgoing(configured, "telegram")) == [
        "build done",
        "build started",
    ]


def test_refused_files_of_two_actors_with_one_name_are_both_kept(
    service: OutboxService, configured: Home
) -> None:
    drop(configured, "msg.json", {"to": "telegram:9", "text": "from coder"})
    drop(configured, "msg.json", {"to": "telegram:9", "text": "from helper"}, actor="helper")
    service.tick(settled())
    failed = failed_reasons(configured)
    assert len(failed) == 2
    assert {name.split("-")[1] for name in failed} == {"coder", "helper"}


def test_messages_go_out_in_the_order_they_were_written(
    service: OutboxService, configured: Home
) -> None:
    start = time.time_ns() - 10_000_000_000
    for number, name in enumerate(["c.json", "b.json", "a.json"]):
        path = drop(configured, name, {"text": f"message {number + 1}"})
        os.utime(path, ns=(start + number * 1_000_000, start + number * 1_000_000))
    service.tick(settled())
    assert [r.text for r in outgoing(configured, "telegram")] == [
        "message 1",
        "message 2",
        "message 3",
    ]
