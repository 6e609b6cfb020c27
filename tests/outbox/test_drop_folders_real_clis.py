"""The real ``claude`` and ``codex`` CLIs write into their drop folders, and every
write is reported to the model as a success.

The worker watches ``outbox/`` and ``schedules/`` and acts within milliseconds of a
write. Claude Code's Write tool stats and reads the file again right after writing
it; a worker that took the file away in between made the CLI tell the model that its
write had failed, and a careful model wrote the note again. So each story here checks
what the CLI sent back to the (fake) provider as the tool result, not only what
tinyclaw delivered: each write must read as a success, the note must reach its chat
once, the schedule must become one job, and the files must leave the folders once
the run is over.

The model in these stories also writes the note a second time under another name,
as a model does that believes its first write failed: the chat still gets it once.

Every story runs for both CLIs, with the home on disk and on tmpfs (where the race
showed most often). The tmpfs is mounted by the test when it runs as root and may
mount; otherwise the home goes under /dev/shm (a tmpfs on Linux). The default run has
one round of each story; the 50-round loop is a soak test (``scripts/test -m soak``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.openai_api import OpenAIFake
from tests.fakes.providers import Reply
from tests.support.commands import events
from tests.support.messages import failed_reasons, message, outgoing, reply_for
from tests.support.services import worker_with_services
from tests.support.waiting import wait_for
from tests.support.worker import write_config
from tinyclaw.config import RunnerSettings
from tinyclaw.core.home import Home
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool

pytestmark = pytest.mark.cli

ACTOR = "assistant"
OWNER = "telegram:1001"
# codex without its own sandbox: with a system bwrap installed, its workspace-write
# sandbox hides a workspace under /tmp (where the tests' homes are) and every write
# fails; what these stories test is the same with or without it.
WRITE_MODE = {"claude": "acceptEdits", "codex": "danger-full-access"}
SUCCESS = {"claude": "File created successfully", "codex": "Success. Updated the following files"}
EDITED = {
    "claude": "has been updated successfully",
    "codex": "Success. Updated the following files",
}


@dataclass(frozen=True)
class Tmpfs:
    """Where a tmpfs home lives, and how it was made (said in failure messages)."""

    root: Path
    how: str  # "mounted" or "/dev/shm"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    """A tmpfs folder: mounted for this test when root may mount, else in /dev/shm."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256m,mode=0700", "tmpfs", str(mount_point)],
            capture_output=True,
        )
        mounted = done.returncode == 0
    if mounted:
        try:
            yield Tmpfs(mount_point, "mounted")
        finally:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)
        return
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no tmpfs: cannot mount one and there is no /dev/shm")
    root = shm / f"tinyclaw-test-{uuid.uuid4().hex[:12]}"
    root.mkdir(mode=0o700)
    try:
        yield Tmpfs(root, "/dev/shm")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class DropStage:
    """One actor on the real ``kind`` CLI against ``fake``, its home on ``where``."""

    kind: str
    home: Home
    fake: AnthropicFake | OpenAIFake
    settings: RunnerSettings
    where: str

    @property
    def workspace(self) -> Path:
        return self.home.actor_dir(ACTOR) / "workspace"

    def configure(self) -> None:
        env = ", ".join(f"{k} = {json.dumps(v)}" for k, v in self.settings.env.items())
        write_config(
            self.home,
            "[worker]\nscan_interval = 0.5\nretry_backoff = 0\nstop_timeout = 0.5\n\n"
            f"[runners.{self.kind}]\n"
            f"command = {json.dumps(self.settings.command)}\n"
            f"home = {json.dumps(self.settings.home)}\n"
            f"env = {{ {env} }}\n\n"
            f"[actors.{ACTOR}]\n"
            f'runner = "{self.kind}"\n'
            f'owner_chat = "{OWNER}"\n'
            f'permission_mode = "{WRITE_MODE[self.kind]}"\n',
        )

    def write(self, relative: str, content: object) -> Reply:
        """The tool call this CLI's model makes to write a file in its workspace."""
        text = json.dumps(content)
        if self.kind == "claude":
            return Reply.tool(
                "Write", {"file_path": str(self.workspace / relative), "content": text}
            )
        patch = f"*** Begin Patch\n*** Add File: {relative}\n+{text}\n*** End Patch\n"
        return Reply.tool("apply_patch", patch)

    def edit(self, relative: str, old: object, new: object) -> Reply:
        """The tool call that rewrites the file's one line ``old`` as ``new``: Edit for
        claude, an ``Update File`` hunk for codex (which reads the file first)."""
        before, after = json.dumps(old), json.dumps(new)
        if self.kind == "claude":
            path = str(self.workspace / relative)
            return Reply.tool(
                "Edit", {"file_path": path, "old_string": before, "new_string": after}
            )
        hunk = f"*** Update File: {relative}\n@@\n-{before}\n+{after}\n"
        return Reply.tool("apply_patch", f"*** Begin Patch\n{hunk}*** End Patch\n")

    def script_round(self, marker: str, note: str, prompt: str) -> None:
        """The model writes a note and a schedule, then the note again under another
        name (as a model does that believes its first write failed), then answers."""
        body = {"to": OWNER, "text": note}
        self.fake.on_marker(
            marker,
            self.write(f"outbox/{marker}.json", body),
            self.write(f"schedules/{marker}.json", {"every": "2h", "prompt": prompt}),
            self.write(f"outbox/{marker}-again.json", body),
            Reply.say(f"{marker} done"),
        )

    def drop_folders_empty(self) -> bool:
        return not any(
            p.suffix == ".json"
            for folder in ("outbox", "schedules")
            for p in (self.workspace / folder).iterdir()
        )


def _stage(request: pytest.FixtureRequest, kind: str, root: Path, where: str) -> DropStage:
    home = Home(root / "home")
    home.ensure()
    fake = request.getfixturevalue("anthropic_fake" if kind == "claude" else "openai_fake")
    stage = DropStage(kind, home, fake, request.getfixturevalue(f"{kind}_settings"), where)
    stage.configure()
    return stage


@pytest.fixture(params=["claude", "codex"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["disk", "tmpfs"])
def stage(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> DropStage:
    if request.param == "tmpfs":
        space: Tmpfs = request.getfixturevalue("tmpfs")
        return _stage(request, kind, space.root, f"tmpfs ({space.how})")
    return _stage(request, kind, tmp_path / "disk", "disk")


def _run_rounds(stage: DropStage, rounds: int) -> None:
    """``rounds`` messages, each making the model write a note, a schedule and the
    note again; then every promise is checked."""
    spool = Spool(stage.home)
    markers = [f"ROUND{n:03d}" for n in range(rounds)]
    for marker in markers:
        stage.script_round(marker, f"note of {marker}", f"check {marker}")
    with worker_with_services(stage.home):
        for marker in markers:
            asked = message(f"{marker}: write the note and schedule the check")
            spool.put(asked)
            answer = reply_for(stage.home, asked, timeout=120)
            assert answer.text == f"{marker} done", f"{stage.where}: {answer.text!r}"
        wait_for(stage.drop_folders_empty, 30, "the drop files to leave once the runs ended")

    # Each request resends the history; every result names its file, so set() leaves
    # one per tool call.
    results = set(stage.fake.tool_results())
    assert len(results) == 3 * rounds
    failures = [r for r in results if SUCCESS[stage.kind] not in r]
    assert failures == [], f"{stage.where}: the model was told a write failed: {failures[:3]}"

    notes = sorted(r.text for r in outgoing(stage.home, "telegram"))
    assert notes == sorted(f"note of {m}" for m in markers), f"{stage.where}: {notes}"
    prompts = sorted(job.prompt for job in JobStore.for_home(stage.home).list())
    assert prompts == sorted(f"check {m}" for m in markers)
    assert len(events(stage.home, "outbox.repeat")) >= rounds  # each retry was a no-op (a retry seen twice is logged twice)
    assert failed_reasons(stage.home) == {}


def test_a_note_and_a_schedule_written_by_the_cli_arrive_once_and_the_cli_sees_success(
    stage: DropStage,
) -> None:
    _run_rounds(stage, 1)


def test_a_note_corrected_with_the_edit_tool_before_the_run_ends_goes_out_corrected_too(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    """The file is still where the CLI wrote it, so editing it works (it used to be
    gone already); the corrected version is a new message, sent as it is written."""
    stage = _stage(request, kind, tmp_path / "disk", "disk")
    first = {"to": OWNER, "text": "The build is red."}
    fixed = {"to": OWNER, "text": "Sorry: the build is green."}
    stage.fake.on_marker(
        "FIXUP",
        stage.write("outbox/build.json", first),
        stage.edit("outbox/build.json", first, fixed),
        Reply.say("corrected"),
    )
    spool = Spool(stage.home)
    with worker_with_services(stage.home):
        asked = message("FIXUP: tell them about the build")
        spool.put(asked)
        assert reply_for(stage.home, asked, timeout=120).text == "corrected"
        wait_for(stage.drop_folders_empty, 30, "the note to leave once the run ended")

    results = set(stage.fake.tool_results())  # the write, then the edit
    assert len(results) == 2
    assert [r for r in results if SUCCESS[kind] not in r and EDITED[kind] not in r] == []
    assert any(EDITED[kind] in r for r in results), results
    notes = [r.text for r in sorted(outgoing(stage.home, "telegram"), key=lambda r: r.id)]
    assert notes == ["The build is red.", "Sorry: the build is green."]


@pytest.mark.soak
@pytest.mark.timeout(900)  # 150 tool calls through a real CLI: about 1.5 minutes idle
def test_fifty_rounds_on_tmpfs_never_tell_the_model_a_write_failed(
    request: pytest.FixtureRequest, kind: str, tmpfs: Tmpfs
) -> None:
    _run_rounds(_stage(request, kind, tmpfs.root, f"tmpfs ({tmpfs.how})"), 50)
