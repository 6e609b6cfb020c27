"""Team stories: a home whose actors run the real ``claude`` against the loopback
Anthropic fake (or the fake CLI), and ways to read what the user got."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.anthropic_api import AnthropicFake
from tests.support.messages import outgoing
from tests.support.paths import FAKE_CLI
from tests.support.waiting import wait_for
from tests.support.worker import write_config
from tinyclaw.config import RunnerSettings
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound
from tinyclaw.spool import Spool
from tinyclaw.teams.conversations import Conversation, ConversationStore


def _toml_value(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def team_config(
    runner: RunnerSettings | None,
    actors: dict[str, str],
    teams: dict[str, list[str]],
    *,
    limits: dict[str, object] | None = None,
    concurrency: int = 4,
    team_extra: dict[str, dict[str, object]] | None = None,
    runner_env: dict[str, str] | None = None,
    retry_backoff: float = 0,
) -> str:
    """A tinyclaw.toml: ``actors`` maps name → description; ``teams`` maps name →
    members, the first being the leader. ``runner=None`` uses the fake CLI."""
    settings = runner or RunnerSettings(command=str(FAKE_CLI))
    env = {**settings.env, **(runner_env or {})}
    lines = [
        "[worker]",
        f"concurrency = {concurrency}",
        "scan_interval = 0.5",
        f"retry_backoff = {retry_backoff}",
        "stop_timeout = 1",
        "",
        "[runners.claude]",
        f"command = {json.dumps(settings.command)}",
        f"env = {_toml_value(env)}",
    ]
    if settings.home:
        lines.append(f"home = {json.dumps(settings.home)}")
    lines.append("")
    for name, description in actors.items():
        lines += [f"[actors.{name}]", f"description = {json.dumps(description)}", ""]
    for name, members in teams.items():
        lines += [
            f"[teams.{name}]",
            f"leader = {json.dumps(members[0])}",
            f"members = {json.dumps(members)}",
        ]
        for key, value in (team_extra or {}).get(name, {}).items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    if limits:
        lines.append("[limits]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in limits.items()]
    return "\n".join(lines) + "\n"


def setup_home(home: Home, text: str) -> Spool:
    write_config(home, text)
    return Spool(home)


def progress_texts(home: Home, msg: Inbound) -> list[str]:
    return [r.text for r in outgoing(home) if r.kind == "progress" and r.in_reply_to == msg.id]


def conversation(home: Home, msg: Inbound) -> Conversation:
    found = ConversationStore(home.state / "conversations").load(msg.id)
    assert found is not None, "no conversation state"
    return found


def blank_conversation(cid: str = "20260101T000000.000001Z-1-000001") -> Conversation:
    """A conversation just opened by @lead of team crew, from the terminal."""
    return Conversation(
        id=cid,
        team="crew",
        root_actor="lead",
        channel="cli",
        chat_id="local",
        chat_key="cli:local",
        started_at=1.0,
    )


def requests_with(fake: AnthropicFake, text: str, start: str = "") -> list[str]:
    """The prompts (latest user turns) the CLI sent that contain ``text`` and begin with
    ``start``: a task reads "[Task from @x]", a fan-in "[Answers from your teammates]"."""
    prompts = [fake.last_user_text(r.body) for r in fake.model_requests()]
    return [p for p in prompts if text in p and p.startswith(start)]


def drained(home: Home) -> bool:
    depths = Spool(home).depths()
    return depths["processing"] == 0 and depths["inboxes"] == 0 and depths["incoming"] == 0


def wait_drained(home: Home, timeout: float = 30.0) -> None:
    wait_for(lambda: drained(home), timeout, "every inbox to drain")


def inbox_files(home: Home, actor: str) -> list[Path]:
    return Spool.list_box(Spool(home).inbox(actor))
