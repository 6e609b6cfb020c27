"""The persona section teaches the CLI both file formats; its examples are real files
that pass the same checks the worker applies."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from tests.worker.conftest import fake_cli_config, write_config
from tinyclaw.actors.persona import persona_path, write_persona
from tinyclaw.cli.app import app
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.outbox.request import check_target, validate_request
from tinyclaw.schedule.actor_jobs import import_actor_jobs
from tinyclaw.schedule.models import build_job
from tinyclaw.schedule.persona import persona_section
from tinyclaw.schedule.service import SchedulerService
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool

from .conftest import BERLIN, ManualClock

EXTRA = """
[actors.coder.heartbeat]
every = "90m"
active_hours = "08:00-22:00"
"""


def examples(text: str) -> list[dict[str, object]]:
    blocks = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    return [json.loads(line) for block in blocks for line in block.splitlines() if line]


def test_the_section_names_the_folders_the_chats_and_the_heartbeat(home: Home) -> None:
    actors: dict[str, dict[str, object]] = {
        "coder": {"owner_chat": "telegram:1001", "may_message": ["discord:55"]}
    }
    write_config(home, fake_cli_config(actors, extra=EXTRA))
    config = load_config(home)
    text = persona_section(home, config, "coder")
    workspace = config.workspace_for(home, "coder")
    assert f"`{workspace / 'outbox'}/`" in text and f"`{workspace / 'schedules'}/`" in text
    assert "`telegram:1001`, `discord:55`" in text
    assert "Leaving `to` out means `telegram:1001`" in text
    assert "Every 1h30m between 08:00-22:00" in text and "`HEARTBEAT_OK`" in text


def test_the_model_is_told_that_writing_again_is_safe_and_when_files_disappear(
    home: Home,
) -> None:
    write_config(home, fake_cli_config({"coder": {"owner_chat": "telegram:1001"}}))
    text = persona_section(home, load_config(home), "coder")
    assert "the file stays in the folder\nuntil your current run is over" in text
    assert "again within 5 minutes sends\nnothing more" in text
    assert "The same job written again within 5 minutes makes no second job." in text

    off = fake_cli_config({"coder": {"owner_chat": "telegram:1001"}})
    write_config(home, off.replace("[worker]\n", "[worker]\ndedupe_window = 0\n"))
    assert "within" not in persona_section(home, load_config(home), "coder")


def test_an_actor_without_chats_is_told_so(home: Home) -> None:
    write_config(home, fake_cli_config({"coder": {}}))
    text = persona_section(home, load_config(home), "coder")
    assert "You have no chat you may write to first" in text
    assert "### Heartbeat" not in text


def test_the_examples_pass_the_real_checks(home: Home, clock: ManualClock) -> None:
    write_config(home, fake_cli_config({"coder": {"owner_chat": "telegram:1001"}}))
    text = persona_section(home, load_config(home), "coder")
    message, *jobs = examples(text)

    request = validate_request(message)
    assert str(check_target(request, "coder", ["telegram:1001"])) == "telegram:1001"
    assert request.files == ["logs/build.txt"]

    folder = home.root / "requests"
    folder.mkdir()
    for number, job in enumerate(jobs):
        (folder / f"{number}.json").write_text(json.dumps(job))
    results = import_actor_jobs(
        JobStore.for_home(home),
        "coder",
        folder,
        clock.now(),
        local_tz=BERLIN,
        default_to="telegram:1001",
        allowed_to={"telegram:1001"},
    )
    assert [r.error for r in results] == [None, None, None]
    assert sorted(job.kind for job in JobStore.for_home(home).list()) == ["at", "cron", "every"]


def test_schedule_add_and_rm_refresh_the_chats_the_persona_lists(home: Home) -> None:
    """An operator's job lets its actor write first to the job's chat; the persona the
    CLI reads says so at once, not after the worker's next start."""
    write_config(home, fake_cli_config({"coder": {"owner_chat": "telegram:1001"}}))
    persona = persona_path(home, load_config(home), "coder")
    write_persona(home, load_config(home), "coder")
    assert "`discord:77`" not in persona.read_text()

    added = CliRunner().invoke(
        app,
        ["schedule", "add", "--actor", "coder", "--every", "1h", "--to", "discord:77", "x"],
    )
    assert added.exit_code == 0, added.output
    assert "`telegram:1001`, `discord:77`" in persona.read_text()

    [job] = JobStore.for_home(home).list()
    removed = CliRunner().invoke(app, ["schedule", "rm", job.id])
    assert removed.exit_code == 0, removed.output
    assert "`discord:77`" not in persona.read_text()


def test_the_worker_refreshes_the_persona_when_the_jobs_change(
    home: Home, clock: ManualClock
) -> None:
    """A job file written by hand (or by a CLI of another version) while the worker
    runs: its next pass rewrites the persona."""
    write_config(home, fake_cli_config({"coder": {"owner_chat": "telegram:1001"}}))
    config = load_config(home)
    service = SchedulerService(home, config, Spool(home), clock=clock, local_tz=BERLIN)
    write_persona(home, config, "coder")
    persona = persona_path(home, config, "coder")
    JobStore.for_home(home).add(
        build_job(
            actor="coder", to="discord:77", prompt="x", now=clock.now(), local_tz=BERLIN, every="1h"
        )
    )
    service.tick(clock())
    assert "`telegram:1001`, `discord:77`" in persona.read_text()
