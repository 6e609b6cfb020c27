"""``tinyclaw send`` and ``tinyclaw chat`` on a home whose queue is on NATS: the
message goes into the NATS queue, a worker node (on another machine: another home)
answers it, and the reply comes back through NATS to the terminal, once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.spool.nats_backend import NatsHome
from tests.support.commands import run_tinyclaw
from tests.support.paths import REPO
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.worker import worker_process
from tests.worker.test_nats_worker import node_home
from tinyclaw.core.home import Home


def chat(home: Home, *lines: str) -> subprocess.CompletedProcess[str]:
    """``tinyclaw chat`` with ``lines`` typed in, then Ctrl-D."""
    return subprocess.run(
        [sys.executable, "-m", "tinyclaw", "--home", str(home.root), "chat"],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=90,
        cwd=REPO,
        check=False,
    )


def test_send_on_a_nats_home_is_answered_by_the_worker_node_of_another_machine(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    here = node_home(tmp_path / "laptop", nats_home)  # no worker runs on this machine
    box_a = node_home(tmp_path / "box-a", nats_home)
    with worker_process(box_a, node="box-a"):
        result = run_tinyclaw("send", "hello over NATS", home=here)
    assert result.returncode == 0, result.stderr
    assert "hello over NATS" in result.stdout
    spool = nats_home.open()
    assert spool.replies("cli") == []  # delivered, once: marked sent
    assert list(spool.incoming()) == [] and list(spool.pending("assistant")) == []
    assert not list((here.queue / "incoming").glob("*.json"))  # nothing on files


def test_trace_shows_a_machine_s_own_part_of_a_message_that_went_through_nats(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    here = node_home(tmp_path / "laptop", nats_home)
    box_a = node_home(tmp_path / "box-a", nats_home)
    with worker_process(box_a, node="box-a"):
        queued = run_tinyclaw("send", "--no-wait", "trace me", home=here)
        message_id = queued.stdout.strip()
        wait_for(lambda: nats_home.open().replies("cli"), what="box-a's reply")
    ran_it = run_tinyclaw("trace", message_id, home=box_a)
    assert ran_it.returncode == 0, ran_it.stderr
    assert "routed to @assistant" in ran_it.stdout and "@assistant started" in ran_it.stdout
    sent_it = run_tinyclaw("trace", message_id, home=here)  # its logs saw no run
    assert sent_it.returncode == 1
    assert f"no conversation or message {message_id!r} in this home" in sent_it.stderr


def test_send_no_wait_queues_on_nats_and_replies_prints_the_answer_later(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    here = node_home(tmp_path / "laptop", nats_home)
    queued = run_tinyclaw("send", "--no-wait", "@coder later please", home=here)
    assert queued.returncode == 0, queued.stderr
    message_id = queued.stdout.strip()
    spool = nats_home.open()
    [waiting] = list(spool.incoming())
    assert spool.load(waiting).id == message_id
    with worker_process(node_home(tmp_path / "box-b", nats_home), node="box-b"):
        wait_for(lambda: spool.replies("cli"), what="@coder's reply on NATS")
    shown = run_tinyclaw("replies", home=here)
    assert shown.returncode == 0, shown.stderr
    assert message_id in shown.stdout and "later please" in shown.stdout
    assert spool.replies("cli") == []


def test_chat_on_a_nats_home_talks_to_a_worker_node(tmp_path: Path, nats_home: NatsHome) -> None:
    here = node_home(tmp_path / "laptop", nats_home)
    with worker_process(node_home(tmp_path / "box-a", nats_home), node="box-a"):
        result = chat(here, "first question", "second question")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.index("first question"), result.stdout.index("second question")
    assert first < second
    assert "no worker is running" not in result.stdout  # the worker is on another machine
    assert nats_home.open().replies("cli") == []


def test_send_on_a_nats_home_whose_servers_do_not_answer_is_one_line(tmp_path: Path) -> None:
    dead = NatsHome([], timeout=1.0)
    home = node_home(tmp_path / "laptop", dead)
    text = home.config_file.read_text().replace(
        "servers = []", (f'servers = ["nats://127.0.0.1:{free_port()}"]\ntimeout = 1')
    )
    home.config_file.write_text(text)
    result = run_tinyclaw("send", "hello", home=home)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "127.0.0.1" in line
    assert not list((home.queue / "incoming").glob("*.json"))
