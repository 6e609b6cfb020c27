"""The owner's day with tinyclaw in tmux: start it, watch an actor work, type to it,
see a crash repaired, stop it without losing anything. Real tmux (a private server),
real worker and supervisors, the fake CLI in place of claude."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from tests.launcher.conftest import (
    TmuxServer,
    events,
    run_tinyclaw,
    states,
    wait_until,
    write_config,
)
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.launcher.state import pid_alive
from tinyclaw.spool import Spool

pytestmark = pytest.mark.timeout(120)
ALICE_ID = 1001  # the fake's default user


def _start(expect_ready: bool = True) -> str:
    result = run_tinyclaw("start", "--no-attach")
    assert result.returncode == 0, result.stderr + result.stdout
    if expect_ready:
        assert "all ready" in result.stdout, result.stdout
    return result.stdout


def test_start_opens_a_window_per_component_and_a_second_start_is_harmless(
    launch_home: Home, tmux: TmuxServer
) -> None:
    output = _start()

    assert tmux.windows() == {
        "status": "status",
        "worker": "worker",
        "actor-coder": "coder",
        "actor-reviewer": "reviewer",
    }
    assert "ready after" in output
    for name, state in states(launch_home).items():
        assert state.phase == "ready", name
        assert pid_alive(state.child_pid), name
    # the windows run this very Python, with this home
    worker = psutil.Process(states(launch_home)["worker"].child_pid)
    assert worker.cmdline()[:3] == [sys.executable, "-m", "tinyclaw.worker"]
    assert worker.environ()["TINYCLAW_HOME"] == str(launch_home.root)

    again = run_tinyclaw("start", "--no-attach")
    assert again.returncode == 0
    assert "already running" in again.stdout
    assert len(tmux.windows()) == 4

    other = Home(launch_home.root.parent / "other-home")
    other.root.mkdir()
    other.config_file.write_text(launch_home.config_file.read_text())
    clash = run_tinyclaw("--home", str(other.root), "start", "--no-attach")
    assert clash.returncode == 1
    assert f"belongs to the home {launch_home.root}" in clash.stderr


def test_status_agrees_with_itself_from_a_shell_on_another_tmux_server(
    launch_home: Home, tmux: TmuxServer
) -> None:
    _start()
    assert run_tinyclaw("status").returncode == 0  # everything runs

    env = {k: v for k, v in os.environ.items() if k != "TINYCLAW_TMUX_SOCKET"}
    env["TMUX_TMPDIR"] = str(launch_home.root / "no-tmux-here")  # no server at all
    os.makedirs(env["TMUX_TMPDIR"])
    elsewhere = subprocess.run(
        [sys.executable, "-m", "tinyclaw", "status"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip

    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "not on this tmux server; its components run" in elsewhere.stdout
    assert "not running (tinyclaw start)" not in elsewhere.stdout
    as_json = subprocess.run(
        [sys.executable, "-m", "tinyclaw", "status", "--json"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    data = json.loads(as_json.stdout)
    assert data["tmux"]["state"] == "elsewhere" and data["health"] == "ok"

    stopped = run_tinyclaw("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert run_tinyclaw("status").returncode == 3


def test_a_message_from_the_queue_shows_up_in_its_actors_window(
    launch_home: Home, tmux: TmuxServer
) -> None:
    _start()

    sent = run_tinyclaw("send", "--actor", "coder", "please refactor the parser")

    assert sent.returncode == 0, sent.stderr
    assert "echo:" in sent.stdout
    wait_until(lambda: "done in" in tmux.capture("actor-coder"), "the run's end in the window")
    screen = tmux.capture("actor-coder")
    assert "took" in screen and "from cli:local" in screen
    assert "please refactor the parser" in screen
    assert "claude started" in screen
    assert "answer" in screen
    assert "please refactor the parser" not in tmux.capture("actor-reviewer")


def test_windows_show_tool_use_and_the_dashboard_and_obey_no_escape_in_a_message(
    home: Home, tmux: TmuxServer
) -> None:
    write_config(home, runner_env='env = { FAKE_CLI_TOOLS = "1" }')
    _start()
    title_before = _pane_title(tmux, "actor-coder")

    sent = run_tinyclaw("send", "--actor", "coder", "tidy the notes \x1b]0;pwned\x07 \x1b[2J")

    assert sent.returncode == 0, sent.stderr
    wait_until(lambda: "done in" in tmux.capture("actor-coder"), "the run's end in the window")
    screen = tmux.capture("actor-coder")
    lines = screen.splitlines()
    assert any(line.lstrip().startswith("$ ") and line.endswith("ls -la") for line in lines)
    workspace = home.root / "actors" / "coder" / "workspace"
    edit = next(line for line in lines if line.lstrip().startswith("✎ "))
    assert edit.endswith(f"Edit {workspace / 'notes.md'}"), screen
    assert screen.index("ls -la") < screen.index("✎ ") < screen.index("answer")
    # the message's escape sequences are shown as text, not obeyed by the terminal
    assert "tidy the notes \\x1b]0;pwned\\x07 \\x1b[2J" in screen
    assert "took" in screen  # the screen was not cleared
    assert _pane_title(tmux, "actor-coder") == title_before != "pwned"

    wait_until(lambda: "@coder" in tmux.capture("status"), "the dashboard to show the actors")
    dashboard = tmux.capture("status")
    for part in ("components", "queues", "incoming", "failed", "actors", "@reviewer", "worker"):
        assert part in dashboard, dashboard
    wait_until(lambda: "answered in" in tmux.capture("status"), "the run in recent conversations")


def _pane_title(tmux: TmuxServer, component: str) -> str:
    shown = tmux.tmux("display-message", "-p", "-t", tmux.window_id(component), "#{pane_title}")
    return shown.stdout.strip()


def test_a_line_typed_in_an_actor_window_reaches_that_actor_and_its_answer_appears(
    launch_home: Home, tmux: TmuxServer
) -> None:
    _start()

    tmux.send_line("actor-reviewer", "check the error handling please")

    wait_until(lambda: "@reviewer → you" in tmux.capture("actor-reviewer"), "the answer")
    screen = tmux.capture("actor-reviewer")
    assert "you → @reviewer: check the error handling please" in screen
    assert "check the error handling please" in screen.split("@reviewer → you")[0]
    routed = [e for e in events(launch_home) if e.get("event") == "routed"]
    assert routed and routed[-1]["actor"] == "reviewer"
    assert routed[-1]["channel"] == "operator" and routed[-1]["chat"] == "reviewer"
    sent = list((launch_home.queue / "sent" / "operator").glob("*.json"))
    assert len(sent) == 1
    reply = json.loads(sent[0].read_text())
    assert reply["actor"] == "reviewer" and "check the error handling please" in reply["text"]
    assert not list((launch_home.queue / "outgoing" / "operator").glob("*.json"))


def test_a_killed_component_is_restarted_and_the_restart_is_visible(
    launch_home: Home, tmux: TmuxServer
) -> None:
    _start()
    first = states(launch_home)["worker"].child_pid
    assert first is not None

    os.kill(first, signal.SIGKILL)

    def restarted() -> bool:
        state = states(launch_home)["worker"]
        return state.restarts == 1 and state.phase == "ready" and state.child_pid != first

    wait_until(restarted, "the worker to be restarted and ready")
    screen = tmux.capture("worker")
    assert "worker stopped (killed by SIGKILL)" in screen
    assert "restart #1" in screen
    exits = [e for e in events(launch_home) if e.get("event") == "component.exit"]
    assert exits[-1]["component"] == "worker" and exits[-1]["code"] == -signal.SIGKILL
    # and it works again
    sent = run_tinyclaw("send", "--actor", "coder", "still there?")
    assert "echo:" in sent.stdout


def test_a_killed_listener_is_restarted(home: Home, tmux: TmuxServer) -> None:
    from tests.fakes.telegram_api import TOKEN, TelegramFake

    with TelegramFake() as fake:
        channels = (
            '[channels.telegram]\nenabled = true\ntoken_env = "TELEGRAM_BOT_TOKEN"\n'
            f'allow_from = ["{ALICE_ID}"]\n'
            f'base_url = "{fake.base_url}"\nbase_file_url = "{fake.base_file_url}"\n'
        )
        write_config(home, channels=channels)
        home.env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n")
        home.env_file.chmod(0o600)
        _start()
        assert "telegram" in tmux.windows()
        first = states(home)["telegram"].child_pid
        assert first is not None

        os.kill(first, signal.SIGKILL)

        wait_until(
            lambda: (
                states(home)["telegram"].restarts == 1 and states(home)["telegram"].phase == "ready"
            ),
            "the telegram listener to come back",
        )
        assert "restart #1" in tmux.capture("telegram")

        # "ready" means it receives again: an update after the restart is queued,
        # routed and answered through the restarted listener.
        fake.push_message(fake.user(ALICE_ID), "are you back?")
        wait_until(
            lambda: any(
                e.get("event") == "routed" and e.get("channel") == "telegram" for e in events(home)
            ),
            "the update to be queued and routed",
        )
        routed = [e for e in events(home) if e.get("event") == "routed"]
        assert routed[-1]["chat"] == str(ALICE_ID) and routed[-1]["actor"] == "coder"
        wait_until(
            lambda: any("are you back?" in t for t in fake.texts(ALICE_ID)),
            "the answer to reach Telegram",
            timeout=30,
        )
        stopped = run_tinyclaw("stop", "--timeout", "20")
        assert stopped.returncode == 0


def test_a_listener_that_cannot_connect_is_not_called_ready(home: Home, tmux: TmuxServer) -> None:
    # A "Bot API" that takes the connection and never answers: getMe hangs.
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        url = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
        channels = (
            '[channels.telegram]\nenabled = true\ntoken_env = "TELEGRAM_BOT_TOKEN"\n'
            f'base_url = "{url}/bot"\nbase_file_url = "{url}/file/bot"\n'
        )
        write_config(home, channels=channels)
        home.env_file.write_text("TELEGRAM_BOT_TOKEN=7000000001:AAnever-answered\n")
        home.env_file.chmod(0o600)

        result = run_tinyclaw("start", "--no-attach", "--wait", "3")

        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "all ready" not in out
        telegram = next(line for line in out.splitlines() if line.strip().startswith("telegram"))
        assert "not ready: still connecting after 3 s" in telegram
        assert "tinyclaw logs telegram" in telegram
        assert "1 component(s) not ready" in out
        assert states(home)["telegram"].phase == "starting"
        status = run_tinyclaw("status").stdout
        line = next(line for line in status.splitlines() if line.strip().startswith("telegram"))
        assert "connecting" in line, status
        assert all(states(home)[name].phase == "ready" for name in ("worker", "actor-coder"))
    # A listener still connecting does not heed SIGTERM (it retries getMe until it
    # gets through), so stop has to kill it; a short timeout keeps this test quick.
    stopped = run_tinyclaw("stop", "--timeout", "3")
    assert stopped.returncode == 0, stopped.stderr
    assert not tmux.has_session()


def test_stop_ends_every_process_and_keeps_queued_work(home: Home, tmux: TmuxServer) -> None:
    # Every run takes long: one is in flight when we stop, one waits behind it.
    write_config(home, stop_timeout=1.0, runner_env='env = { FAKE_CLI_SLEEP = "60" }')
    _start()
    spool = Spool(home)
    ids = []
    for text in ("first, slow", "second, waiting"):
        message = Inbound(
            id=unique_name(),
            channel="cli",
            chat_id="local",
            sender=Sender(id="owner"),
            text=text,
            actor="coder",
        )
        spool.put(message)
        ids.append(message.id)
    wait_until(lambda: Spool.list_box(spool.processing("coder")), "the first run to start")
    live = home.logs / "live" / "coder.jsonl"
    wait_until(lambda: live.exists() and '"start"' in live.read_text(), "the CLI to start")
    cli = next(r for r in map(json.loads, live.read_text().splitlines()) if r["kind"] == "start")
    pids = {p for s in states(home).values() for p in (s.supervisor_pid, s.child_pid) if p}
    cli_pid = cli["data"]["pid"]
    assert pid_alive(cli_pid, needle="fake-cli")

    stopped = run_tinyclaw("stop")

    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout and "killed" not in stopped.stdout
    assert "waiting for 1 run(s) in flight to finish (at most 11 s" in stopped.stdout
    assert not tmux.has_session()
    assert not [pid for pid in pids if pid_alive(pid)]
    assert not pid_alive(cli_pid, needle="fake-cli"), "the CLI run outlived the stop"
    assert not _processes_of(home), "something of this home is still running"
    inbox = sorted(p.stem for p in Spool.list_box(spool.inbox("coder")))
    assert inbox == sorted(ids)  # the run in flight went back, the waiting one stayed
    assert not Spool.list_box(spool.processing("coder"))
    assert not Spool.list_box(spool.failed)
    assert not list((home.queue / "outgoing").rglob("*.json"))

    status = run_tinyclaw("status")
    assert "not running" in status.stdout
    assert "inboxes 2" in status.stdout


def _processes_of(home: Home) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.environ().get("TINYCLAW_HOME") == str(home.root):
                found.append(" ".join(proc.info["cmdline"] or []))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    me = psutil.Process()
    mine = {" ".join(p.cmdline()) for p in [me, *me.children(recursive=True)]}
    return [cmd for cmd in found if cmd not in mine]


def test_attach_refuses_an_unknown_actor_and_a_stopped_session(
    launch_home: Home, tmux: TmuxServer
) -> None:
    result = run_tinyclaw("attach", "coder")
    assert result.returncode == 1
    assert "not running" in result.stderr
    _start()
    unknown = run_tinyclaw("attach", "nobody")
    assert unknown.returncode == 1 and "no actor 'nobody'" in unknown.stderr


def test_attach_shows_the_session_with_the_actors_window_selected(
    launch_home: Home, tmux: TmuxServer
) -> None:
    _start()
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env["TERM"] = "xterm-256color"
    primary, secondary = os.openpty()
    attach = subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "attach", "reviewer"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        start_new_session=True,
    )
    os.close(secondary)
    try:

        def attached() -> bool:
            return bool(tmux.tmux("list-clients", "-t", "=tc-test").stdout.strip())

        wait_until(attached, "a client attached to the session")
        listing = tmux.tmux(
            "list-windows", "-t", "=tc-test", "-F", "#{window_active} #{window_name}"
        ).stdout
        assert "1 reviewer" in listing.splitlines()
        tmux.tmux("detach-client", "-s", "=tc-test")
        assert attach.wait(timeout=10) == 0
    finally:
        if attach.poll() is None:
            attach.kill()
            attach.wait()
        os.close(primary)


def test_a_worker_started_by_hand_is_shown_and_start_refuses_to_add_a_second(
    launch_home: Home, tmux: TmuxServer
) -> None:
    by_hand = subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "worker"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: any(e["event"] == "worker.start" for e in events(launch_home)),
            "the hand-started worker",
        )
        status = run_tinyclaw("status")
        assert "outside tmux" in status.stdout and str(by_hand.pid) in status.stdout

        refused = run_tinyclaw("start", "--no-attach")

        assert refused.returncode == 1
        assert f"a worker is already running outside tmux (pid {by_hand.pid})" in refused.stderr
        assert not tmux.has_session()
    finally:
        by_hand.send_signal(signal.SIGTERM)
        assert by_hand.wait(30) == 0
    assert "outside tmux" not in run_tinyclaw("status").stdout
