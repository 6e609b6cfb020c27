"""Spend limits on what the home starts itself, with ``scripts/fake-cli`` (each run
reports $0.25): a schedule's answer is refused like a chat message, a heartbeat over
a limit stays quiet (the owner was told once), and nothing of either runs."""

from __future__ import annotations

from tests.worker.conftest import (
    fake_cli_config,
    message,
    reply_for,
    wait_for,
    worker_thread,
    write_config,
)
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool


def limited_home(home: Home) -> None:
    actors: dict[str, dict[str, object]] = {"assistant": {"max_usd_per_month": 0.2}}
    write_config(home, fake_cli_config(actors, env={"FAKE_CLI_COST": "0.25"}))


def runs(home: Home) -> int:
    return sum(e["event"] == "run.start" for e in EventLog(home.logs / "events.jsonl").read())


def test_a_heartbeat_over_the_limit_is_not_run_and_stays_quiet(home: Home) -> None:
    limited_home(home)
    spool = Spool(home)
    with worker_thread(home):
        first = message("use up the month")
        spool.put(first)
        assert reply_for(home, first).kind == "reply"
        beat = message("check the inbox", kind="heartbeat", meta={"quiet_token": "HEARTBEAT_OK"})
        spool.put(beat)
        wait_for(
            lambda: any(
                e.get("id") == beat.id
                for e in EventLog(home.logs / "events.jsonl").read()
                if e["event"] == "spend.limit"
            ),
            what="the heartbeat refused",
        )
        wait_for(lambda: spool.depths()["processing"] == 0, what="the heartbeat done")
        scheduled = message("the morning summary", kind="schedule")
        spool.put(scheduled)
        refused = reply_for(home, scheduled)

    assert runs(home) == 1
    assert not spool.reply_exists("cli", beat.id)
    assert refused.kind == "error"
    assert refused.text.startswith("Not run: @assistant's limit of $0.20 a month is reached")


def test_a_limit_added_to_the_running_worker_counts_from_the_next_message(home: Home) -> None:
    write_config(home, fake_cli_config({"assistant": {}}, env={"FAKE_CLI_COST": "0.25"}))
    spool = Spool(home)
    with worker_thread(home) as worker:
        first = message("before the limit")
        spool.put(first)
        assert reply_for(home, first).kind == "reply"
        limited_home(home)  # the owner saves tinyclaw.toml with a monthly limit of $0.20
        worker.wake.set()
        wait_for(
            lambda: worker.config.actors["assistant"].max_usd_per_month == 0.2,
            what="the reload",
        )
        second = message("after the limit")
        spool.put(second)
        refused = reply_for(home, second)

    assert refused.kind == "error" and "limit of $0.20 a month is reached" in refused.text
    assert runs(home) == 1
