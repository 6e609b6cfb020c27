"""Costs, spend limits and ``/model`` through the real worker and the REAL ``claude``
CLI against the fake Anthropic API: what the CLI reports a run cost lands in the cost
ledger, ``tinyclaw cost`` adds it up, a limit stops the next run before the CLI starts
(and tells the owner once), and a chat's ``/model`` choice is the ``--model`` of its
next run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from tests.fakes.anthropic_api import AnthropicFake
from tests.worker.conftest import message, reply_for, serving, write_config
from tinyclaw.cli.app import app
from tinyclaw.config import RunnerSettings, load_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender, load_reply
from tinyclaw.core.messages import Reply as Answer
from tinyclaw.costs import CostLedger
from tinyclaw.spool import Spool
from tinyclaw.worker.assembly import build_runners
from tinyclaw.worker.loop import Worker

pytestmark = pytest.mark.cli

ALICE = "42"  # a paired Telegram user (allow_from)
OWNER = "1"  # the owner, on Telegram too


def configure(
    home: Home, settings: RunnerSettings, actor: str = "", extra: str = "", runner: str = "claude"
) -> None:
    env = ", ".join(f"{k} = {json.dumps(v)}" for k, v in settings.env.items())
    write_config(
        home,
        f"""
[worker]
scan_interval = 0.5
retry_backoff = 0
stop_timeout = 0.5

[runners.{runner}]
command = {json.dumps(settings.command)}
home = {json.dumps(settings.home)}
env = {{ {env} }}

[actors.assistant]
runner = "{runner}"
timeout = 120
{actor}

[channels.telegram]
allow_from = ["{ALICE}"]

[pairing]
owners = ["telegram:{OWNER}"]
{extra}
""",
    )


@contextmanager
def worker(home: Home) -> Iterator[Worker]:
    config = load_config(home)
    with serving(Worker(home, config, build_runners(home, config))) as running:
        yield running


def from_alice(text: str, kind: str = "chat") -> Inbound:
    return message(text, channel="telegram", chat=ALICE, sender=Sender(id=ALICE), kind=kind)


def ask(home: Home, msg: Inbound) -> Answer:
    Spool(home).put(msg)
    return reply_for(home, msg, timeout=90)


def tinyclaw_cost(home: Home) -> dict[str, object]:
    result = CliRunner().invoke(app, ["--home", str(home.root), "cost", "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.output)
    return report


def notices(home: Home) -> list[Answer]:
    spool = Spool(home)
    found = [load_reply(p.read_bytes()) for p in spool.list_box(spool.outgoing("telegram"))]
    return [r for r in found if r.kind == "notice"]


def test_what_a_run_cost_is_recorded_and_tinyclaw_cost_adds_it_up(
    home: Home, claude_settings: RunnerSettings
) -> None:
    configure(home, claude_settings)
    with worker(home):
        first = ask(home, from_alice("hello"))
        second = ask(home, from_alice("and again"))

    costs = [first.meta["cost_usd"], second.meta["cost_usd"]]
    assert all(isinstance(c, float) and c > 0 for c in costs), costs  # the CLI's figure
    entries = CostLedger(home.state / "costs").entries(0, 2e9)
    assert sorted(e.cost_usd for e in entries) == sorted(costs)
    assert {(e.actor, e.identity, e.chat) for e in entries} == {
        ("assistant", f"telegram:{ALICE}", f"telegram:{ALICE}")
    }

    report = tinyclaw_cost(home)
    total = report["total"]
    assert isinstance(total, dict)
    assert total["today_runs"] == total["month_runs"] == 2
    assert total["today_usd"] == pytest.approx(sum(costs), abs=1e-6)
    assert report["actors"] == [
        {
            "name": "assistant",
            "today_usd": pytest.approx(sum(costs), abs=1e-6),
            "today_runs": 2,
            "month_usd": pytest.approx(sum(costs), abs=1e-6),
            "month_runs": 2,
            "max_usd_per_day": None,
            "max_usd_per_month": None,
        }
    ]
    profiles = report["profiles"]
    assert isinstance(profiles, list)
    assert [p["name"] for p in profiles] == [f"telegram:{ALICE}"]


def test_a_codex_run_reports_no_price_and_counts_as_a_run_at_no_cost(
    home: Home, codex_settings: RunnerSettings
) -> None:
    configure(home, codex_settings, runner="codex")
    with worker(home):
        reply = ask(home, from_alice("hello"))

    assert reply.kind == "reply"
    [entry] = CostLedger(home.state / "costs").entries(0, 2e9)
    assert (entry.actor, entry.cost_usd) == ("assistant", 0.0)
    assert tinyclaw_cost(home)["total"] == {
        "today_usd": 0.0,
        "today_runs": 1,
        "month_usd": 0.0,
        "month_runs": 1,
    }


def test_a_message_over_the_actors_daily_limit_is_answered_without_running_the_cli(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    # Any real run costs more than this, so the second message is over the limit.
    configure(home, claude_settings, actor="max_usd_per_day = 0.000001")
    with worker(home):
        first = ask(home, from_alice("hello"))
        refused = ask(home, from_alice("are you there?"))
        again = ask(home, from_alice("still there?"))

    assert first.kind == "reply" and first.text == "echo: hello"
    assert len(anthropic_fake.model_requests()) == 1  # neither later message ran the CLI
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    for answer in (refused, again):
        assert answer.kind == "error"
        assert answer.text.startswith("Not run: @assistant's limit of $0.0000 a day is reached"), (
            answer.text
        )
        assert f"It resets at {tomorrow} 00:00" in answer.text
    # The owner hears of it once, in their Telegram chat, whatever else is refused.
    [notice] = notices(home)
    assert notice.chat_id == OWNER
    assert notice.text.startswith("Spend limit reached: @assistant's limit")
    assert "max_usd_per_day in [actors.assistant]" in notice.text
    assert len(CostLedger(home.state / "costs").entries(0, 2e9)) == 1  # refusals cost nothing


def test_a_persons_limit_stops_only_that_person(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    configure(home, claude_settings, extra="max_usd_per_day = 0.000001")
    with worker(home):
        ask(home, from_alice("hello"))
        refused = ask(home, from_alice("more"))
        from_home = ask(home, message("the terminal is not limited"))

    assert refused.kind == "error"
    assert refused.text.startswith("Not run: your limit of $0.0000 a day is reached")
    assert from_home.kind == "reply"
    assert len(anthropic_fake.model_requests()) == 2
    assert "[pairing]" in notices(home)[0].text


def test_model_switches_the_model_of_the_chats_next_run(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    configure(home, claude_settings, actor='models = ["claude-fake-big", "claude-fake-small"]')
    with worker(home):
        ask(home, from_alice("before"))
        switched = ask(home, from_alice("/model claude-fake-big", kind="command"))
        ask(home, from_alice("after"))
        shown = ask(home, from_alice("/model", kind="command"))
        unknown = ask(home, from_alice("/model gpt-9", kind="command"))
        back = ask(home, from_alice("/model default", kind="command"))
        ask(home, from_alice("last"))

    before, after, last = (r.body["model"] for r in anthropic_fake.model_requests())
    assert after == "claude-fake-big" and before != after and last == before
    assert (
        switched.text
        == "@assistant now uses claude-fake-big in this chat, from the next message on."
    )
    assert shown.text.startswith("@assistant uses claude-fake-big in this chat.")
    assert "You may pick: claude-fake-big, claude-fake-small." in shown.text
    assert unknown.text == (
        "@assistant has no model called 'gpt-9'. "
        "You may pick: claude-fake-big, claude-fake-small (or default)."
    )
    assert back.text == (
        "@assistant is back to its default model (the CLI's default model) in this chat. "
        "This starts a fresh conversation."
    )
    models_file = home.actor_dir("assistant") / "models.json"
    assert json.loads(models_file.read_text())["models"] == {}


def test_a_ledger_that_cannot_be_written_does_not_cost_the_user_the_answer(
    home: Home, claude_settings: RunnerSettings
) -> None:
    configure(home, claude_settings)
    (home.state / "costs").write_text("a file where the ledger folder should be")
    with worker(home):
        answer = ask(home, from_alice("hello"))

    assert answer.kind == "reply" and answer.text == "echo: hello"
    events = [e["event"] for e in EventLog(home.logs / "events.jsonl").read()]
    assert "cost.unrecorded" in events and "run.end" in events
