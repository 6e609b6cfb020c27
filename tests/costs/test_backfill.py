"""Runs from before the cost ledger existed still count: the first worker to start
copies their ``run.end`` costs from the event log (the rotated part too), once."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from tests.worker.conftest import fake_cli_config, wait_for, worker_thread, write_config
from tinyclaw.cli.app import app
from tinyclaw.core.events import EventLog, rotated_path
from tinyclaw.core.home import Home
from tinyclaw.costs import CostLedger
from tinyclaw.costs.backfill import import_run_ends


def logged_runs(home: Home) -> EventLog:
    """An event log as an older tinyclaw left it: two runs, one already rotated."""
    events = EventLog(home.logs / "events.jsonl")
    now = time.time()
    events.emit("run.end", id="old-1", actor="assistant", cost=0.5, conversation="telegram:42")
    events.path.rename(rotated_path(events.path))
    events.emit("run.end", id="old-2", actor="coder", cost=0.25, conversation="cli:local")
    events.emit("run.end", id="old-3", actor="coder", cost=None, conversation="cli:local")
    long_ago = EventLog(events.path, clock=lambda: now - 90 * 86400)
    long_ago.emit("run.end", id="ancient", actor="coder", cost=9.0, conversation="cli:local")
    return events


def test_the_first_worker_takes_earlier_costs_from_the_event_log(home: Home) -> None:
    write_config(home, fake_cli_config())
    logged_runs(home)
    ledger = CostLedger(home.state / "costs")

    with worker_thread(home):
        wait_for(lambda: (home.state / "costs" / "imported").exists(), what="the import")

    found = {e.id: (e.actor, e.chat, e.cost_usd) for e in ledger.entries(0, 2e9)}
    assert found == {
        "old-1": ("assistant", "telegram:42", 0.5),
        "old-2": ("coder", "cli:local", 0.25),
        "old-3": ("coder", "cli:local", 0.0),  # a run whose CLI reported no cost
    }
    report = json.loads(
        CliRunner().invoke(app, ["--home", str(home.root), "cost", "--json"]).output
    )
    assert report["total"] == {
        "today_usd": 0.75,
        "today_runs": 3,
        "month_usd": 0.75,
        "month_runs": 3,
    }


def test_the_import_happens_once(home: Home) -> None:
    events = logged_runs(home)
    ledger = CostLedger(home.state / "costs")
    assert import_run_ends(ledger, events.read(), time.time()) == 3
    events.emit("run.end", id="later", actor="coder", cost=1.0, conversation="cli:local")
    assert import_run_ends(ledger, events.read(), time.time()) == 0
    assert len(ledger.entries(0, 2e9)) == 3
