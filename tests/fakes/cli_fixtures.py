"""Pytest fixtures to run the REAL ``claude`` and ``codex`` CLIs against loopback fakes.

``tests/conftest.py`` registers them as a plugin, so every test can ask for them:

* ``anthropic_fake`` / ``openai_fake``: a started provider fake (stopped afterwards);
  script it with ``fake.enqueue(Reply.say("hi"))``, ``fake.on_marker(...)``.
* ``claude_settings`` / ``codex_settings``: ``RunnerSettings`` for the real binary,
  pointed at the fake, with a throwaway HOME / CODEX_HOME and every retry off.
* ``fake_cli_settings``: ``RunnerSettings`` for ``tests/fakes/bin/fake-cli`` (a claude
  look-alike that answers "echo: <prompt>" in milliseconds, no fake server needed).

``cli_path(kind)`` finds a binary in the checkout's ``.tools`` or on PATH; when it is
missing the test is skipped, or fails when ``CI`` is set (a CI run that skipped the
real CLIs would prove nothing).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.openai_api import OpenAIFake
from tests.fakes.providers import RecordedRequest, Reply
from tests.support.paths import FAKE_CLI, REPO
from tinyclaw.config import RunnerSettings

__all__ = [
    "CLAUDE_TEST_ENV",
    "REPO_ROOT",
    "RecordedRequest",
    "Reply",
    "anthropic_fake",
    "claude_settings",
    "cli_path",
    "codex_config_toml",
    "codex_settings",
    "fake_cli_path",
    "fake_cli_settings",
    "openai_fake",
]

REPO_ROOT = REPO

# Offline, no retries (a persistent 5xx would otherwise take minutes), fake key.
CLAUDE_TEST_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_MAX_RETRIES": "0",
    "ANTHROPIC_API_KEY": "test-key",
}


def cli_path(kind: str) -> str:
    """The real ``claude``/``codex`` binary; skip (or fail under CI) when it is missing."""
    # A worktree links .tools to the main checkout's; the sandbox binds real paths.
    local = (REPO_ROOT / ".tools").resolve() / "node_modules" / ".bin" / kind
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(kind)
    if found:
        return found
    message = (
        f"the {kind} CLI is not installed (npm install --prefix .tools, see CLI-FACTS) "
        "and not on PATH"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def fake_cli_path() -> str:
    return str(FAKE_CLI)


def codex_config_toml(base_url: str) -> str:
    """A CODEX_HOME config.toml that talks only to ``base_url`` (…/v1) and never retries."""
    return f"""\
model = "gpt-5.5"
model_provider = "local"

[model_providers.local]
name = "local"
base_url = "{base_url}"
env_key = "LOCAL_OPENAI_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false

[analytics]
enabled = false
"""


@pytest.fixture
def anthropic_fake() -> Iterator[AnthropicFake]:
    fake = AnthropicFake().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def openai_fake() -> Iterator[OpenAIFake]:
    fake = OpenAIFake().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def claude_settings(anthropic_fake: AnthropicFake, tmp_path: Path) -> RunnerSettings:
    """The real claude, talking to ``anthropic_fake``, with its own throwaway HOME."""
    home = tmp_path / "claude-home"
    home.mkdir(exist_ok=True)
    return RunnerSettings(
        command=cli_path("claude"),
        env={"ANTHROPIC_BASE_URL": anthropic_fake.url, **CLAUDE_TEST_ENV},
        home=str(home),
    )


@pytest.fixture
def codex_settings(openai_fake: OpenAIFake, tmp_path: Path) -> RunnerSettings:
    """The real codex, talking to ``openai_fake``, with its own throwaway CODEX_HOME."""
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config_toml(f"{openai_fake.url}/v1"))
    # `codex app-server` puts its sandbox helper on PATH from CODEX_HOME, and refuses
    # to when CODEX_HOME is inside the temporary directory (as pytest's tmp_path is):
    # give the CLI a temporary directory of its own beside it.
    scratch = tmp_path / "codex-tmp"
    scratch.mkdir(exist_ok=True)
    return RunnerSettings(
        command=cli_path("codex"),
        env={"LOCAL_OPENAI_KEY": "test-key", "TMPDIR": str(scratch)},
        home=str(codex_home),
    )


@pytest.fixture
def fake_cli_settings() -> RunnerSettings:
    """``tests/fakes/bin/fake-cli`` as the claude command (set FAKE_CLI_SLEEP via ``env``)."""
    return RunnerSettings(command=fake_cli_path())
