"""Secrets under `tinyclaw start`: each listener gets its own token, nobody else any,
and a fixed token is used on Enter.

Real tmux (a private server), the real supervisors, worker and Telegram listener
(against the loopback Telegram fake) and the REAL ``claude`` CLI against the
loopback Anthropic fake. The model walks up its process tree reading every
ancestor's ``/proc/PID/environ`` (its shell, the CLI, the worker, the supervisor,
the tmux server): no platform token may be there. Then it repeats the tokens in its
answer, which must arrive redacted wherever the answer lands.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.cli_fixtures import CLAUDE_TEST_ENV, Reply, cli_path
from tests.fakes.telegram_api import TOKEN, TelegramFake
from tests.launcher.conftest import TmuxServer, run_tinyclaw, states, wait_until
from tests.reliability.test_secrets import _files_containing
from tinyclaw.core.home import Home

pytestmark = pytest.mark.timeout(180)

ANTHROPIC_KEY = "sk-ant-handed-" + secrets.token_hex(8)
EXPORTED = {  # in the shell that runs `tinyclaw start`
    "DISCORD_BOT_TOKEN": "dc-exported-" + secrets.token_hex(8),
    "MY_DB_PASSWORD": "db-exported-" + secrets.token_hex(8),
    "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
}
IN_DOTENV = {  # in the home's .env
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "WHATSAPP_APP_SECRET": "wa-dotenv-" + secrets.token_hex(8),
}
# Every ancestor of the tool's shell, up to (not including) init.
ANCESTRY = (
    "p=$$; while [ \"$p\" -gt 1 ]; do echo \"== $p\"; tr '\\0' '\\n' < /proc/$p/environ; "
    "p=$(awk '/^PPid/{print $2}' /proc/$p/status); done"
)


def _config(home: Home, fake: TelegramFake, anthropic: AnthropicFake, tmp_path: Path) -> str:
    claude_home = tmp_path / "claude-home"
    claude_home.mkdir()
    env = {k: v for k, v in CLAUDE_TEST_ENV.items() if k != "ANTHROPIC_API_KEY"}
    env["ANTHROPIC_BASE_URL"] = anthropic.url
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())
    return f"""
[worker]
scan_interval = 0.5
stop_timeout = 2

# The walk up the process tree must reach the worker: unconfined (in the sandbox the
# worker is out of reach altogether, tests/worker/test_sandbox_clis.py).
[sandbox]
mode = "off"

[runners.claude]
command = {json.dumps(cli_path("claude"))}
args = ["--allowedTools", "Bash"]
env = {{ {inline} }}
pass_env = ["ANTHROPIC_API_KEY"]
home = {json.dumps(str(claude_home))}

[actors.claudy]
runner = "claude"
timeout = 120

[channels.telegram]
enabled = true
base_url = "{fake.base_url}"
base_file_url = "{fake.base_file_url}"
"""


def _environ(pid: int) -> str:
    return Path(f"/proc/{pid}/environ").read_bytes().decode().replace("\0", "\n")


def test_the_worker_holds_no_platform_token_and_a_repeated_token_is_redacted_everywhere(
    home: Home,
    tmux: TmuxServer,
    anthropic_fake: AnthropicFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    every = [*EXPORTED.values(), *IN_DOTENV.values()]
    platform = [EXPORTED["DISCORD_BOT_TOKEN"], *IN_DOTENV.values(), EXPORTED["MY_DB_PASSWORD"]]
    anthropic_fake.on_marker(
        "ENVIRON",
        Reply.tool("Bash", {"command": ANCESTRY, "description": "read the environments"}),
        Reply.say("I found " + ", ".join(every) + "."),
    )
    for name, value in EXPORTED.items():
        monkeypatch.setenv(name, value)
    with TelegramFake() as fake:
        home.config_file.write_text(_config(home, fake, anthropic_fake, tmp_path))
        home.env_file.write_text("".join(f"{k}={v}\n" for k, v in IN_DOTENV.items()))
        home.env_file.chmod(0o600)
        started = run_tinyclaw("start", "--no-attach", "--wait", "60")
        assert "all ready" in started.stdout, started.stdout + started.stderr

        sent = run_tinyclaw("send", "--actor", "claudy", "ENVIRON: what do you see?", timeout=150)

        listener = states(home)["telegram"].child_pid
        assert listener is not None
        listener_env = _environ(listener)
        run_tinyclaw("stop", "--timeout", "20")

    # The model read the environment of every process above it ...
    seen = "\n".join(anthropic_fake.tool_results())
    assert seen.count("== ") >= 4, seen  # shell, claude, worker, supervisor, (tmux)
    assert f"ANTHROPIC_API_KEY={ANTHROPIC_KEY}" in seen  # the key its runner hands over
    # ... and found no platform token, nor any other secret of the home.
    assert [v for v in platform if v in seen] == []

    # The listener has its own token and nothing else.
    assert f"TELEGRAM_BOT_TOKEN={TOKEN}" in listener_env
    assert [v for v in every if v in listener_env and v != TOKEN] == []

    # The answer repeated every secret: all redacted, in `tinyclaw send`'s output ...
    assert sent.returncode == 0, sent.stderr
    assert "I found ***, ***, ***, ***, ***." in sent.stdout, sent.stdout
    assert [v for v in every if v in sent.stdout + sent.stderr] == []
    # ... and in every file of the home (sent/, logs/live, events, logs) but .env.
    found = _files_containing(home.root, every)
    assert found == {".env": list(IN_DOTENV.values())}


def test_a_token_fixed_in_dotenv_is_used_when_enter_is_pressed(
    home: Home, tmux: TmuxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stale token exported in the shell that started tinyclaw, and none in .env.
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "7000000001:AAstale-exported-token")
    with TelegramFake() as fake:
        home.config_file.write_text(
            '[actors.coder]\nrunner = "claude"\n\n[channels.telegram]\nenabled = true\n'
            f'base_url = "{fake.base_url}"\nbase_file_url = "{fake.base_file_url}"\n'
        )
        run_tinyclaw("start", "--no-attach", "--wait", "20")
        wait_until(lambda: states(home)["telegram"].phase == "gave_up", "the refused token")
        assert "press Enter here" in tmux.capture("telegram")

        home.env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n")  # the fix: .env wins
        home.env_file.chmod(0o600)
        tmux.send_line("telegram", "")

        wait_until(lambda: states(home)["telegram"].phase == "ready", "the listener, fixed")
        assert "trying telegram again" in tmux.capture("telegram")
        # The tmux server's global environment holds no token, stale or fixed.
        global_env = tmux.tmux("show-environment", "-g").stdout
        assert "TELEGRAM_BOT_TOKEN" not in global_env
        run_tinyclaw("stop", "--timeout", "20")


def test_a_token_fixed_in_dotenv_is_used_by_restart_over_a_stale_exported_one(
    home: Home, tmux: TmuxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "7000000001:AAstale-exported-token")
    with TelegramFake() as fake:
        home.config_file.write_text(
            '[actors.coder]\nrunner = "claude"\n\n[channels.telegram]\nenabled = true\n'
            f'base_url = "{fake.base_url}"\nbase_file_url = "{fake.base_file_url}"\n'
        )
        home.env_file.write_text("TELEGRAM_BOT_TOKEN=7000000001:AAwrong-in-dotenv\n")
        home.env_file.chmod(0o600)
        run_tinyclaw("start", "--no-attach", "--wait", "20")
        wait_until(lambda: states(home)["telegram"].phase == "gave_up", "the refused token")

        home.env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n")
        restarted = run_tinyclaw("restart", "--no-attach", "--wait", "30")

        assert "all ready" in restarted.stdout, restarted.stdout + restarted.stderr
        assert states(home)["telegram"].phase == "ready"
        run_tinyclaw("stop", "--timeout", "20")
