"""`tinyclaw backup` of a home that serves, `tinyclaw restore` into a new one: the
restored assistant answers in the same sessions, and paired users stay paired."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.ops.conftest import ask, tinyclaw
from tests.worker.conftest import (
    fake_cli_config,
    message,
    reply_for,
    wait_for,
    worker_process,
    write_config,
)
from tinyclaw.backup import MANIFEST
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Sender
from tinyclaw.pairing.decisions import RedeemOutcome
from tinyclaw.pairing.factory import pairing_service
from tinyclaw.pairing.identity import Identity
from tinyclaw.spool import Spool

ALICE = Identity("telegram", "4242")


def from_alice(home: Home, text: str) -> str:
    msg = message(text, channel="telegram", chat="4242", sender=Sender(id="4242", name="Alice"))
    Spool(home).put(msg)
    text = reply_for(home, msg, timeout=30).text
    assert text.startswith("echo: [Alice via telegram]")  # the fake CLI saw who wrote
    return text.rsplit("\n", 1)[-1]


def sessions(home: Home) -> dict[str, str]:
    path = home.actor_dir("assistant") / "sessions.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))["sessions"])


def test_a_restored_home_answers_in_the_same_sessions_and_alice_stays_paired(
    home: Home, tmp_path: Path
) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    service = pairing_service(home, load_config(home))
    code = service.invite()
    assert service.redeem(ALICE, code).outcome is RedeemOutcome.LINKED
    archive = tmp_path / "backups" / "home.tar.gz"
    with worker_process(home):
        assert from_alice(home, "remember me") == "remember me"
        assert ask(home, "and me", chat="local") == "echo: and me"
        added = tinyclaw(
            home,
            "schedule",
            "add",
            "water the plants",
            "--actor",
            "assistant",
            "--to",
            "cli:local",
            "--every",
            "1d",
        )
        assert added.returncode == 0, added.stderr
        (home.root / ".env").write_text("TELEGRAM_BOT_TOKEN=secret\n", encoding="utf-8")
        result = tinyclaw(home, "backup", str(archive))  # while the worker serves
        assert result.returncode == 0, result.stderr
    assert ".env not included" in result.stdout
    before = sessions(home)
    assert len(before) == 2
    jobs = tinyclaw(home, "schedule", "list").stdout

    new = Home(tmp_path / "restored")
    restored = tinyclaw(new, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert not (new.root / ".env").exists()
    assert sessions(new) == before
    assert "water the plants" in tinyclaw(new, "schedule", "list").stdout
    assert tinyclaw(new, "schedule", "list").stdout == jobs
    with worker_process(new):
        # Alice is still paired: her message is answered, not refused
        assert from_alice(new, "it's me again") == "it's me again"
        assert ask(new, "still me", chat="local") == "echo: still me"
    assert sessions(new) == before  # the same CLI sessions were resumed, none started anew


def test_restore_refuses_a_home_that_has_data(home: Home, tmp_path: Path) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    archive = tmp_path / "b.tar.gz"
    assert tinyclaw(home, "backup", str(archive)).returncode == 0
    result = tinyclaw(home, "restore", str(archive))
    assert result.returncode == 1
    assert "is not empty; restore into a new home" in result.stderr


def test_env_and_workspaces_only_when_asked(home: Home, tmp_path: Path) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    (home.root / ".env").write_text("TELEGRAM_BOT_TOKEN=secret\n", encoding="utf-8")
    workspace = home.actor_dir("assistant") / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "notes.md").write_text("notes", encoding="utf-8")
    plain, full = tmp_path / "plain.tar.gz", tmp_path / "full.tar.gz"
    assert tinyclaw(home, "backup", str(plain)).returncode == 0
    out = tinyclaw(home, "backup", str(full), "--with-env", "--workspaces").stdout
    assert ".env included" in out
    with tarfile.open(plain) as tar:
        names = tar.getnames()
    assert ".env" not in names and "actors/assistant/workspace/notes.md" not in names
    with tarfile.open(full) as tar:
        names = tar.getnames()
    assert ".env" in names and "actors/assistant/workspace/notes.md" in names
    assert oct(plain.stat().st_mode & 0o777) == "0o600"


def hostile_archive(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> None:
    manifest = json.dumps({"format": 1, "home": "/elsewhere"}).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (_member("../outside.txt"), "points outside the home"),
        (_member("/etc/evil"), "points outside the home"),
        (_member("queue/../../x"), "points outside the home"),
        (_member("state/link", tarfile.SYMTYPE, "/etc/passwd"), "links outside the home"),
        (_member("state/link", tarfile.SYMTYPE, "../../x"), "links outside the home"),
        (_member("state/hard", tarfile.LNKTYPE, "/etc/passwd"), "is not a file, folder or link"),
        (_member("state/dev", tarfile.CHRTYPE), "is not a file, folder or link"),
    ],
)
def test_restore_refuses_an_archive_that_would_write_outside_the_home(
    tmp_path: Path, member: tarfile.TarInfo, why: str
) -> None:
    archive = tmp_path / "hostile.tar.gz"
    hostile_archive(archive, member)
    new = Home(tmp_path / "new")
    result = tinyclaw(new, "restore", str(archive))
    assert result.returncode == 1 and why in result.stderr
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "x").exists()
    assert not new.root.exists() or not any(p.is_file() for p in new.root.rglob("*"))


def test_a_message_that_moved_during_the_backup_is_restored_once(
    home: Home, tmp_path: Path
) -> None:
    """The same message in incoming/ and in an inbox (it moved while the copy ran) is
    kept once, in the later box."""
    write_config(home, fake_cli_config({"assistant": {}}))
    spool = Spool(home)
    msg = message("hello")
    queued = spool.put(msg)
    inbox = spool.ensure_box(spool.inbox("assistant"))
    (inbox / queued.name).write_bytes(queued.read_bytes())  # seen in both boxes
    archive = tmp_path / "b.tar.gz"
    assert tinyclaw(home, "backup", str(archive)).returncode == 0
    with tarfile.open(archive) as tar:
        names = [n for n in tar.getnames() if n.endswith(queued.name)]
    assert names == [f"actors/assistant/inbox/{queued.name}"]


def test_a_message_in_progress_during_the_backup_is_answered_by_the_restored_home(
    home: Home, tmp_path: Path
) -> None:
    mark = tmp_path / "cli-started"
    env = {"FAKE_CLI_SLEEP_ON": "slowly", "FAKE_CLI_SLEEP": "3", "FAKE_CLI_MARK": str(mark)}
    marks = f"[sandbox]\nwritable = [{json.dumps(str(tmp_path))}]\n"  # the CLI writes its mark
    write_config(home, fake_cli_config({"assistant": {}}, env=env, extra=marks))
    archive = tmp_path / "b.tar.gz"
    msg = message("answer slowly")
    with worker_process(home):
        Spool(home).put(msg)
        wait_for(mark.exists, 20, "the CLI to start on the message")
        assert tinyclaw(home, "backup", str(archive)).returncode == 0
    with tarfile.open(archive) as tar:
        [copy] = [n for n in tar.getnames() if n.endswith(f"{msg.id}.json")]
    assert copy.startswith("queue/processing/assistant/")  # taken mid-run, kept once

    new = Home(tmp_path / "restored")
    assert tinyclaw(new, "restore", str(archive)).returncode == 0
    with worker_process(new):
        assert reply_for(new, msg, timeout=30).text == "echo: answer slowly"
