"""The REAL ``claude`` and ``codex`` CLIs, run by a real ``tinyclaw worker`` under the
bubblewrap sandbox, against the loopback provider fakes.

The model (the fake) makes the CLI run one shell command that tries everything an
actor must not do: read the home's ``.env`` and ``pairing/secret.key``, walk up the
process tree through ``/proc/PID/environ`` to the worker, write into another actor's
workspace. Each attempt fails, the work an actor is there for (a file in its own
workspace, an attachment of its message, a resumed session) still works, and the
attempt is on record in the actor's live file and ``tinyclaw trace``. The same
command with ``[sandbox] mode = "off"`` reads the secrets: what the sandbox prevents.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.cli_fixtures import CLAUDE_TEST_ENV, Reply, cli_path, codex_config_toml
from tests.fakes.openai_api import OpenAIFake
from tests.launcher.test_secret_handover import ANCESTRY
from tests.ops.conftest import tinyclaw
from tests.worker.conftest import (
    FAKE_CLI,
    message,
    reply_for,
    start_worker_process,
    wait_for,
    worker_process,
)
from tinyclaw.core.home import Home
from tinyclaw.runners.live_log import live_path
from tinyclaw.runners.process import live_group_members
from tinyclaw.runners.sandbox import probe_bwrap
from tinyclaw.spool import Spool

pytestmark = [
    pytest.mark.cli,
    pytest.mark.skipif(probe_bwrap("bwrap") is not None, reason=str(probe_bwrap("bwrap"))),
]

DOTENV_SECRET = "dotenv-" + secrets.token_hex(8)
PAIRING_KEY = "PAIRKEY-" + secrets.token_hex(12)  # 32 bytes, as the real key
WORKER_SECRET = "worker-" + secrets.token_hex(8)


def probe(outside: Path) -> str:
    """One shell command trying every escape, then doing the actor's real work."""
    return "; ".join(
        [
            "cat ../../.env ../../../.env",
            "cat ../../../pairing/secret.key",
            "cat /proc/$PPID/environ | tr '\\0' '\\n'",
            ANCESTRY,
            "echo pwned > ../../other/workspace/pwned.txt",
            f"echo pwned > {outside}/pwned.txt",
            "echo mine > mine.txt",
            "echo done",
        ]
    )


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Another actor's workspace outside the home."""
    path = tmp_path / "outside-ws"
    path.mkdir()
    return path


@pytest.fixture
def codex_home() -> Iterator[Path]:
    """codex refuses to set up its tool helpers under the temp dir (/tmp) it runs with,
    so its CODEX_HOME here lives elsewhere."""
    path = Path(tempfile.mkdtemp(prefix="tinyclaw-codex-", dir="/var/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_home(
    home: Home,
    tmp_path: Path,
    outside: Path,
    *,
    anthropic: AnthropicFake | None = None,
    openai: OpenAIFake | None = None,
    codex_home: Path | None = None,
    mode: str = "auto",
) -> None:
    kind = "claude" if anthropic is not None else "codex"
    lines = ["[worker]", "scan_interval = 0.5", "stop_timeout = 2", ""]
    lines += ["[sandbox]", f'mode = "{mode}"', ""]
    if anthropic is not None:
        claude_home = tmp_path / "claude-home"
        claude_home.mkdir(exist_ok=True)
        env = {**CLAUDE_TEST_ENV, "ANTHROPIC_BASE_URL": anthropic.url}
        inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())
        lines += [
            "[runners.claude]",
            f"command = {json.dumps(cli_path('claude'))}",
            'args = ["--allowedTools", "Bash"]',
            f"env = {{ {inline} }}",
            f"home = {json.dumps(str(claude_home))}",
            "",
        ]
    if openai is not None and codex_home is not None:
        (codex_home / "config.toml").write_text(codex_config_toml(f"{openai.url}/v1"))
        lines += [
            "[runners.codex]",
            f"command = {json.dumps(cli_path('codex'))}",
            'env = { LOCAL_OPENAI_KEY = "test-key" }',
            f"home = {json.dumps(str(codex_home))}",
            "",
        ]
    mode_key = "acceptEdits" if kind == "claude" else "workspace-write"
    for name, extra in (
        ("agent", ""),
        ("other", ""),
        ("away", f"workspace = {json.dumps(str(outside))}"),
    ):
        lines += [
            f"[actors.{name}]",
            f'runner = "{kind}"',
            f'permission_mode = "{mode_key}"',
            extra,
            "",
        ]
    home.config_file.write_text("\n".join(lines))
    home.env_file.write_text(f"SANDBOX_CANARY={DOTENV_SECRET}\n")
    home.env_file.chmod(0o600)
    home.pairing.mkdir(parents=True, exist_ok=True)
    (home.pairing / "secret.key").write_text(PAIRING_KEY)
    (home.actor_dir("other") / "workspace").mkdir(parents=True)


def live_records(home: Home, actor: str) -> list[dict[str, object]]:
    path = live_path(home, actor)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ask(home: Home, text: str, timeout: float = 120) -> tuple[str, str]:
    msg = message(f"@agent {text}")
    Spool(home).put(msg)
    return msg.id, reply_for(home, msg, timeout).text


def assert_confined(home: Home, outside: Path, tool_output: str, message_id: str) -> None:
    for secret in (DOTENV_SECRET, PAIRING_KEY, WORKER_SECRET):
        assert secret not in tool_output
    assert "../../../.env: No such file or directory" in tool_output
    assert "pairing/secret.key: No such file or directory" in tool_output
    # another actor's workspace: in the hidden home it is not there, outside it is empty
    assert "other/workspace/pwned.txt: No such file or directory" in tool_output
    assert "outside-ws/pwned.txt: Read-only file system" in tool_output
    assert not (home.actor_dir("other") / "workspace" / "pwned.txt").exists()
    assert not (outside / "pwned.txt").exists()
    # the actor's own work is done
    assert (home.actor_dir("agent") / "workspace" / "mine.txt").read_text() == "mine\n"
    # ... and the attempt is on record: the actor window's file and the trace
    records = live_records(home, "agent")
    sandbox = [r for r in records if r["kind"] == "sandbox"]
    assert sandbox and sandbox[-1]["data"] == {"confined": True}
    assert any(r["kind"] == "command" and "cat ../../.env" in str(r["text"]) for r in records)
    trace = tinyclaw(home, "trace", message_id)
    assert trace.returncode == 0, trace.stderr
    assert f"steps of @agent for {message_id}:" in trace.stdout
    assert "sandbox: bwrap: writes only" in trace.stdout
    assert "$ " in trace.stdout and "cat ../../.env ../../../.env" in trace.stdout


def test_claude_in_the_sandbox_cannot_read_the_homes_secrets_or_write_elsewhere(
    home: Home, tmp_path: Path, outside: Path, anthropic_fake: AnthropicFake
) -> None:
    write_home(home, tmp_path, outside, anthropic=anthropic_fake)
    anthropic_fake.on_marker(
        "ESCAPE",
        Reply.tool("Bash", {"command": probe(outside), "description": "look around"}),
        Reply.say("I looked around."),
    )
    with worker_process(home, WORKER_ONLY_VALUE=WORKER_SECRET):
        message_id, text = ask(home, "ESCAPE please")

    assert text == "I looked around."
    (output,) = anthropic_fake.tool_results()
    assert_confined(home, outside, output, message_id)


def test_codex_in_the_sandbox_cannot_read_the_homes_secrets_or_write_elsewhere(
    home: Home, tmp_path: Path, outside: Path, openai_fake: OpenAIFake, codex_home: Path
) -> None:
    """codex keeps its own sandbox (``--sandbox workspace-write``) inside ours."""
    write_home(home, tmp_path, outside, openai=openai_fake, codex_home=codex_home)
    openai_fake.on_marker(
        "ESCAPE",
        Reply.tool("exec_command", {"cmd": probe(outside)}),
        Reply.say("I looked around."),
    )
    with worker_process(home, WORKER_ONLY_VALUE=WORKER_SECRET):
        message_id, text = ask(home, "ESCAPE please")

    assert text == "I looked around."
    (output,) = openai_fake.tool_results()
    assert_confined(home, outside, output, message_id)


def test_without_the_sandbox_the_same_command_reads_everything(
    home: Home, tmp_path: Path, outside: Path, anthropic_fake: AnthropicFake
) -> None:
    write_home(home, tmp_path, outside, anthropic=anthropic_fake, mode="off")
    anthropic_fake.on_marker(
        "ESCAPE",
        Reply.tool("Bash", {"command": probe(outside), "description": "look around"}),
        Reply.say("I looked around."),
    )
    with worker_process(home, WORKER_ONLY_VALUE=WORKER_SECRET):
        ask(home, "ESCAPE please")

    (output,) = anthropic_fake.tool_results()
    assert DOTENV_SECRET in output and PAIRING_KEY in output and WORKER_SECRET in output
    assert (outside / "pwned.txt").exists()
    sandbox = [r for r in live_records(home, "agent") if r["kind"] == "sandbox"]
    assert sandbox[-1]["data"] == {"confined": False}


@pytest.mark.parametrize("kind", ["claude", "codex"])
def test_sandboxed_work_reads_its_attachment_and_resumes_its_session(
    kind: str,
    home: Home,
    tmp_path: Path,
    outside: Path,
    codex_home: Path,
    request: pytest.FixtureRequest,
) -> None:
    fake_name = "anthropic_fake" if kind == "claude" else "openai_fake"
    fake: AnthropicFake | OpenAIFake = request.getfixturevalue(fake_name)
    if isinstance(fake, AnthropicFake):
        write_home(home, tmp_path, outside, anthropic=fake)
    else:
        write_home(home, tmp_path, outside, openai=fake, codex_home=codex_home)
    spool = Spool(home)
    first = message("@agent READ the attachment; my name is PINEAPPLE")
    attachment = spool.files_root / first.id / "doc.txt"
    attachment.parent.mkdir(parents=True)
    attachment.write_text("the attached text\n")
    stranger = spool.files_root / "someone-else" / "private.txt"
    stranger.parent.mkdir(parents=True)
    stranger.write_text("not for this run\n")
    first = message(
        first.text, id=first.id, attachments=[{"path": str(attachment), "name": "doc.txt"}]
    )
    command = f"cat {attachment}; cat {stranger}"
    if kind == "claude":
        tool = Reply.tool("Bash", {"command": command, "description": "read"})
    else:
        tool = Reply.tool("exec_command", {"cmd": command})
    fake.on_marker("READ", tool, Reply.say("read it"))
    with worker_process(home):
        spool.put(first)
        assert reply_for(home, first, 120).text == "read it"
        second = message("@agent what is my name?")
        spool.put(second)
        assert reply_for(home, second, 120).text == "echo: what is my name?"

    output = fake.tool_results()[0]  # (the resumed turn resends it with the history)
    assert "the attached text" in output
    assert "not for this run" not in output and "private.txt: No such file" in output
    assert "PINEAPPLE" in fake.model_requests()[-1].text  # resumed: the history was resent


def test_a_killed_worker_leaves_no_sandboxed_cli_and_the_next_one_answers(home: Home) -> None:
    """``--die-with-parent`` ends the sandbox with the worker; the ledger entry it left
    is cleared by the next worker, which runs the message again."""
    workspace = home.actor_dir("assistant") / "workspace"
    mark = workspace / "cli-is-working"
    home.config_file.write_text(
        "[worker]\nscan_interval = 0.5\nretry_backoff = 0\nstop_timeout = 0.5\n\n"
        f"[runners.claude]\ncommand = {json.dumps(str(FAKE_CLI))}\n"
        f'env = {{ FAKE_CLI_SLEEP = "120", FAKE_CLI_MARK = {json.dumps(str(mark))} }}\n\n'
        "[actors.assistant]\n"
    )
    spool = Spool(home)
    msg = message("a long job")
    spool.put(msg)
    crashed = start_worker_process(home)
    wait_for(lambda: mark.exists() and mark.read_text(), 30, "the sandboxed CLI to be mid-run")
    (entry,) = home.runs.iterdir()
    group = int(entry.name)
    assert any("fake-cli" in _cmdline(pid) for pid in live_group_members(group) or [])

    crashed.send_signal(signal.SIGKILL)
    assert crashed.wait(30) == -signal.SIGKILL
    crashed.stderr.close()  # type: ignore[union-attr]
    wait_for(lambda: live_group_members(group) == [], 10, "the sandbox to die with the worker")

    home.config_file.write_text(
        "[worker]\nscan_interval = 0.5\nretry_backoff = 0\nstop_timeout = 0.5\n\n"
        f"[runners.claude]\ncommand = {json.dumps(str(FAKE_CLI))}\n\n[actors.assistant]\n"
    )
    with worker_process(home):
        assert reply_for(home, msg, 60).text == "echo: a long job"
        wait_for(lambda: spool.depths()["processing"] == 0, what="the run to complete")
    assert list(home.runs.iterdir()) == []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _fake_cli_home(home: Home, sandbox: str) -> None:
    home.config_file.write_text(
        "[worker]\nscan_interval = 0.5\nstop_timeout = 0.5\n\n"
        f"[sandbox]\n{sandbox}\n\n"
        f"[runners.claude]\ncommand = {json.dumps(str(FAKE_CLI))}\n\n[actors.assistant]\n"
    )


def test_a_required_sandbox_that_cannot_be_built_stops_the_worker_with_one_line(
    home: Home,
) -> None:
    _fake_cli_home(home, 'mode = "bwrap"\nbwrap = "no-such-bwrap"')
    worker = start_worker_process(home)
    assert worker.wait(30) != 0
    assert worker.stderr is not None
    error = worker.stderr.read().decode().strip()
    worker.stderr.close()
    assert error == (
        "error: sandbox mode \"bwrap\" is required for assistant but 'no-such-bwrap' is not "
        "installed (Debian/Ubuntu: apt-get install bubblewrap)"
    )


def test_auto_without_bwrap_runs_unconfined_and_says_so_loudly(home: Home) -> None:
    _fake_cli_home(home, 'mode = "auto"\nbwrap = "no-such-bwrap"')
    msg = message("hello")
    with worker_process(home):
        Spool(home).put(msg)
        assert reply_for(home, msg, 30).text == "echo: hello"

    log = (home.logs / "worker.log").read_text()
    assert "actor=assistant runs UNCONFINED" in log and "no-such-bwrap" in log
    (sandbox,) = [r for r in live_records(home, "assistant") if r["kind"] == "sandbox"]
    assert sandbox["data"] == {"confined": False}
    assert str(sandbox["text"]).startswith("unconfined (bwrap unusable: 'no-such-bwrap'")


def test_a_sandboxed_cli_past_its_timeout_is_stopped_with_everything_in_it(home: Home) -> None:
    home.config_file.write_text(
        "[worker]\nscan_interval = 0.5\nstop_timeout = 0.5\n\n"
        f"[runners.claude]\ncommand = {json.dumps(str(FAKE_CLI))}\n"
        'env = { FAKE_CLI_SLEEP = "60" }\n\n[actors.assistant]\ntimeout = 2\n'
    )
    msg = message("take your time")
    with worker_process(home):
        Spool(home).put(msg)
        wait_for(lambda: any(home.runs.iterdir()) if home.runs.exists() else False, 30, "a run")
        (entry,) = home.runs.iterdir()
        group = int(entry.name)
        members = lambda: live_group_members(group) or []  # noqa: E731
        wait_for(lambda: any("fake-cli" in _cmdline(p) for p in members()), 10, "the CLI")
        reply = reply_for(home, msg, 30)
        assert live_group_members(group) == []

    assert reply.text == "The assistant took longer than 2 s and was stopped."
