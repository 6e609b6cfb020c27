"""The worker end to end through the REAL ``claude`` and ``codex`` CLIs.

The runner tests prove each CLI works when driven directly; these prove the whole path
a user's message takes: a file in ``queue/incoming``, routed and claimed by a real
``Worker``, run by the real CLI (in the actor's workspace) against a loopback fake of
the provider's API, and back as a reply file. Every story runs for both CLIs: a plain
reply, a tool call that writes a file in the workspace, a second message that resumes
the session, an API error, a provider that never answers, and a missing binary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.openai_api import OpenAIFake
from tests.fakes.providers import Reply
from tests.worker.conftest import message, reply_for, serving, write_config
from tinyclaw.config import RunnerSettings, load_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound
from tinyclaw.core.messages import Reply as Answer
from tinyclaw.runners import RunEvent
from tinyclaw.runners.process import live_group_members
from tinyclaw.runners.sessions import home_sessions
from tinyclaw.spool import Spool
from tinyclaw.worker.assembly import build_runners
from tinyclaw.worker.loop import Worker

pytestmark = pytest.mark.cli

ACTOR = "assistant"
# What each CLI needs to be allowed to write in its workspace.
WRITE_MODE = {"claude": "acceptEdits", "codex": "workspace-write"}
PATCH = """\
*** Begin Patch
*** Add File: notes.txt
+hello file
*** End Patch
"""


def _runner_toml(kind: str, settings: RunnerSettings) -> str:
    lines = [f"[runners.{kind}]", f"command = {json.dumps(settings.command)}"]
    if settings.home is not None:
        lines.append(f"home = {json.dumps(settings.home)}")
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in settings.env.items())
    lines.append(f"env = {{ {inline} }}")
    return "\n".join(lines) + "\n"


@dataclass
class Stage:
    """A home whose one actor runs the real ``kind`` CLI against ``fake``, and the
    worker that serves it. ``events`` collects the runs' live progress (pids)."""

    kind: str
    home: Home
    fake: AnthropicFake | OpenAIFake
    settings: RunnerSettings
    events: list[RunEvent] = field(default_factory=list)
    sent: list[Inbound] = field(default_factory=list)

    @property
    def workspace(self) -> Path:
        return self.home.actor_dir(ACTOR) / "workspace"

    def configure(
        self,
        *,
        command: str | None = None,
        timeout: float = 120.0,
        permission_mode: str | None = "",
        actor: str = "",
    ) -> None:
        """``permission_mode`` "" is the mode that lets the CLI write, None none at
        all (the CLI asks); ``actor`` adds lines to the actor's table."""
        settings = self.settings
        if command is not None:
            settings = settings.model_copy(update={"command": command})
        mode = WRITE_MODE[self.kind] if permission_mode == "" else permission_mode
        write_config(
            self.home,
            "[worker]\nscan_interval = 0.5\nretry_backoff = 0\nstop_timeout = 0.5\n\n"
            + _runner_toml(self.kind, settings)
            + f"\n[actors.{ACTOR}]\n"
            + f'runner = "{self.kind}"\n'
            + f"timeout = {timeout}\n"
            + (f'permission_mode = "{mode}"\n' if mode else "")
            + actor,
        )

    @contextmanager
    def serving(self) -> Iterator[Worker]:
        config = load_config(self.home)
        worker = Worker(
            self.home,
            config,
            build_runners(self.home, config),
            progress=lambda _actor, event: self.events.append(event),
        )
        with serving(worker):
            yield worker

    def ask(self, text: str, timeout: float = 90.0) -> Answer:
        """Drop a message into ``queue/incoming`` as a listener would; await its reply."""
        return reply_for(self.home, self.send(text), timeout)

    def send(self, text: str, **fields: object) -> Inbound:
        """Drop a message into ``queue/incoming`` as a listener would."""
        msg = message(text, **fields)
        self.sent.append(msg)
        Spool(self.home).put(msg)
        return msg

    def session(self) -> str | None:
        """The session id the worker keeps on disk for this actor and the test's chat."""
        conversation = self.sent[-1].conversation_key
        return home_sessions(self.home).get(ACTOR, conversation)

    def resent(self) -> str:
        """The body of the last request the CLI made, as JSON text."""
        return self.fake.model_requests()[-1].text


def new_stage(request: pytest.FixtureRequest, kind: str) -> Stage:
    """A configured :class:`Stage` for ``kind``, its fake and settings from fixtures."""
    fake_name = "anthropic_fake" if kind == "claude" else "openai_fake"
    stage = Stage(
        kind,
        request.getfixturevalue("home"),
        request.getfixturevalue(fake_name),
        request.getfixturevalue(f"{kind}_settings"),
    )
    stage.configure()
    return stage


@pytest.fixture(params=["claude", "codex"])
def stage(request: pytest.FixtureRequest) -> Stage:
    return new_stage(request, request.param)


def test_a_plain_message_gets_the_models_answer(stage: Stage) -> None:
    with stage.serving():
        reply = stage.ask("hello there")

    assert reply.kind == "reply" and reply.actor == ACTOR
    assert reply.text == "echo: hello there"
    assert len(stage.fake.model_requests()) == 1


def test_a_tool_call_writes_a_file_in_the_actors_workspace(stage: Stage) -> None:
    target = stage.workspace / "notes.txt"
    if stage.kind == "claude":
        write = Reply.tool("Write", {"file_path": str(target), "content": "hello file\n"})
    else:
        write = Reply.tool("apply_patch", PATCH)
    stage.fake.enqueue(write, Reply.say("I wrote notes.txt"))
    with stage.serving():
        reply = stage.ask("write a note")

    assert reply.kind == "reply" and reply.text == "I wrote notes.txt"
    assert target.read_text() == "hello file\n"
    assert len(stage.fake.tool_results()) == 1  # the CLI ran the tool and reported back


def test_a_second_message_resumes_the_session_with_its_history(stage: Stage) -> None:
    with stage.serving():
        first = stage.ask("my name is PINEAPPLE")
        session = stage.session()
        second = stage.ask("what is my name?")

    assert first.text == "echo: my name is PINEAPPLE"
    assert second.text == "echo: what is my name?"
    assert session, "the worker stored the CLI's session id"
    assert stage.session() == session  # resumed, not replaced by a fresh session
    _, again = [e.data for e in stage.events if e.kind == "start"]
    assert again["resume"] is True and again["session_id"] == session  # the stored id
    resent = stage.resent()
    assert "my name is PINEAPPLE" in resent and "echo: my name is PINEAPPLE" in resent


def test_an_api_error_is_a_readable_reply(stage: Stage) -> None:
    internal = "the model is on fire; check your inference gateway (127.0.0.1:39645)"
    stage.fake.enqueue(Reply.error(500, internal))
    with stage.serving():
        reply = stage.ask("hi")

    assert reply.kind == "error"
    assert reply.text.startswith("Sorry, the assistant ran into an error"), reply.text
    assert "127.0.0.1" not in reply.text and "gateway" not in reply.text  # a plain sentence
    # The owner still sees the reason: in the event log (trace, status) and the log.
    # (codex words an HTTP 500 its own way; claude passes the server's message on.)
    events = (stage.home.logs / "events.jsonl").read_text()
    assert '"error": "api_error: ' in events
    if stage.kind == "claude":
        assert "inference gateway (127.0.0.1:39645)" in events
    assert len(stage.fake.model_requests()) == 1  # no retries
    assert Spool.list_box(Spool(stage.home).failed) == []  # answered, not failed


def test_a_provider_that_never_answers_is_stopped_at_the_timeout(stage: Stage) -> None:
    stage.configure(timeout=3)
    stage.fake.enqueue(Reply.hang())
    with stage.serving():
        reply = stage.ask("hi")

    assert reply.kind == "error"
    assert reply.text == "The assistant took longer than 3 s and was stopped."
    assert len(stage.fake.model_requests()) == 1  # it was waiting on the provider
    (start,) = [e for e in stage.events if e.kind == "start"]
    assert live_group_members(start.data["pid"]) == []


def test_a_missing_binary_is_a_readable_reply(stage: Stage, tmp_path: Path) -> None:
    stage.configure(command=str(tmp_path / "nowhere" / stage.kind))
    with stage.serving():
        reply = stage.ask("hi")

    assert reply.kind == "error"
    assert f"`{stage.kind}` program was not found" in reply.text
    assert stage.fake.requests == []
