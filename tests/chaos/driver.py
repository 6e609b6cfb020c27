#!/usr/bin/env python3
"""Chaos run: SIGKILL a real worker and real listeners at random moments and prove
nothing is lost or doubled.

A throwaway home gets several actors whose CLI is ``tests/fakes/bin/fake-cli`` (answers
"echo: <prompt>" in milliseconds). Three things then run at once:

* a **producer** queues ``--messages`` messages into ``queue/incoming`` at ``--rate``
  per second, spread over the actors and ``--chats`` conversations, the way listeners
  would;
* a **deliverer** plays the listeners' part: it takes each reply from
  ``queue/outgoing/cli``, checks it answers the right message, records it, and moves it
  to ``queue/sent/cli`` (the delivery ledger the worker consults before rerunning);
  a reply id it has delivered before is a **duplicate** (what a chat user would see);
* the **killer** runs ``python -m tinyclaw worker`` and SIGKILLs it ``--kills`` times:
  most kills when the delivered count crosses a random threshold (so they land in
  routing, while CLIs run, between reply and release), about a quarter within a second
  of a restart (kills during recovery). A supervisor's restart follows at once.

With ``--telegram``, ``--discord`` and ``--whatsapp`` (each a SHARE of the messages;
by default a fifth each) those messages arrive instead through the platform: users
write to the loopback fake of Telegram, Discord or WhatsApp, and a real listener
process (``python -m tinyclaw.channels PLATFORM``, started once every listener is
ready) queues them and sends the answers back to the fake. A second killer SIGKILLs
each listener ``--listener-kills`` times, when the count of messages written crosses
a random threshold (so kills land while messages arrive and answers go out), and
restarts it at once (``tests/chaos/listener.py``; one small module per platform). An answer
a fake received twice is reported as "resent": a listener killed after the platform
accepted a part, before it recorded that, sends that part again (no send API of the
three takes an idempotency key), so at most one resend per kill of that platform's
listener is the bound the run checks, per platform.

At the end the worker and the listeners are stopped with SIGTERM and the home is
audited: every message must have exactly one reply (files in ``outgoing/cli`` +
``sent/cli``; for a platform, one answer in the user's chat at its fake), the queue
must be empty apart from ``failed/`` entries that each carry a ``.reason``, and the
run journal must be empty. "Recovery" is the time from a worker kill to the first reply
written by a later worker (process start, crash recovery, first CLI run).

    .venv/bin/python -m tests.chaos                       # 2,000 messages, 20 + 3 x 5 kills
    .venv/bin/python -m tests.chaos --messages 150 --kills 4 --json
    .venv/bin/python -m tests.chaos --telegram 0 --discord 0 --whatsapp 0   # worker only
    .venv/bin/python -m tests.chaos --spool nats          # 3 NATS servers, 3 nodes, Telegram

``--spool nats`` is the same run with the queue in a three-server JetStream cluster,
three worker nodes and the Telegram listener, and SIGKILLs of NATS servers too
(``tests/chaos/nats.py``).

Exit status 0 when nothing was lost or doubled (beyond the resend bound) and the queue
is clean, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.chaos.ledger import CHANNEL, Expected, Ledger, audit, deliver_once
from tests.chaos.report import PLATFORMS, TITLES, print_table
from tests.support.paths import FAKE_CLI, REPO
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.spool import Spool

if TYPE_CHECKING:
    from tests.chaos.listener import ListenerSide


def write_config(
    home: Home, actors: int, max_attempts: int, backoff: float, extra: str = ""
) -> None:
    lines = [
        "[worker]",
        f"concurrency = {actors}",
        "scan_interval = 0.5",
        f"max_attempts = {max_attempts}",
        f"retry_backoff = {backoff}",
        "stop_timeout = 5",
        "",
        "[runners.claude]",
        f"command = {json.dumps(str(FAKE_CLI))}",
        "",
    ]
    for n in range(actors):
        lines += [f"[actors.a{n}]", 'runner = "claude"', ""]
    home.config_file.write_text("\n".join(lines) + extra, encoding="utf-8")


def produce(
    spool: Spool,
    expected: dict[str, Expected],
    args: argparse.Namespace,
    rng: random.Random,
    sides: list[tuple[ListenerSide, float]],
    done: threading.Event,
    arrived: list[int],
) -> None:
    """Queue ``args.messages`` messages at ``args.rate`` per second; each side's share
    of them is written to that platform's fake for its listener instead.
    ``arrived[0]`` counts the messages written so far."""
    start = time.monotonic()
    for n in range(args.messages):
        actor = f"a{rng.randrange(args.actors)}"
        chat = rng.randrange(args.chats)
        side = pick(sides, rng.random())
        if side is not None:
            side.send(n, actor, chat)
        else:
            body = f"message {n} in chat{chat}"
            msg = Inbound(
                id=unique_name(),
                channel=CHANNEL,
                chat_id=f"chat{chat}",
                sender=Sender(id=f"user{rng.randrange(5)}", name="Chaos"),
                text=f"@{actor} {body}",
            )
            expected[msg.id] = Expected(actor, f"echo: {body}", n)
            spool.put(msg)
        arrived[0] = n + 1
        if args.rate > 0:
            lag = start + (n + 1) / args.rate - time.monotonic()
            if lag > 0:
                time.sleep(lag)
    done.set()


def pick(sides: list[tuple[ListenerSide, float]], draw: float) -> ListenerSide | None:
    """The side whose share ``draw`` (uniform in [0, 1)) falls in; None: the CLI path."""
    for side, share in sides:
        if draw < share:
            return side
        draw -= share
    return None


def failed_ids(spool: Spool) -> set[str]:
    return {path.stem for path in spool.list_box(spool.failed)}


def deliver(
    spool: Spool, expected: dict[str, Expected], ledger: Ledger, stop: threading.Event
) -> None:
    while not stop.is_set():
        if not deliver_once(spool, expected, ledger):
            stop.wait(0.02)


class WorkerProcess:
    """``python -m tinyclaw worker`` against the chaos home (``--node NODE`` on NATS);
    stderr kept per life."""

    def __init__(self, home: Home, node: str | None = None) -> None:
        self.home = home
        self.node = node
        self.lives = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        self.lives += 1
        log = (self.home.logs / f"chaos-worker-{self.lives:03d}.stderr").open("wb")
        env = {**os.environ, "TINYCLAW_HOME": str(self.home.root)}
        env.pop("TINYCLAW_FAILPOINT", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tinyclaw",
                "worker",
                *(["--node", self.node] if self.node else []),
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        return time.time()

    def kill(self) -> float:
        assert self.proc is not None
        when = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return when

    def stop(self, timeout: float = 60) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def wait_until(predicate: Callable[[], bool], deadline: float, step: float = 0.01) -> bool:
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def share(args: argparse.Namespace, platform: str) -> float:
    return float(getattr(args, platform))


def kill_schedule(args: argparse.Namespace, rng: random.Random) -> list[int]:
    """When to kill the worker: thresholds of progress (answers delivered), in order."""
    return sorted(rng.sample(range(1, max(args.messages, args.kills + 1)), args.kills))


def listener_schedule(args: argparse.Namespace, rng: random.Random) -> list[tuple[int, str]]:
    """When to kill which listener: (messages written so far, platform), in order. A
    listener's own job is taking messages in while users write (and sending answers
    meanwhile), so its kills are spread over the arrivals, not over the answers."""
    targets = [p for p in PLATFORMS if share(args, p) > 0 for _ in range(args.listener_kills)]
    points = rng.sample(range(1, max(args.messages, len(targets) + 1)), len(targets))
    return sorted(zip(points, targets, strict=True))


def reached(counter: list[int], target: int) -> bool:
    return counter[0] >= target


def kill_listeners(
    sides: dict[str, ListenerSide],
    schedule: list[tuple[int, str]],
    arrived: list[int],
    rng: random.Random,
    deadline: float,
) -> None:
    for threshold, platform in schedule:
        if not wait_until(partial(reached, arrived, threshold), deadline):
            return
        time.sleep(rng.uniform(0.0, 0.05))
        sides[platform].restart()


def make_side(platform: str, home: Home, repo: Path) -> ListenerSide:
    """The side for ``platform``; imports only that platform's fake."""
    if platform == "telegram":
        from tests.chaos.telegram import TelegramSide

        return TelegramSide(home, repo)
    if platform == "discord":
        from tests.chaos.discord import DiscordSide

        return DiscordSide(home, repo)
    if platform == "whatsapp":
        from tests.chaos.whatsapp import WhatsAppSide

        return WhatsAppSide(home, repo)
    raise ValueError(f"unknown platform {platform!r}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="tinyclaw-chaos-"))
    home = Home(root.resolve())
    home.ensure()
    sides = {p: make_side(p, home, REPO) for p in PLATFORMS if share(args, p) > 0}
    extra = "".join(side.config() for side in sides.values())
    write_config(home, args.actors, args.max_attempts, args.backoff, extra)
    spool = Spool(home)
    expected: dict[str, Expected] = {}
    ledger = Ledger()
    produced, stop_delivery = threading.Event(), threading.Event()
    started = time.monotonic()
    deadline = started + args.timeout
    worker = WorkerProcess(home)
    worker.start()
    for side in sides.values():
        side.start()
    # Users start writing once every listener serves: a platform's gap at start-up is
    # not a kill's, and Discord keeps nothing for a bot that is not connected yet.
    wait_until(lambda: all(side.is_ready() for side in sides.values()), deadline, step=0.05)

    def progress(target: int) -> bool:
        return ledger.count + sum(side.delivered() for side in sides.values()) >= target

    shares = [(side, share(args, p)) for p, side in sides.items()]
    arrived = [0]
    producer = threading.Thread(
        target=produce,
        args=(spool, expected, args, random.Random(args.seed), shares, produced, arrived),
        daemon=True,
    )
    deliverer = threading.Thread(
        target=deliver, args=(spool, expected, ledger, stop_delivery), daemon=True
    )
    rng = random.Random(args.seed + 1)  # the kills' own, whatever the producer draws
    listener_killer = threading.Thread(
        target=kill_listeners,
        args=(sides, listener_schedule(args, rng), arrived, random.Random(rng.random()), deadline),
        daemon=True,
    )
    producer.start()
    deliverer.start()
    listener_killer.start()
    kill_times: list[float] = []
    early = 0
    for threshold in kill_schedule(args, rng):
        if rng.random() < args.early_fraction:
            time.sleep(rng.uniform(0.05, 1.0))  # the new worker is starting or recovering
            early += 1
        else:
            wait_until(partial(progress, threshold), deadline)
            time.sleep(rng.uniform(0.0, 0.05))
        if time.monotonic() > deadline:
            break
        kill_times.append(worker.kill())
        worker.start()
    producer.join(max(0.0, deadline - time.monotonic()))
    listener_killer.join(max(0.0, deadline - time.monotonic()))
    settled = wait_until(
        lambda: (
            ledger.count + len(failed_ids(spool) & expected.keys()) >= len(expected)
            and not spool.list_box(spool.outgoing(CHANNEL))
            and all(side.settled() for side in sides.values())
        ),
        deadline,
        step=0.05,
    )
    exit_code = worker.stop()
    listener_exits = {p: side.stop() for p, side in sides.items()}
    stop_delivery.set()
    deliverer.join(10)
    deliver_once(spool, expected, ledger)  # anything written while the worker stopped
    figures = audit(home, spool, expected, ledger, kill_times)
    figures["cli_messages"] = figures.pop("messages")
    platforms_ok = True
    for p, side in sides.items():
        figures.update(side.audit(), **{f"{p}_exit_on_sigterm": listener_exits[p]})
        platforms_ok = side.ok(figures, listener_exits[p]) and platforms_ok
        side.close()
    figures.update(
        messages=args.messages,
        lost=figures["lost"] + sum(figures[f"{p}_lost"] for p in sides),
        kills=len(kill_times),
        listener_kills=sum(side.kills for side in sides.values()),
        kills_during_startup=early,
        worker_lives=worker.lives,
        worker_exit_on_sigterm=exit_code,
        settled=settled,
        elapsed_s=round(time.monotonic() - started, 2),
        home=str(home.root),
    )
    figures["ok"] = (
        settled
        and platforms_ok  # per platform: none lost, at most one resend per listener kill
        and figures["lost"] == 0
        and figures["duplicated"] == 0
        and figures["wrong_replies"] == 0
        and figures["failed_without_reason"] == 0
        and figures["left_in_queue"] == 0
        and figures["left_in_journal"] == 0
        and exit_code == 0
    )
    if not args.keep and not args.home and figures["ok"]:
        shutil.rmtree(home.root, ignore_errors=True)
        figures["home"] = None
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--spool",
        choices=("file", "nats"),
        default="file",
        help="file: the home's folders, one worker; nats: a three-server JetStream "
        "cluster, three worker nodes and the Telegram listener (tests/chaos/nats.py)",
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20, help="worker SIGKILLs")
    parser.add_argument("--actors", type=int, default=None, help="4 (file), 6 (nats)")
    parser.add_argument("--chats", type=int, default=8)
    parser.add_argument(
        "--rate", type=float, default=None, help="messages queued per second: 100 (file), 25 (nats)"
    )
    parser.add_argument("--early-fraction", type=float, default=0.25)
    for platform in PLATFORMS:
        parser.add_argument(
            f"--{platform}",
            type=float,
            default=None,
            metavar="SHARE",
            help=f"share of messages sent through a real {TITLES[platform]} listener "
            "(loopback fake); 0 leaves that listener out (default 0.2 each; nats: "
            "Telegram 0.5 and no other)",
        )
    parser.add_argument(
        "--listener-kills", type=int, default=5, help="SIGKILLs of each listener in the run"
    )
    parser.add_argument("--max-attempts", type=int, default=3, help="worker.max_attempts")
    parser.add_argument("--backoff", type=float, default=0.5, help="worker.retry_backoff")
    nats = parser.add_argument_group("--spool nats")
    nats.add_argument("--server-kills", type=int, default=3, help="SIGKILLs of one NATS server")
    nats.add_argument(
        "--server-down", type=float, default=2.0, help="seconds a killed server stays down"
    )
    nats.add_argument(
        "--server-victim",
        choices=("any", "follower"),
        default="any",
        help="which server a server kill picks: any of the three, or one that does not "
        "lead the queue stream",
    )
    nats.add_argument("--claim-ttl", type=float, default=5.0, help="[spool] claim_ttl")
    nats.add_argument("--lease-ttl", type=float, default=3.0, help="[spool] lease_ttl")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--home", help="use this (empty) folder as the home and keep it")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway home")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    on_nats = args.spool == "nats"
    for platform in PLATFORMS:
        if getattr(args, platform) is None:
            setattr(args, platform, (0.5 if platform == "telegram" else 0.0) if on_nats else 0.2)
    if args.actors is None:
        args.actors = 6 if on_nats else 4
    if args.rate is None:
        args.rate = 25.0 if on_nats else 100.0
    if any(share(args, p) < 0 for p in PLATFORMS) or sum(share(args, p) for p in PLATFORMS) > 1:
        parser.error("each platform share must be >= 0 and together at most 1")
    if on_nats and (args.discord or args.whatsapp):
        parser.error("--spool nats runs the Telegram listener only (--discord 0 --whatsapp 0)")
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    if on_nats:
        from tests.chaos.nats import run_nats

        figures = run_nats(args)
    else:
        figures = run(args)
    figures["seed"] = args.seed
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        print_table(figures)
        print(f"seed {args.seed} (rerun with --seed to repeat the kill schedule)")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
