"""An actor's drop files stay put while its CLI may still touch them, and a note or
schedule written twice (a model retrying a write it believes failed) counts once."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.schedule.running import events, failed_reasons, outgoing, write_file
from tests.worker.conftest import fake_cli_config, write_config
from tinyclaw.config import load_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.outbox.service import OutboxService
from tinyclaw.schedule.service import SchedulerService
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool

from .conftest import ACTORS, drop, settled, workspace

WINDOW = 300.0  # the default worker.dedupe_window


def outbox(home: Home, busy: set[str] | None = None) -> OutboxService:
    running = busy if busy is not None else set()
    log = EventLog(home.logs / "events.jsonl")
    return OutboxService(
        home, load_config(home), Spool(home), events=log, busy=running.__contains__
    )


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".json")


def backdate(path: Path, seconds: float) -> Path:
    """As if the file had been written ``seconds`` earlier."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - int(seconds * 1e9)))
    return path


def test_a_note_goes_out_at_once_but_stays_in_the_outbox_while_its_actor_runs(
    configured: Home,
) -> None:
    running = {"coder"}
    service = outbox(configured, running)
    drop(configured, "progress.json", {"text": "Build started, back in an hour."})

    assert service.tick(settled()) is None  # the end of the run wakes the worker
    assert [r.text for r in outgoing(configured, "telegram")] == ["Build started, back in an hour."]
    assert names(workspace(configured) / "outbox") == ["progress.json"]  # not taken away

    running.clear()  # the run is over
    service.tick(settled())
    assert names(workspace(configured) / "outbox") == []
    assert len(outgoing(configured, "telegram")) == 1


def test_a_refused_note_moves_to_failed_only_once_the_run_is_over(configured: Home) -> None:
    running = {"coder"}
    service = outbox(configured, running)
    drop(configured, "spam.json", {"to": "telegram:666", "text": "Buy now!"})
    service.tick(settled())
    assert failed_reasons(configured) == {}
    assert [e["reason"] for e in events(configured, "outbox.refused")] != []  # said at once
    running.clear()
    service.tick(settled())
    [reason] = failed_reasons(configured).values()
    assert "may not write to telegram:666" in reason
    assert len(events(configured, "outbox.refused")) == 1


def test_a_note_written_again_under_another_name_is_sent_once(configured: Home) -> None:
    service = outbox(configured)
    drop(configured, "done.json", {"to": "telegram:1001", "text": "Deploy finished."})
    drop(configured, "done-retry.json", {"to": "telegram:1001", "text": "Deploy finished."})

    service.tick(settled())

    assert [r.text for r in outgoing(configured, "telegram")] == ["Deploy finished."]
    [repeat] = events(configured, "outbox.repeat")
    assert repeat["file"] == "done-retry.json" and repeat["to"] == "telegram:1001"
    assert names(workspace(configured) / "outbox") == []  # both taken out
    assert failed_reasons(configured) == {}


def test_the_same_words_to_another_chat_or_much_later_are_new_notes(configured: Home) -> None:
    service = outbox(configured)
    backdate(drop(configured, "morning.json", {"text": "All green."}), WINDOW + 60)
    drop(configured, "evening.json", {"text": "All green."})  # same chat, outside the window
    drop(configured, "team.json", {"to": "discord:55", "text": "All green."})  # other chat
    drop(configured, "other.json", {"text": "All green!"})  # other words

    service.tick(settled())

    assert len(outgoing(configured, "telegram")) == 3
    assert len(outgoing(configured, "discord")) == 1
    assert events(configured, "outbox.repeat") == []


def test_with_no_dedupe_window_every_note_goes_out(home: Home) -> None:
    write_config(home, fake_cli_config(ACTORS, extra="") .replace(
        "[worker]\n", "[worker]\ndedupe_window = 0\n"
    ))  # fmt: skip
    service = outbox(home)
    drop(home, "a.json", {"text": "ping"})
    drop(home, "b.json", {"text": "ping"})
    service.tick(settled())
    assert len(outgoing(home, "telegram")) == 2


def test_a_restarted_worker_does_not_send_a_leftover_note_or_its_repeat_again(
    configured: Home,
) -> None:
    drop(configured, "note.json", {"text": "Backup done."})
    drop(configured, "note-again.json", {"text": "Backup done."})
    outbox(configured, {"coder"}).tick(settled())  # the run was in flight: files stay
    spool = Spool(configured)
    [queued] = spool.list_box(spool.outgoing("telegram"))
    spool.mark_sent(queued, "telegram")  # the listener delivered it; then the worker died

    outbox(configured).tick(settled())  # a new worker, the actor idle

    assert outgoing(configured, "telegram") == []
    assert len(spool.list_box(spool.sent("telegram"))) == 1
    assert names(workspace(configured) / "outbox") == []


def _scheduler(home: Home, busy: set[str] | None = None) -> SchedulerService:
    running = busy if busy is not None else set()
    log = EventLog(home.logs / "events.jsonl")
    return SchedulerService(
        home, load_config(home), Spool(home), min_interval=0, events=log, busy=running.__contains__
    )


def test_a_schedule_written_twice_makes_one_job(configured: Home) -> None:
    folder = workspace(configured) / "schedules"
    write_file(folder / "standup.json", {"every": "1d", "prompt": "Stand-up notes"})
    write_file(folder / "standup-2.json", {"every": "1d", "prompt": "Stand-up notes"})

    _scheduler(configured).tick(settled())

    assert [job.prompt for job in JobStore.for_home(configured).list()] == ["Stand-up notes"]
    [repeat] = events(configured, "schedule.repeat")
    assert repeat["file"] == "standup-2.json"
    assert names(folder) == []


def test_a_schedule_left_by_a_dead_worker_does_not_become_a_second_job(
    configured: Home,
) -> None:
    folder = workspace(configured) / "schedules"
    path = write_file(folder / "weekly.json", {"every": "7d", "prompt": "Weekly review"})
    _scheduler(configured, {"coder"}).tick(settled())  # imported, left while coder runs
    assert path.exists()
    (configured.state / "recent").rename(configured.state / "lost")  # even without marks

    _scheduler(configured).tick(settled())  # a new worker

    assert [job.prompt for job in JobStore.for_home(configured).list()] == ["Weekly review"]
    assert not path.exists()


def test_a_file_rewritten_while_it_waits_is_a_new_note(configured: Home) -> None:
    running = {"coder"}
    service = outbox(configured, running)
    drop(configured, "status.json", {"text": "50% done"})
    service.tick(time.time())
    drop(configured, "status.json", {"text": "100% done"})  # the model edits its note
    service.tick(time.time())
    running.clear()
    service.tick(settled())
    assert sorted(r.text for r in outgoing(configured, "telegram")) == ["100% done", "50% done"]
    assert names(workspace(configured) / "outbox") == []
