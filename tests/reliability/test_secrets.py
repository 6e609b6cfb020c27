"""No configured secret reaches a CLI, a log line, a queue file or a reply.

A real ``tinyclaw worker`` process runs with the platform tokens of every channel
(Telegram, Discord, WhatsApp) and an unrelated password in its environment, and with
one provider key per runner handed over by ``pass_env``. The REAL ``claude`` and
``codex`` CLIs, talking to loopback provider fakes, are made to run ``env`` as a tool
call; the tool output they send back to the fake is exactly what the model would
see. A model that repeats a key, and an API error that quotes it, must reach the chat
redacted. Finally every file of the home is searched for every secret value.
"""

from __future__ import annotations

import json
import logging
import secrets
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.cli_fixtures import CLAUDE_TEST_ENV, Reply, cli_path, codex_config_toml
from tests.fakes.openai_api import OpenAIFake
from tests.support.messages import message, reply_for
from tests.support.waiting import wait_for
from tests.support.worker import start_worker_process
from tinyclaw.core.home import Home
from tinyclaw.core.logsetup import setup_logging
from tinyclaw.spool import Spool

PLATFORM_SECRETS = {
    "TELEGRAM_BOT_TOKEN": "7000000001:tg-secret-" + secrets.token_hex(8),
    "DISCORD_BOT_TOKEN": "dc-secret-" + secrets.token_hex(8),
    "WHATSAPP_TOKEN": "wa-token-" + secrets.token_hex(8),
    "WHATSAPP_APP_SECRET": "wa-secret-" + secrets.token_hex(8),
    "WHATSAPP_VERIFY_TOKEN": "wa-verify-" + secrets.token_hex(8),
    "MY_DB_PASSWORD": "db-secret-" + secrets.token_hex(8),  # configured nowhere
}
ANTHROPIC_KEY = "sk-ant-pass-" + secrets.token_hex(8)
OPENAI_KEY = "sk-openai-pass-" + secrets.token_hex(8)


def _toml(home: Home, anthropic: AnthropicFake, openai: OpenAIFake, tmp_path: Path) -> str:
    claude_home = tmp_path / "claude-home"
    codex_home = tmp_path / "codex-home"
    claude_home.mkdir()
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(codex_config_toml(f"{openai.url}/v1"))
    claude_env = {k: v for k, v in CLAUDE_TEST_ENV.items() if k != "ANTHROPIC_API_KEY"}
    claude_env["ANTHROPIC_BASE_URL"] = anthropic.url
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in claude_env.items())
    return f"""
[worker]
scan_interval = 0.5
stop_timeout = 2

[runners.claude]
command = {json.dumps(cli_path("claude"))}
args = ["--allowedTools", "Bash"]
env = {{ {inline} }}
pass_env = ["ANTHROPIC_API_KEY"]
home = {json.dumps(str(claude_home))}

[runners.codex]
command = {json.dumps(cli_path("codex"))}
pass_env = ["LOCAL_OPENAI_KEY"]
home = {json.dumps(str(codex_home))}

[actors.claudy]
runner = "claude"
timeout = 120

[actors.codey]
runner = "codex"
timeout = 120

[channels.telegram]
enabled = false

[channels.discord]
enabled = false

[channels.whatsapp]
enabled = false
"""


def _files_containing(root: Path, values: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        hits = [v for v in values if v.encode() in data]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def test_no_secret_reaches_a_cli_a_log_a_queue_file_or_a_reply(
    home: Home,
    anthropic_fake: AnthropicFake,
    openai_fake: OpenAIFake,
    tmp_path: Path,
) -> None:
    home.config_file.write_text(_toml(home, anthropic_fake, openai_fake, tmp_path))
    anthropic_fake.on_marker(
        "ENVCHECK",
        Reply.tool("Bash", {"command": "env", "description": "show the environment"}),
        Reply.say(f"Here is your key: {ANTHROPIC_KEY} (and that is all)"),
    )
    anthropic_fake.on_marker("ERRCHECK", Reply.error(500, f"upstream refused key {ANTHROPIC_KEY}"))
    openai_fake.on_marker(
        "ENVCHECK",
        Reply.tool("exec_command", {"cmd": "env"}),
        Reply.say(f"Your key is {OPENAI_KEY}."),
    )
    spool = Spool(home)
    worker = start_worker_process(
        home,
        **PLATFORM_SECRETS,
        ANTHROPIC_API_KEY=ANTHROPIC_KEY,
        LOCAL_OPENAI_KEY=OPENAI_KEY,
    )
    try:
        claude_env = message("@claudy ENVCHECK: run env please")
        codex_env = message("@codey ENVCHECK: run env please")
        claude_error = message("@claudy ERRCHECK: this call fails")
        for m in (claude_env, codex_env, claude_error):
            spool.put(m)
        replies = {m.id: reply_for(home, m, timeout=120) for m in (claude_env, codex_env)}
        replies[claude_error.id] = reply_for(home, claude_error, timeout=120)
        wait_for(lambda: spool.depths()["processing"] == 0, what="the runs to finish")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
        stderr = worker.stderr.read().decode("utf-8", "replace")  # type: ignore[union-attr]
        worker.stderr.close()  # type: ignore[union-attr]

    # 1. The CLIs' environments: the key their runner hands over arrives (so this
    #    really is their environment), nothing else of tinyclaw's does.
    # (A later request of the same session resends the history: join them all.)
    claude_seen = "\n".join(anthropic_fake.tool_results())
    codex_seen = "\n".join(openai_fake.tool_results())
    assert f"ANTHROPIC_API_KEY={ANTHROPIC_KEY}" in claude_seen
    assert f"LOCAL_OPENAI_KEY={OPENAI_KEY}" in codex_seen
    for name, value in PLATFORM_SECRETS.items():
        for seen in (claude_seen, codex_seen):
            assert value not in seen and f"{name}=" not in seen
    assert OPENAI_KEY not in claude_seen and ANTHROPIC_KEY not in codex_seen

    # 2. Replies: a key the model repeats arrives redacted; an API error that quotes one
    #    reaches the chat as a plain sentence and the event log redacted.
    assert replies[claude_env.id].kind == "reply"
    assert replies[claude_env.id].text == "Here is your key: *** (and that is all)"
    assert replies[codex_env.id].text == "Your key is ***."
    error = replies[claude_error.id]
    assert error.kind == "error" and "upstream refused key" not in error.text  # plain words
    assert "upstream refused key ***" in (home.logs / "events.jsonl").read_text()  # the owner's

    # 3. Nowhere in the home (queue files, sent/, failed/, state, logs, the live
    #    views of the actors), nor on the worker's stderr, is any secret value.
    every_secret = [*PLATFORM_SECRETS.values(), ANTHROPIC_KEY, OPENAI_KEY]
    assert list(home.logs.glob("*.log")), "the worker writes a log file"
    assert _files_containing(home.root, every_secret) == {}
    assert [s for s in every_secret if s in stderr] == []


@contextmanager
def process_logging(logs: Path, component: str, *, stderr: bool) -> Iterator[None]:
    """A process's logging as :func:`setup_logging` makes it, for the block; the
    test process's own handlers are put back after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging(logs, component, stderr=stderr)
        yield
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved


def test_a_secret_inside_a_logged_traceback_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "123456:AAE-very-secret-bot-token"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    with process_logging(tmp_path, "listen-telegram", stderr=False):
        try:
            raise RuntimeError(f"GET https://api.telegram.org/bot{token}/getMe failed")
        except RuntimeError:
            logging.getLogger("tinyclaw.channels.telegram").exception("polling failed")
    text = (tmp_path / "listen-telegram.log").read_text()
    assert "Traceback" in text and "polling failed" in text
    assert token not in text
    assert "https://api.telegram.org/bot***/getMe" in text


def test_a_record_is_formatted_once_for_stderr_and_the_log_file_and_both_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each handler (and the log file's size check before rotating) asks for the text:
    the redaction and escaping are done once, and both copies are the redacted one."""
    token = "123456:AAE-very-secret-bot-token"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)

    class Counted:
        made = 0

        def __str__(self) -> str:
            Counted.made += 1
            return f"calling bot{token}"

    with process_logging(tmp_path, "worker", stderr=True):
        logging.getLogger("tinyclaw.worker").info(Counted())
    assert Counted.made == 1
    logged = (tmp_path / "worker.log").read_text().splitlines()
    assert len(logged) == 1 and logged[0].endswith("calling bot***")
    assert capsys.readouterr().err.splitlines() == logged
