"""The launcher and ``tinyclaw status`` on a machine whose queue is on NATS: each
machine starts its own worker node in its own tmux session (``tinyclaw start --node
NAME``), and status shows the shared queue's figures from the servers, or one line
saying they do not answer."""

from __future__ import annotations

import signal
import socket
import sys
import time
from io import StringIO
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import single_server
from tests.support.commands import run_tinyclaw
from tests.support.launcher import TmuxServer, states
from tests.support.messages import message
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.worker import start_worker_process
from tests.worker.test_nats_worker import answered, node_home
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply
from tinyclaw.launcher.dashboard import Dashboard, render

pytestmark = pytest.mark.timeout(120)


def test_start_without_node_on_a_home_with_nodes_is_one_line_and_exit_2(
    home: Home, nats_home: NatsHome, tmux: TmuxServer
) -> None:
    node_home(home.root, nats_home)
    result = run_tinyclaw("start", "--no-attach", home=home)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: tinyclaw.toml defines [nodes]: start the worker as one of them "
        "(tinyclaw worker --node NAME; nodes: box-a, box-b)"
    )
    unknown = run_tinyclaw("start", "--no-attach", "--node", "box-c", home=home)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "error: --node 'box-c': no [nodes.box-c] in tinyclaw.toml (nodes: box-a, box-b)"
    )
    assert not tmux.has_session()


def test_start_node_runs_this_machine_s_worker_node_in_tmux_and_it_answers(
    home: Home, nats_home: NatsHome, tmux: TmuxServer
) -> None:
    node_home(home.root, nats_home)
    started = run_tinyclaw("start", "--no-attach", "--node", "box-a", home=home)
    assert started.returncode == 0, started.stderr + started.stdout
    assert "as worker node 'box-a'" in started.stdout and "all ready" in started.stdout
    worker = psutil.Process(states(home)["worker"].child_pid)
    assert worker.cmdline()[:5] == [sys.executable, "-m", "tinyclaw.worker", "--node", "box-a"]

    spool = nats_home.open()
    hello = message("@assistant hello from the launcher")
    spool.put(hello)
    [reply] = wait_for(lambda: answered(spool), what="box-a's answer on NATS")
    assert reply.in_reply_to == hello.id

    status = run_tinyclaw("status", home=home)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "worker node: box-a" in status.stdout
    assert "outgoing 1" in status.stdout  # the reply waits on NATS for its listener

    restarted = run_tinyclaw("restart", "--no-attach", home=home)  # keeps its node
    assert restarted.returncode == 0, restarted.stderr + restarted.stdout
    worker = psutil.Process(states(home)["worker"].child_pid)
    assert worker.cmdline()[3:5] == ["--node", "box-a"]

    stopped = run_tinyclaw("stop", home=home)
    assert stopped.returncode == 0, stopped.stderr
    assert "kept in the queue for the next start: outgoing 1" in stopped.stdout  # on NATS
    assert not tmux.has_session()


def test_status_on_nats_shows_the_shared_queue_in_every_state(
    home: Home, nats_home: NatsHome
) -> None:
    node_home(home.root, nats_home)
    spool = nats_home.open()
    spool.put(message("waiting to be routed"))
    for text in ("first for assistant", "second for assistant"):
        spool.put_for("assistant", message(text))
    coder = spool.put_for("coder", message("being written now"))
    running = spool.claim(next(spool.pending("coder")), "coder")
    assert running is not None and coder is not None
    done = message("answered")
    spool.put_reply(
        Reply(id=done.id, in_reply_to=done.id, channel="cli", chat_id="local", text="here")
    )
    spool.fail(spool.put_for("coder", message("broken")), "the CLI crashed twice")

    result = run_tinyclaw("status", home=home)

    assert result.returncode == 3, result.stderr  # nothing runs on this machine
    out = result.stdout
    queues = "queues: incoming 1  inboxes 2  processing 1  outgoing 1  failed 1"
    assert f"{queues}  (on NATS {nats_home.urls[0]})" in out
    assert "inboxes: @assistant 2  @coder 0" in out
    assert "being written now" in out  # in flight, on whichever machine
    assert "failures: 1" in out and "the CLI crashed twice" in out
    as_json = run_tinyclaw("status", "--json", home=home)
    assert '"inboxes": 2' in as_json.stdout and '"problem": null' in as_json.stdout


def test_status_says_in_one_line_when_the_nats_servers_do_not_answer(home: Home) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"
    home.config_file.write_text(
        node_home(home.root, NatsHome([]))
        .config_file.read_text()
        .replace("servers = []", f'servers = ["{dead}"]\ntimeout = 1')
    )
    result = run_tinyclaw("status", home=home)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr + result.stdout
    [line] = [line for line in result.stdout.splitlines() if line.startswith("queues:")]
    assert line.startswith(f"queues: unknown: the NATS queue at {dead} does not answer")
    assert "components:" in result.stdout and "worker" in result.stdout


def test_the_dashboard_keeps_one_nats_connection_and_says_when_the_servers_are_gone(
    home: Home,
) -> None:
    with single_server(home.root.parent / "nats") as server:
        nats = NatsHome([server])
        node_home(home.root, nats)
        dashboard = Dashboard(home, load_config(home), session="tinyclaw")
        nats.open().put(message("@assistant hello"))
        first = dashboard.snapshot()
        connection = dashboard.shared._spool if dashboard.shared else None
        assert first.depths["incoming"] == 1 and first.queue_problem is None
        assert dashboard.snapshot().depths["incoming"] == 1
        assert dashboard.shared is not None and dashboard.shared._spool is connection
        nats.close()
    gone = dashboard.snapshot()  # the server stopped: one line, the rest drawn
    console = Console(file=StringIO(), width=200, record=True, color_system=None)
    console.print(render(gone))
    text = console.export_text()
    assert "does not answer" in text and "worker" in text
    assert dashboard.shared is not None
    dashboard.shared.close()


def test_start_node_on_a_second_machine_waits_on_standby_and_takes_over(
    home: Home, tmp_path: Path, nats_home: NatsHome, tmux: TmuxServer
) -> None:
    """box-a already runs on another machine: this machine's `tinyclaw start --node
    box-a` says its worker is on standby at once (no wait for readiness), status shows
    who serves, and when the other machine stops it takes over."""
    node_home(home.root, nats_home)
    elsewhere = start_worker_process(node_home(tmp_path / "other-machine", nats_home), node="box-a")
    try:
        wait_for(
            lambda: (tmp_path / "other-machine" / "state" / "node-lease").exists(),
            what="the other machine holding box-a",
        )
        serving = f"{socket.gethostname()}:{elsewhere.pid}"
        began = time.monotonic()
        started = run_tinyclaw("start", "--no-attach", "--node", "box-a", "--wait", "30", home=home)
        assert started.returncode == 0, started.stderr + started.stdout
        assert time.monotonic() - began < 25  # did not wait out the 30 s
        worker = next(line for line in started.stdout.splitlines() if line.startswith("  worker"))
        assert f"not ready: on standby: another machine serves it ({serving})" in worker
        status = run_tinyclaw("status", home=home).stdout
        line = next(line for line in status.splitlines() if line.startswith("  worker"))
        assert "running  (standby, pid" in line and f"another machine serves it ({serving})" in line
    finally:
        elsewhere.send_signal(signal.SIGTERM)
        assert elsewhere.wait(30) == 0
        elsewhere.stderr.close()  # type: ignore[union-attr]
    wait_for(lambda: states(home)["worker"].phase == "ready", what="this machine taking over")
    status = run_tinyclaw("status", home=home).stdout
    assert "standby" not in next(
        line for line in status.splitlines() if line.startswith("  worker")
    )
    assert run_tinyclaw("stop", home=home).returncode == 0
