"""A file an actor writes into its drop folders cannot jam anyone.

A model can write anything with its ordinary Write tool. A JSON file nested a few
thousand levels deep fits well under the size limits (200 KB in ``outbox/``, 60 KB
in ``schedules/``) but makes the parser give up with RecursionError. Such a file,
like any file that cannot be parsed, is refused once: to its ``failed/`` place with
the reason, said once in the log. The other actors' notes, schedules and
heartbeats go on as if it were not there, and the log does not grow pass by pass.
"""

from __future__ import annotations

import logging

import pytest

from tests.outbox.conftest import drop, settled, workspace
from tests.schedule.running import failed_reasons, outgoing, write_file
from tests.worker.conftest import fake_cli_config, write_config
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_inbound
from tinyclaw.outbox.service import OutboxService
from tinyclaw.schedule.service import SchedulerService
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool

ACTORS: dict[str, dict[str, object]] = {
    "coder": {"owner_chat": "telegram:1001"},
    "helper": {"owner_chat": "telegram:1002"},
}
HEARTBEAT = '\n[actors.helper.heartbeat]\nevery = "1h"\n'


def nested(size: int) -> str:
    """A JSON object about ``size`` bytes long, nested far past the parser's depth."""
    depth = (size - 40) // 2
    return '{"to": "telegram:1001", "text": ' + "[" * depth + "]" * depth + "}"


@pytest.fixture
def configured(home: Home) -> Home:
    write_config(home, fake_cli_config(ACTORS, extra=HEARTBEAT))
    home.actor_dir("helper").mkdir(parents=True, exist_ok=True)
    (home.actor_dir("helper") / "HEARTBEAT.md").write_text("- is CI green?\n")
    return home


def test_nested_files_are_refused_once_and_the_other_actors_are_served(
    configured: Home, caplog: pytest.LogCaptureFixture
) -> None:
    home = configured
    config = load_config(home)
    spool = Spool(home)
    scheduler = SchedulerService(home, config, spool, min_interval=0)
    outbox = OutboxService(home, config, spool)
    deep_note = drop(home, "deep.json", nested(200_000))
    deep_job = write_file(workspace(home) / "schedules" / "deep.json", nested(60_000))
    assert 190_000 < deep_note.stat().st_size < 512 * 1024
    assert 55_000 < deep_job.stat().st_size < 64 * 1024
    drop(home, "hello.json", {"text": "helper is fine"}, actor="helper")
    write_file(
        workspace(home, "helper") / "schedules" / "daily.json", {"every": "1d", "prompt": "p"}
    )

    lines_per_pass = []
    for n in range(5):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            now = settled() + n  # long after every write: each pass may take files out
            scheduler.tick(now)
            outbox.tick(now)
        lines_per_pass.append(len(caplog.records))

    # The other actor's note, schedule and heartbeat went through.
    assert [r.text for r in outgoing(home, "telegram")] == ["helper is fine"]
    assert [job.prompt for job in JobStore.for_home(home).list()] == ["p"]
    queued = [load_inbound(p.read_bytes()) for p in spool.list_box(spool.incoming)]
    assert [(m.actor, m.kind) for m in queued] == [("helper", "heartbeat")]
    # The deep files were refused once each, to their failed/ places, with the reason.
    [(name, reason)] = failed_reasons(home).items()
    assert name.startswith("outbox-coder-") and name.endswith("-deep.json")
    assert "nested too deeply" in reason
    schedules = workspace(home) / "schedules"
    assert "nested too deeply" in (schedules / "failed" / "deep.json.reason").read_text()
    assert not deep_note.exists() and not deep_job.exists()
    # Said once: the passes after the first one log nothing.
    assert lines_per_pass[0] > 0 and lines_per_pass[1:] == [0, 0, 0, 0], lines_per_pass


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("binary.json", b"\xff\xfe\x00garbage"),
        ("broken.json", b'{"to": "telegram:1001", "text": "no end'),
        ("nested-list.json", b"[" * 100_000 + b"]" * 100_000),
    ],
)
def test_any_unparseable_drop_file_is_refused_once_it_settles(
    configured: Home, name: str, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    home = configured
    config = load_config(home)
    spool = Spool(home)
    outbox = OutboxService(home, config, spool)
    scheduler = SchedulerService(home, config, spool, min_interval=0)
    note = workspace(home) / "outbox" / name
    job = workspace(home) / "schedules" / name
    note.write_bytes(content)
    job.write_bytes(content)
    said = []
    for n in range(3):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            outbox.tick(settled() + n)
            scheduler.tick(settled() + n)
        said.append([r.getMessage() for r in caplog.records if name in r.getMessage()])
    [reason] = failed_reasons(home).values()
    assert reason.startswith(f"outbox of @coder: {name}: ")
    assert (job.parent / "failed" / f"{name}.reason").exists()
    assert not note.exists() and not job.exists()
    assert said[0] and said[1:] == [[], []]  # said on the first pass only


def test_the_worker_keeps_serving_with_a_nested_file_in_an_outbox(configured: Home) -> None:
    """The same through a running worker: the file is refused, the worker stays up."""
    from tests.schedule.running import worker_with_services
    from tests.worker.conftest import message, reply_for, wait_for

    home = configured
    drop(home, "deep.json", nested(200_000))
    with worker_with_services(home):
        wait_for(lambda: failed_reasons(home), 30, "the nested file refused")
        asked = message("still there?")
        Spool(home).put(asked)
        assert reply_for(home, asked, 30).text == "echo: still there?"
