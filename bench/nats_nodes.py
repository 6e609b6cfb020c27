"""Whole messages through real worker processes, on NATS and on files: the part of
``bench.nats`` that starts ``tinyclaw worker`` processes.

* **throughput with 1, 2 and 3 worker nodes**: one ``nats-server``, a home per node
  (each node is a machine: its own lock, logs and state) with the same
  ``tinyclaw.toml``: ``[spool] backend = "nats"``, the actors spread evenly over
  ``[nodes.n1..nK]``, ``[worker] concurrency`` runs in parallel per node, and a
  claude CLI that sleeps 50 ms and prints its result, so the work is the CLI's and
  not the spool's. A node is a machine with room for ``concurrency`` CLI runs at a
  time; the actors outnumber the runs of all nodes together, so the per-actor serial
  rule never caps a node and the ideal is ``nodes × concurrency / 50 ms``. The
  messages are queued into incoming, as a listener does (each is routed by the node
  that runs its actor), and the clock runs from the first put until the last reply
  is written. Each burst is
  measured beside the same CLI run as wide by a thread pool with no worker (the
  machine's own limit), and beside one worker on files with the same actors and runs;
* **latency of a whole message**, one at a time: queued (as a listener puts it) →
  its reply written, seen the way a listener's delivery sees it (the inotify watcher
  on files, the subscription on NATS), through ``tinyclaw worker`` and an instant
  CLI, on each backend;
* **the resident memory of an idle worker** on each backend, after it served those
  messages.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.core import FAKE_CLI, python_env, spawn_rate
from tests.support.messages import message
from tests.support.paths import REPO
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool, open_spool, watch_replies

CLI_SECONDS = 0.05  # what the slow fake CLI sleeps per run


def write_cli(folder: Path, seconds: float) -> Path:
    """bench.core's one-line fake claude, sleeping ``seconds`` first (0: instant)."""
    cli = folder / f"claude-{seconds:g}s"
    sleep = f"sleep {seconds:g}\n" if seconds else ""
    cli.write_text(FAKE_CLI.replace("#!/bin/sh\n", f"#!/bin/sh\n{sleep}", 1))
    cli.chmod(0o755)
    return cli


def home_config(
    cli: Path,
    actors: list[str],
    *,
    parallel: int,
    nats: tuple[str, str] | None = None,
    nodes: dict[str, list[str]] | None = None,
) -> str:
    """A tinyclaw.toml: the fake CLI, ``parallel`` runs at a time, and the queue on
    NATS (``nats``: the server's URL and the stream prefix) or on files."""
    lines = [
        "[worker]",
        f"concurrency = {parallel}",
        "scan_interval = 5",
        "retry_backoff = 0",
        "stop_timeout = 0.5",
        "",
        "[sandbox]",
        'mode = "off"',
        "",
        "[runners.claude]",
        f"command = {json.dumps(str(cli))}",
        "",
    ]
    if nats is not None:
        url, prefix = nats
        lines += ["[spool]", 'backend = "nats"', f"servers = [{json.dumps(url)}]"]
        lines += [f'stream_prefix = "{prefix}"', ""]
    for node, owned in (nodes or {}).items():
        lines += [f"[nodes.{node}]", f"actors = {json.dumps(owned)}", ""]
    for actor in actors:
        lines += [f"[actors.{actor}]", 'runner = "claude"', ""]
    return "\n".join(lines)


def make_home(root: Path, config: str) -> Home:
    home = Home(root)
    home.ensure()
    home.config_file.write_text(config, encoding="utf-8")
    return home


@dataclass
class WorkerNode:
    """One ``tinyclaw worker`` process (``--node NAME`` on NATS with nodes)."""

    home: Home
    node: str | None
    pycache: Path
    proc: subprocess.Popen[bytes] = field(init=False)
    ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        log = (self.home.root / "worker.stderr").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tinyclaw",
                "worker",
                *(["--node", self.node] if self.node else []),
            ],
            cwd=REPO,  # `-m` puts this tree first on the path
            env={**python_env(self.pycache), "TINYCLAW_HOME": str(self.home.root)},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        self.ps = psutil.Process(self.proc.pid)

    def cpu(self) -> tuple[float, float]:
        """Seconds of CPU: the worker's own, and its CLIs' (children it has reaped)."""
        t = self.ps.cpu_times()
        return t.user + t.system, t.children_user + t.children_system

    def rss_mb(self) -> float:
        return float(self.ps.memory_info().rss) / 1e6

    def check(self) -> None:
        if self.proc.poll() is not None:
            tail = (self.home.root / "worker.stderr").read_text(errors="replace")[-1500:]
            raise RuntimeError(
                f"the worker {self.node or ''} exited ({self.proc.returncode}):\n{tail}"
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Arrivals:
    """When a reply was last written, as a listener's delivery learns it: the
    inotify watcher on ``queue/outgoing/cli/``, or the subscription on NATS."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.at = 0.0

    def wake(self) -> None:
        self.at = time.perf_counter()
        self.event.set()


def reply_counter(spool: Any) -> Callable[[], int]:
    """How many replies are written: files in ``queue/outgoing/cli/``, or the
    messages of the replies stream on NATS (it keeps one per message id)."""
    if isinstance(spool, Spool):
        folder = spool.outgoing("cli")
        return lambda: len(os.listdir(folder)) if folder.is_dir() else 0

    def on_nats() -> int:
        js = spool.conn.js
        info = spool.conn.call(js.stream_info(spool.layout.replies), "count replies")
        return int(info.state.messages)

    return on_nats


def wait_replies(
    count: Callable[[], int], total: int, workers: list[WorkerNode], timeout: float
) -> None:
    """Look every 50 ms until ``total`` replies are written."""
    deadline = time.perf_counter() + timeout
    while (done := count()) < total:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{done} of {total} replies written within {timeout:g} s")
        for worker in workers:
            worker.check()
        time.sleep(0.05)


def server_requests(server: Any) -> int:
    """Messages nats-server received from its clients so far (``/varz`` in_msgs):
    publishes, stream and key-value requests, acknowledgements."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/varz", timeout=5) as r:
        return int(json.load(r)["in_msgs"])


@dataclass
class Throughput:
    nodes: int
    rate: float  # msg/s
    elapsed: float  # s
    worker_cpu: float  # CPU seconds of the worker processes
    cli_cpu: float  # CPU seconds of their CLI runs
    server_cpu: float  # CPU seconds of nats-server
    driver_cpu: float  # CPU seconds of this process (the puts, the counting)
    machine_busy: float  # share of every core busy, whoever used it
    requests: float  # messages into nats-server per message served (0 on files)
    cli_alone: float  # msg/s of the CLI run as wide by a pool, no worker: the limit

    def cores(self) -> float:
        """Cores the bench's own processes kept busy on average."""
        used = self.worker_cpu + self.cli_cpu + self.server_cpu + self.driver_cpu
        return used / self.elapsed


def cpu_seconds(ps: psutil.Process) -> float:
    t = ps.cpu_times()
    return float(t.user + t.system)


def throughput(
    tmp: Path,
    server: Any,
    nodes: int,
    *,
    actors: int,
    parallel: int,
    messages: int,
    tag: str,
    pycache: Path,
    backend: str = "nats",
) -> Throughput:
    """``messages`` messages over ``actors`` actors served by ``nodes`` nodes (on
    files: one worker, ``nodes`` must be 1), timed from the first put until the
    last reply is written (its wake-up's time, as a listener would see it)."""
    names = [f"a{i}" for i in range(actors)]
    prefix = f"tput-{tag}-{backend}-{nodes}"
    cli = write_cli(tmp, CLI_SECONDS)
    if backend == "nats":
        layout: dict[str, list[str]] = {f"n{j + 1}": names[j::nodes] for j in range(nodes)}
        nats = (server.url, prefix)
    else:
        layout, nats = {"": names}, None
    config = home_config(
        cli, names, parallel=parallel, nats=nats, nodes=layout if nats is not None else None
    )
    homes = [make_home(tmp / f"{prefix}-{node}", config) for node in layout]
    spool: Any = open_spool(homes[0], load_config(homes[0]))
    count = reply_counter(spool)
    arrivals = Arrivals()
    stop_watching = watch_replies(spool, "cli", arrivals.wake)
    workers = [WorkerNode(h, n or None, pycache) for h, n in zip(homes, layout, strict=True)]
    others = [psutil.Process(server.process.pid), psutil.Process()]
    try:
        for name in names:  # warm: every node connected, every actor run once
            spool.put(message(f"@{name} warm up"))
        wait_replies(count, actors, workers, timeout=120)
        width = parallel * nodes
        alone = spawn_rate(cli, 20 * width, width)  # the same load, minus the queue
        cpu0 = [w.cpu() for w in workers]
        others0 = [cpu_seconds(p) for p in others]
        machine0, requests0 = psutil.cpu_times(), server_requests(server)
        t0 = time.perf_counter()
        for i in range(messages):
            spool.put(message(f"@{names[i % actors]} message {i}"))
        wait_replies(count, actors + messages, workers, timeout=max(120, messages))
        t1 = arrivals.at if arrivals.at > t0 else time.perf_counter()
        machine1, requests1 = psutil.cpu_times(), server_requests(server)
        cpu1 = [w.cpu() for w in workers]
        server_cpu, driver_cpu = (cpu_seconds(p) - c for p, c in zip(others, others0, strict=True))
        busy = 1 - (machine1.idle - machine0.idle) / (sum(machine1) - sum(machine0))
        return Throughput(
            nodes=nodes,
            rate=messages / (t1 - t0),
            elapsed=t1 - t0,
            worker_cpu=sum(b[0] - a[0] for a, b in zip(cpu0, cpu1, strict=True)),
            cli_cpu=sum(b[1] - a[1] for a, b in zip(cpu0, cpu1, strict=True)),
            server_cpu=server_cpu,
            driver_cpu=driver_cpu,
            machine_busy=busy,
            requests=(requests1 - requests0) / messages if nats is not None else 0.0,
            cli_alone=alone,
        )
    finally:
        for worker in workers:
            worker.stop()
        stop_watching()
        if nats is not None:
            spool.close()
            spool.conn.close()


@dataclass
class Served:
    """One backend's whole-message latencies (ms) and its idle worker's RSS (MB)."""

    latencies: list[float]
    idle_rss: float


def whole_trips(
    tmp: Path,
    backend: str,
    server_url: str,
    count: int,
    *,
    pycache: Path,
    idle_seconds: float = 3.0,
) -> Served:
    """``count`` messages, one at a time at a random phase, each from the start of
    its put (as a listener queues it) to its reply written, through ``tinyclaw
    worker`` on ``backend`` ("file" or "nats"). The wake-up's own time is the
    reply's: the check that the reply is there costs a NATS round trip, not counted."""
    cli = write_cli(tmp, 0)
    nats = (server_url, "latency") if backend == "nats" else None
    home = make_home(tmp / f"latency-{backend}", home_config(cli, ["a0"], parallel=1, nats=nats))
    spool: Any = open_spool(home, load_config(home))
    arrivals = Arrivals()
    stop_watching = watch_replies(spool, "cli", arrivals.wake)
    worker = WorkerNode(home, None, pycache)
    rng = random.Random(15)
    samples: list[float] = []
    try:
        for i in range(count + 5):  # the first five warm the worker up
            asked = message(f"@a0 message {i}")
            time.sleep(rng.uniform(0.005, 0.05))
            arrivals.event.clear()
            t0 = time.perf_counter()
            spool.put(asked)
            while not spool.reply_exists("cli", asked.id):
                arrivals.event.wait(0.05)
                arrivals.event.clear()
                if time.perf_counter() > t0 + 60:
                    worker.check()
                    raise TimeoutError(f"no reply on {backend} within 60 s")
            written = arrivals.at if arrivals.at > t0 else time.perf_counter()
            if i >= 5:
                samples.append((written - t0) * 1000)
        time.sleep(idle_seconds)
        return Served(samples, worker.rss_mb())
    finally:
        worker.stop()
        stop_watching()
        if backend == "nats":
            spool.close()
            spool.conn.close()
