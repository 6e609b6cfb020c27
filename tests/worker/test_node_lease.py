"""One node, two machines: ``tinyclaw worker --node box-a`` started in two homes with
the same tinyclaw.toml, the queue on one real ``nats-server``, the actors running the
fake CLI. One worker serves the node and holds the lease ``node.box-a``; the other
waits and takes over when the first stops (at once) or dies (within the lease's ttl),
and a message in flight is answered once: never run by the waiting worker while the
first still runs it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import single_server
from tests.support.commands import events, run_tinyclaw
from tests.support.messages import message
from tests.support.waiting import wait_for
from tests.support.worker import fake_cli_config, start_worker_process, write_config
from tinyclaw.core.errors import SpoolError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply
from tinyclaw.spool import Lease
from tinyclaw.spool.jetstream import JetStreamSpool
from tinyclaw.spool.lease import LeaseState
from tinyclaw.worker.node_lease import NodeLease, node_lease_key

LEASE_TTL = 3.0
MARGIN = 6.0  # a loaded test machine: process start, NATS round trips, the poll


def machine(
    root: Path,
    nats: NatsHome,
    env: dict[str, str] | None = None,
    nodes: bool = True,
    ttl: float = LEASE_TTL,
) -> Home:
    """One machine's home: the tinyclaw.toml every machine shares (but the CLI's env,
    which lets one machine's runs be slow), runs given 30 s to finish on a stop."""
    home = Home(root)
    home.ensure()
    extra = nats.toml() + f"lease_ttl = {ttl}\n\n"
    if nodes:
        extra += '[nodes.box-a]\nactors = ["assistant"]\n\n[nodes.box-b]\nactors = ["coder"]\n'
    config = fake_cli_config(env=env, extra=extra).replace(
        "stop_timeout = 0.5", "stop_timeout = 30"
    )
    write_config(home, config)
    return home


def answered(spool: JetStreamSpool) -> list[Reply]:
    return [spool.load_reply(handle) for handle in spool.replies("cli")]


def ran(home: Home, message_id: str) -> bool:
    return any(e.get("id") == message_id for e in events(home, "run.start"))


def log_of(home: Home) -> str:
    path = home.logs / "worker.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


@contextlib.contextmanager
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The worker processes a test starts, each ended (SIGKILL) if still running, and
    the fake CLI a killed worker left sleeping."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(30)
            process.stderr.close()  # type: ignore[union-attr]


def kill_orphan_cli(mark: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(mark.read_text().split()[0]), signal.SIGKILL)


def test_the_second_worker_of_a_node_waits_and_takes_over_when_the_first_is_killed(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    mark = tmp_path / "first" / "actors" / "assistant" / "workspace" / "running"
    first = machine(
        tmp_path / "first", nats_home, env={"FAKE_CLI_SLEEP": "60", "FAKE_CLI_MARK": str(mark)}
    )
    second = machine(tmp_path / "second", nats_home)  # its CLI answers at once
    spool = nats_home.open()
    with workers() as started:
        started.append(serving := start_worker_process(first, node="box-a"))
        wait_for(lambda: events(first, "worker.lease"), what="the first worker holding the lease")
        started.append(waiting := start_worker_process(second, node="box-a"))
        [standby] = wait_for(lambda: events(second, "worker.standby"), what="the second waiting")
        assert standby["node"] == "box-a" and standby["lease"] == "node.box-a"
        assert standby["holder"] == f"{os.uname().nodename}:{serving.pid}"
        assert f"waiting: node box-a runs as {standby['holder']} (lease node.box-a)" in log_of(
            second
        )

        slow = message("@assistant take your time")
        spool.put(slow)
        wait_for(mark.exists, what="the first worker's CLI running")
        time.sleep(LEASE_TTL)  # the lease renewed meanwhile: the second still waits
        assert not events(second, "worker.lease") and not ran(second, slow.id)

        serving.send_signal(signal.SIGKILL)
        killed_at = time.time()
        serving.wait(30)
        [took] = wait_for(
            lambda: events(second, "worker.lease"),
            timeout=LEASE_TTL + MARGIN,
            what="the second worker taking the lease over",
        )
        took_over = took["ts"] - killed_at
        print(f"took over {took_over:.2f} s after the SIGKILL (lease_ttl {LEASE_TTL:g} s)")
        assert took["waited"] is True and took["holder"] == f"{os.uname().nodename}:{waiting.pid}"
        assert took_over <= LEASE_TTL + MARGIN

        [reply] = wait_for(lambda: answered(spool), what="the answer from the second machine")
        assert reply.in_reply_to == slow.id and "take your time" in reply.text
        assert ran(second, slow.id)
        kill_orphan_cli(mark)
    assert len(answered(spool)) == 1
    assert list(spool.pending("assistant")) == []


def test_a_clean_stop_finishes_the_run_then_hands_the_node_over_at_once(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """The first worker finishes its run on SIGTERM while the second waits: the second
    never runs that message (its start-up returns no live claim of the first's), and
    takes the lease as soon as the first gives it back."""
    mark = tmp_path / "first" / "actors" / "assistant" / "workspace" / "running"
    first = machine(
        tmp_path / "first", nats_home, env={"FAKE_CLI_SLEEP": "3", "FAKE_CLI_MARK": str(mark)}
    )
    second = machine(tmp_path / "second", nats_home)
    spool = nats_home.open()
    with workers() as started:
        started.append(serving := start_worker_process(first, node="box-a"))
        wait_for(lambda: events(first, "worker.lease"), what="the first worker holding the lease")
        slow = message("@assistant finish this first")
        spool.put(slow)
        wait_for(mark.exists, what="the first worker's CLI running")
        started.append(start_worker_process(second, node="box-a"))
        wait_for(lambda: events(second, "worker.standby"), what="the second waiting")

        serving.send_signal(signal.SIGTERM)
        assert serving.wait(60) == 0
        stopped_at = time.time()
        [reply] = answered(spool)  # the first finished its run before it stopped
        assert reply.in_reply_to == slow.id
        [took] = wait_for(
            lambda: events(second, "worker.lease"), what="the second worker taking over"
        )
        print(f"took over {took['ts'] - stopped_at:.2f} s after the first stopped")
        assert took["ts"] - stopped_at < 2.0  # given back: no waiting for the ttl

        after = message("@assistant and now?")
        spool.put(after)
        wait_for(lambda: len(answered(spool)) == 2, what="the second machine answering")
    assert not ran(second, slow.id) and ran(second, after.id)
    assert sorted(r.in_reply_to for r in answered(spool)) == sorted([slow.id, after.id])


def test_a_worker_whose_lease_was_taken_over_stops_serving_with_exit_code_1(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """A home without [nodes] has one node, whose lease is ``node.default``. A worker
    that finds another holder in it at its renewal (it was frozen past the ttl, and
    another machine took over) stops at once."""
    home = machine(tmp_path / "home", nats_home, nodes=False)
    spool = nats_home.open()
    leases = spool.kv("leases")
    with workers() as started:
        started.append(worker := start_worker_process(home))
        [held] = wait_for(lambda: events(home, "worker.lease"), what="the worker holding its lease")
        assert held["lease"] == "node.default" and held["node"] is None
        current = Lease(leases, "node.default", "watcher", LEASE_TTL).current()
        assert current is not None and current.holder == f"{os.uname().nodename}:{worker.pid}"

        _value, revision = leases.entry("node.default") or (b"", 0)
        leases.update("node.default", LeaseState("box-z:1", time.time() + 60).dump(), revision)
        assert worker.wait(LEASE_TTL + MARGIN) == 1
        error = worker.stderr.read().decode()  # type: ignore[union-attr]
    assert "the lease node.default was taken over by another worker" in error
    assert json.loads(leases.entry("node.default")[0])["holder"] == "box-z:1"  # type: ignore[index]


def test_a_worker_restarted_after_a_crash_on_the_same_machine_takes_its_lease_back_at_once(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """Its dead predecessor held the lease from this home, on this machine: nobody
    else can be running the node, so there is no waiting for the lease to run out."""
    home = machine(tmp_path / "box-a", nats_home, ttl=60)
    spool = nats_home.open()
    with workers() as started:
        started.append(crashed := start_worker_process(home, node="box-a"))
        wait_for(lambda: events(home, "worker.lease"), what="the worker holding the lease")
        crashed.send_signal(signal.SIGKILL)
        crashed.wait(30)
        killed_at = time.time()
        started.append(start_worker_process(home, node="box-a"))
        [_, took] = wait_for(
            lambda: events(home, "worker.lease")[1:] and events(home, "worker.lease"),
            what="the restarted worker holding the lease",
        )
        assert took["ts"] - killed_at < 15  # not the 60 s of the lease
        hello = message("@assistant still there?")
        spool.put(hello)
        [reply] = wait_for(lambda: answered(spool), what="the answer after the restart")
        assert reply.in_reply_to == hello.id
    assert not events(home, "worker.standby")


def test_moving_the_queue_off_nats_is_refused_while_a_worker_holds_its_node(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """An idle worker on another machine holds no claim, but its node's lease says it
    serves: `tinyclaw spool move` would take the queue from under it."""
    serving = machine(tmp_path / "box-a", nats_home, nodes=False)
    other = machine(tmp_path / "box-b", nats_home, nodes=False)
    with workers() as started:
        started.append(worker := start_worker_process(serving))
        wait_for(lambda: events(serving, "worker.start"), what="the worker serving")
        refused = run_tinyclaw("spool", "move", "--to", "file", home=other)
        assert refused.returncode == 1
        holder = f"{os.uname().nodename}:{worker.pid}"
        assert f"a worker ({holder}) holds the lease node.default on NATS" in refused.stderr


def test_a_reload_moves_actors_to_and_from_a_running_node_without_a_restart(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """@coder is on box-b, whose machine is down: its message waits. Moved to box-a in
    tinyclaw.toml and reloaded (SIGHUP, as `tinyclaw reload` and `systemctl reload`
    send), the running box-a answers it; @assistant moved away is no longer run."""
    home = machine(tmp_path / "box-a", nats_home)
    spool = nats_home.open()
    for_coder = message("@coder are you there?")

    def move(assistant: str, coder: str) -> None:
        layout = (
            f'[nodes.{assistant}]\nactors = ["assistant"]\n\n[nodes.{coder}]\nactors = ["coder"]\n'
        )
        if assistant == coder:
            layout = (
                '[nodes.box-a]\nactors = ["assistant", "coder"]\n\n[nodes.box-b]\nactors = []\n'
            )
        text = home.config_file.read_text(encoding="utf-8")
        home.config_file.write_text(text[: text.index("[nodes.")] + layout, encoding="utf-8")

    with workers() as started:
        started.append(worker := start_worker_process(home, node="box-a"))
        wait_for(lambda: events(home, "worker.start"), what="box-a serving")
        spool.put(for_coder)
        spool.put(message("@assistant and you?"))  # box-a's own, queued behind it
        wait_for(lambda: answered(spool), what="box-a answering @assistant")
        assert [spool.load(h).id for h in spool.incoming()] == [for_coder.id]  # box-b's

        move("box-a", "box-a")
        worker.send_signal(signal.SIGHUP)
        wait_for(
            lambda: [r for r in answered(spool) if r.in_reply_to == for_coder.id],
            what="box-a answering @coder after the reload",
        )
        [reload] = [e for e in events(home, "config.reload") if e["applied"]]
        assert reload["applied"] == ["nodes.box-a", "nodes.box-b"] and reload["restart"] == []

        move("box-b", "box-a")  # @assistant goes to box-b
        worker.send_signal(signal.SIGHUP)
        wait_for(
            lambda: len([e for e in events(home, "config.reload") if e["applied"]]) == 2,
            what="the second reload",
        )
        for_assistant, again = message("@assistant hello?"), message("@coder and again?")
        spool.put(for_assistant)
        spool.put(again)
        wait_for(lambda: len(answered(spool)) == 3, what="box-a answering @coder again")
        waiting = [spool.load(h).id for h in spool.incoming()]
        assert waiting == [for_assistant.id]  # left in incoming for box-b to route
        assert not ran(home, for_assistant.id)
        assert worker.poll() is None and len(events(home, "worker.start")) == 1  # no restart


def test_a_second_worker_in_the_same_home_is_refused_and_a_standby_stops_cleanly(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """The lease is between machines: in one home the home's lock refuses a second
    worker at once (exit code 1), as on files. A worker on standby on another
    machine stops on SIGTERM like any other (exit code 0)."""
    home = machine(tmp_path / "box-a", nats_home)
    other = machine(tmp_path / "box-c", nats_home)
    with workers() as started:
        started.append(first := start_worker_process(home, node="box-a"))
        wait_for(lambda: events(home, "worker.start"), what="the first worker serving")
        started.append(again := start_worker_process(home, node="box-a"))
        assert again.wait(30) == 1
        error = again.stderr.read().decode()  # type: ignore[union-attr]
        assert f"a worker is already running for this home (pid {first.pid})" in error
        assert not events(home, "worker.standby")

        started.append(standby := start_worker_process(other, node="box-a"))
        wait_for(lambda: events(other, "worker.standby"), what="the other machine waiting")
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(10) == 0
        assert not events(other, "worker.lease") and first.poll() is None


def test_a_holder_cut_off_from_nats_gives_its_node_up_before_its_lease_runs_out(
    tmp_path: Path,
) -> None:
    """The servers gone, the worker cannot renew: after 80 % of the ttl it stops
    serving, so a standby that takes the lease over once it has run out never runs
    alongside it."""
    log = logging.getLogger("tinyclaw.test.node-lease")
    with single_server(tmp_path / "nats") as server:
        home = NatsHome([server], timeout=0.5)
        try:
            kv = home.open().kv("leases")
            holder = NodeLease(
                Lease(kv, node_lease_key("box-a"), "box-a:1", LEASE_TTL), "box-a", log=log
            )
            assert holder.acquire(threading.Event())
            lost: list[SpoolError] = []
            holder.keep(lost.append)
            began = time.monotonic()
            server.kill()
            wait_for(lambda: lost, timeout=LEASE_TTL * 2, what="the worker giving its node up")
            assert time.monotonic() - began < LEASE_TTL  # before the lease can have run out
            assert "could not renew the lease node.box-a" in str(lost[0])
            assert "stopped serving node box-a" in str(lost[0]) and holder.lost is lost[0]
            holder.release()  # lost: nothing to give back, and no hang
        finally:
            home.close()
