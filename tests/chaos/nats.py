"""The NATS mode of the chaos run (``python -m tests.chaos --spool nats``): the queue in
a three-server JetStream cluster, three worker nodes, the Telegram listener on NATS,
and SIGKILLs of all three kinds of process.

What runs, all on loopback:

* **three ``nats-server``** processes joined by routes (``tests/spool/nats_servers.py``),
  every stream and bucket kept three times (``[spool] replicas = 3``);
* **three worker nodes**, each ``tinyclaw worker --node n1|n2|n3`` in a home of its own
  (one machine each: its own lock, logs and state), the actors split between them by
  ``[nodes.*]``; the same ``tinyclaw.toml`` everywhere;
* **the Telegram listener** (``python -m tinyclaw.channels telegram``) in a fourth
  home, queueing into NATS and delivering the answers from it, against the loopback
  Telegram fake;
* a **producer** queueing the rest of the messages straight into the NATS spool (what
  ``tinyclaw send`` would do) and a **deliverer** taking their replies off it and
  marking them sent, as a listener does (a reply id delivered twice is a duplicate).

Three killers run meanwhile. Worker kills (``--kills``) pick a node at random and
restart it at once; listener kills (``--listener-kills``) land while messages arrive;
server kills (``--server-kills``) SIGKILL one of the three servers, keep it down
``--server-down`` seconds, and start it again on its own store, one at a time. A
supervisor restarts a worker or listener that exits by itself (a worker that lost
every server for ``timeout`` seconds does, by design) and counts it.

The chaos home uses a short ``claim_ttl`` and ``lease_ttl`` (``--claim-ttl``,
``--lease-ttl``) so a killed listener's bot is taken over quickly; the summary says
which were used. "Recovery" per kind of kill is the time from the kill to the first
answer from the part that was killed (that node's actors; a Telegram answer; any
answer after a server kill), and the longest gap between two answers in the whole run
is reported too.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from tests.chaos.driver import (
    WorkerProcess,
    kill_listeners,
    kill_schedule,
    listener_schedule,
    produce,
    wait_until,
    write_config,
)
from tests.chaos.ledger import CHANNEL, Expected, Ledger
from tests.chaos.nats_audit import Answers, audit_nats, deliver_nats
from tests.chaos.queues import NatsQueue
from tests.chaos.telegram import TelegramSide
from tests.spool.nats_servers import NatsServer, cluster, wait_healthy
from tests.support.paths import REPO
from tinyclaw.core.errors import SpoolError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound
from tinyclaw.spool.jetstream import JetStreamSpool, NatsConnection, NatsSettings

NODES = ("n1", "n2", "n3")
CATCH_UP = 30.0  # seconds a restarted server gets to catch up before the next kill
PREFIX = "chaos"


def node_actors(actors: int) -> dict[str, list[str]]:
    """Actors a0, a1, ... dealt round the nodes: n1 gets a0 and a3, and so on."""
    return {node: [f"a{n}" for n in range(i, actors, len(NODES))] for i, node in enumerate(NODES)}


def spool_config(urls: list[str], args: argparse.Namespace) -> str:
    lines = [
        "[spool]",
        'backend = "nats"',
        f"servers = {json.dumps(urls)}",
        "replicas = 3",
        f'stream_prefix = "{PREFIX}"',
        f"claim_ttl = {args.claim_ttl}",
        f"lease_ttl = {args.lease_ttl}",
        "",
    ]
    for node, actors in node_actors(args.actors).items():
        lines += [f"[nodes.{node}]", f"actors = {json.dumps(actors)}", ""]
    return "\n".join(lines)


class Patient:
    """The harness's own puts, tried again while the cluster elects a leader (a put
    carries ``Nats-Msg-Id``, so one tried twice is queued once)."""

    def __init__(self, spool: JetStreamSpool, deadline: float) -> None:
        self.spool = spool
        self.deadline = deadline

    def put(self, message: Inbound) -> None:
        while True:
            try:
                self.spool.put(message)
                return
            except SpoolError:
                if time.monotonic() > self.deadline:
                    raise
                time.sleep(0.1)


class Nodes:
    """The three worker nodes, restarted at once when killed, and by a supervisor
    when one exits by itself (counted per node, with its exit code)."""

    def __init__(self, homes: dict[str, Home]) -> None:
        self.workers = {node: WorkerProcess(home, node) for node, home in homes.items()}
        self.lock = threading.Lock()
        self.stopping = False
        self.unexpected: list[tuple[str, int]] = []
        self.closed = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()
        self._supervisor.start()

    def kill(self, node: str) -> float:
        with self.lock:
            when = self.workers[node].kill()
            self.workers[node].start()
            return when

    def _supervise(self) -> None:
        while not self.closed.wait(0.2):
            with self.lock:
                for node, worker in self.workers.items():
                    code = worker.proc.poll() if worker.proc is not None else None
                    if not self.stopping and code is not None:
                        self.unexpected.append((node, code))
                        worker.start()

    def stop(self) -> dict[str, int | None]:
        with self.lock:
            self.stopping = True
        codes = {node: worker.stop() for node, worker in self.workers.items()}
        self.closed.set()
        self._supervisor.join(5)
        return codes


def kill_servers(
    servers: list[NatsServer],
    thresholds: list[int],
    progress: Any,
    down: float,
    rng: random.Random,
    deadline: float,
    record: list[tuple[float, float | None, str]],
    followers_only: bool = False,
) -> None:
    """SIGKILL one server at each progress threshold (``followers_only``: never the
    leader of the queue stream), keep it down ``down`` seconds,
    start it again on its store; the next kill waits until all three are healthy.
    Records (kill time, healthy-again time or None, server name)."""
    for threshold in thresholds:
        if not wait_until(partial(progress, threshold), deadline):
            return
        wait_healthy(servers, timeout=max(1.0, deadline - time.monotonic()))
        leader = queue_leader(servers) if followers_only else None
        victim = rng.choice([s for s in servers if s.name != leader])
        killed = time.time()
        victim.kill()
        time.sleep(down)
        victim.start()
        try:
            wait_healthy([victim], timeout=max(1.0, deadline - time.monotonic()))
        except AssertionError:
            record.append((killed, None, victim.name))
            continue
        record.append((killed, time.time(), victim.name))
        # Healthy only says the server has joined; one server of three at a time is
        # what replicas = 3 survives, so the next kill waits (up to CATCH_UP seconds)
        # until it holds every stream as the others do. A copy that never does is a
        # nats-server fault the run reports (``nats_copies_agree``).
        wait_until(partial(caught_up, servers), min(deadline, time.monotonic() + CATCH_UP), 0.2)


def stream_states(server: NatsServer) -> dict[str, tuple[int, int]]:
    """(last sequence, messages) of each stream in ``server``'s own copy."""
    url = f"http://127.0.0.1:{server.http_port}/jsz?streams=true"
    with urllib.request.urlopen(url, timeout=2) as answer:
        report = json.load(answer)
    return {
        detail["name"]: (int(detail["state"]["last_seq"]), int(detail["state"]["messages"]))
        for account in report.get("account_details", [])
        for detail in account.get("stream_detail", [])
    }


def queue_leader(servers: list[NatsServer]) -> str | None:
    """The name of the server leading the queue stream, as the first that answers
    says; None if none can tell."""
    for server in servers:
        url = f"http://127.0.0.1:{server.http_port}/jsz?streams=true"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                report = json.load(answer)
        except (OSError, ValueError):
            continue
        for account in report.get("account_details", []):
            for detail in account.get("stream_detail", []):
                if detail["name"] == f"{PREFIX}_queue":
                    leader = detail.get("cluster", {}).get("leader")
                    return str(leader) if leader else None
    return None


def caught_up(servers: list[NatsServer]) -> bool:
    """Whether every server holds every stream as far as the others do."""
    try:
        states = [stream_states(server) for server in servers]
    except (OSError, ValueError):
        return False
    return bool(states[0]) and all(state == states[0] for state in states[1:])


def open_harness_spool(urls: list[str], args: argparse.Namespace) -> JetStreamSpool:
    return JetStreamSpool(
        NatsConnection(NatsSettings(servers=urls, timeout=5.0)),
        prefix=PREFIX,
        replicas=3,
        claim_ttl=args.claim_ttl,
        owns_connection=True,
    )


def run_nats(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="tinyclaw-chaos-nats-"))
    root = root.resolve()
    with ExitStack() as stack:
        servers = stack.enter_context(cluster(root / "nats"))
        figures = _run(args, root, servers, stack)
    if not args.keep and not args.home and figures["ok"]:
        shutil.rmtree(root, ignore_errors=True)
        figures["home"] = None
    return figures


def _run(
    args: argparse.Namespace, root: Path, servers: list[NatsServer], stack: ExitStack
) -> dict[str, Any]:
    started = time.monotonic()
    deadline = started + args.timeout
    urls = [s.url for s in servers]
    listener_home = Home(root / "listener")
    homes = {node: Home(root / node) for node in NODES}
    for home in (listener_home, *homes.values()):
        home.ensure()
    spool = open_harness_spool(urls, args)  # creates the streams, three copies each
    side = TelegramSide(listener_home, REPO, NatsQueue(spool))
    extra = side.config() + spool_config(urls, args)
    for home in (listener_home, *homes.values()):
        write_config(home, args.actors, args.max_attempts, args.backoff, extra)
    expected: dict[str, Expected] = {}
    ledger = Ledger()
    answers = Answers()
    nodes = Nodes(homes)
    finished = threading.Event()

    def left_early() -> None:
        """An error left the run: stop what it started."""
        if not finished.is_set():
            nodes.stop()
            side.stop()
            side.close()

    stack.callback(left_early)
    nodes.start()
    side.start()
    wait_until(side.is_ready, deadline, step=0.05)

    def progress(target: int) -> bool:
        return ledger.count + side.delivered() >= target

    produced, stop_delivery = threading.Event(), threading.Event()
    arrived = [0]
    rng = random.Random(args.seed + 1)
    threads = [
        threading.Thread(
            target=produce,
            args=(
                Patient(spool, deadline),
                expected,
                args,
                random.Random(args.seed),
                [(side, args.telegram)],
                produced,
                arrived,
            ),
        ),
        threading.Thread(
            target=deliver_nats, args=(spool, expected, ledger, answers, stop_delivery)
        ),
        threading.Thread(
            target=kill_listeners,
            args=(
                {"telegram": side},
                listener_schedule(args, rng),
                arrived,
                random.Random(rng.random()),
                deadline,
            ),
        ),
    ]
    server_kills: list[tuple[float, float | None, str]] = []
    server_points = sorted(rng.sample(range(1, args.messages), args.server_kills))
    threads.append(
        threading.Thread(
            target=kill_servers,
            args=(
                servers,
                server_points,
                progress,
                args.server_down,
                random.Random(rng.random()),
                deadline,
                server_kills,
                args.server_victim == "follower",
            ),
        )
    )
    sampler_stop = threading.Event()
    threads.append(threading.Thread(target=_sample, args=(side, sampler_stop)))
    for thread in threads:
        thread.daemon = True
        thread.start()
    worker_kills: list[tuple[float, str]] = []
    early = 0
    for threshold in kill_schedule(args, rng):
        if rng.random() < args.early_fraction and worker_kills:
            time.sleep(rng.uniform(0.05, 1.0))  # the node killed last is starting again
            node = worker_kills[-1][1]
            early += 1
        else:
            wait_until(partial(progress, threshold), deadline)
            time.sleep(rng.uniform(0.0, 0.05))
            node = rng.choice(NODES)
        if time.monotonic() > deadline:
            break
        worker_kills.append((nodes.kill(node), node))
    for thread in threads[:1] + threads[2:4]:  # producer and both killers
        thread.join(max(0.0, deadline - time.monotonic()))

    def failed_cli() -> set[str]:
        try:
            return {key for key, _reason, _data in spool.failures()}
        except SpoolError:
            return set()

    settled = wait_until(
        lambda: (
            ledger.count + len(failed_cli() & expected.keys()) >= len(expected)
            and not NatsQueue(spool).waiting(CHANNEL)
            and side.settled()
        ),
        deadline,
        step=0.1,
    )
    copies_agree = wait_until(partial(caught_up, servers), time.monotonic() + CATCH_UP, 0.5)
    worker_exits = nodes.stop()
    listener_exit = side.stop()
    stop_delivery.set()
    sampler_stop.set()
    for thread in threads[1:]:
        thread.join(10)
    deliver_nats(spool, expected, ledger, answers, None)  # one last pass
    side.tally()
    figures = audit_nats(
        spool,
        homes,
        expected,
        ledger,
        answers,
        side,
        worker_kills=worker_kills,
        server_kills=server_kills,
        actors_of=node_actors(args.actors),
    )
    figures.update(side.audit(), telegram_exit_on_sigterm=listener_exit)
    # A listener that cannot renew its lease for most of lease_ttl, or cannot open the
    # queue as it starts, stops with exit code 1 (and is restarted): what it must do
    # while a server kill's leader election outlasts a short lease. Only those in the
    # wake of a server kill are expected; any other exit is a defect.
    lease_stops = sum(
        1
        for code, at in zip(side.unexpected_exits, side.exit_times, strict=True)
        if code == 1 and in_outage(at, server_kills, args.lease_ttl)
    )
    figures["telegram_outage_stops"] = lease_stops
    figures["telegram_unexpected_exits"] -= lease_stops
    platform_ok = side.ok(figures, listener_exit)
    side.close()
    finished.set()
    spool.close()
    figures.update(
        spool="nats",
        messages=args.messages,
        lost=figures["lost"] + figures["telegram_lost"],
        kills=len(worker_kills),
        kills_during_startup=early,
        listener_kills=side.kills,
        worker_lives=sum(w.lives for w in nodes.workers.values()),
        worker_unexpected_exits=len(nodes.unexpected),
        worker_exit_on_sigterm=max(
            (c for c in worker_exits.values() if c is not None), default=None
        )
        if None not in worker_exits.values()
        else None,
        claim_ttl_s=args.claim_ttl,
        lease_ttl_s=args.lease_ttl,
        server_down_s=args.server_down,
        server_victims=args.server_victim,
        # Whether the three servers' copies of every stream agree at the end: False is a
        # nats-server fault (a restarted server's copy diverged), not tinyclaw's.
        nats_copies_agree=copies_agree,
        settled=settled,
        elapsed_s=round(time.monotonic() - started, 2),
        home=str(root),
    )
    figures["unanswered"] = figures["lost"]
    figures["ok"] = (
        settled
        and platform_ok
        and figures["lost"] == 0
        and figures["duplicated"] == 0
        and figures["wrong_replies"] == 0
        and figures["failed_without_reason"] == 0
        and figures["left_in_queue"] == 0
        and figures["server_kills"] == args.server_kills
        and figures["servers_back"] == figures["server_kills"]
        and figures["worker_exit_on_sigterm"] == 0
    )
    return figures


# Seconds after a killed server is healthy again within which the cluster may still be
# electing leaders and the calls made meanwhile still timing out.
ELECTION = 15.0


def in_outage(at: float, server_kills: list[tuple[float, float | None, str]], lease: float) -> bool:
    """Whether ``at`` falls between a server kill and the end of its election (plus a
    lease's length: a listener stops once its lease could not be renewed)."""
    return any(
        killed <= at <= (back or killed) + ELECTION + lease for killed, back, _ in server_kills
    )


def _sample(side: TelegramSide, stop: threading.Event) -> None:
    """Count the fake's answers as they arrive, so each has its time to within 50 ms."""
    while not stop.wait(0.05):
        side.tally()
