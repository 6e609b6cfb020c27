#!/usr/bin/env python3
"""Benchmark of the core pipeline: the worker's cost per message. Prints a table;
asserts nothing.

The driver works as a user's listener does: it stages message files on the same
filesystem and renames them into ``queue/incoming/``, then times until each complete
reply file is in ``queue/outgoing/cli/``. The worker is the real one, a separate
process (``python -m tinyclaw.worker``, what ``tinyclaw start`` runs), so its CPU
time is its own; the CLI is a one-line ``/bin/sh`` script that prints a claude result.

Every target of the table gets PASS or FAIL, the misses included. The limits are
measured in the same run, each next to the figures set against it:

* the fake CLI spawned 1-wide and 4-wide with nothing else (``subprocess.run``);
* 500 bare cycles of "tmp write + fsync + rename + read + reply write + fsync +
  rename", without and with the directory fsyncs a crash-safe queue needs;
* the serial limit of one actor: spawning 1-wide and the durable cycle, one after the
  other (1 / (1/spawn₁ + 1/durable)); the limit of four actors: spawning 4-wide and
  the durable cycle (1 / (1/spawn₄ + 1/durable));
* the floors of latency, CPU per message, start-up and idle RSS (``bench/floors.py``):
  one message's bare path (its durable steps and one spawn, in series) and an
  interpreter with only the unavoidable imports.

Each absolute target is printed with its floor or limit beside it and, where the
target lies beyond it, by how much: such a target cannot be met on this machine.

The 500-message rates are measured in ``--rounds`` rounds, each next to its limits;
the table shows the medians and the median of the per-round ratios (on a shared
machine the load changes within seconds).

Usage: .venv/bin/python -m bench.core [--rounds 3] [--backlog 10000]
(psutil comes with the test extra: ``pip install -e ".[test]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.floors import bare_path, pct, unavoidable_start, verdict
from tests.support.paths import REPO
from tinyclaw.core.fsutil import fsync_dir, unique_name, write_tmp
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender

# The one-line fake CLI: a claude result line, nothing else.
FAKE_CLI = (
    "#!/bin/sh\n"
    """printf '{"type":"result","subtype":"success","is_error":false,"result":"ok",'"""
    """'"session_id":"00000000-0000-4000-8000-000000000001","total_cost_usd":0}\\n'\n"""
)
ARGV_TAIL = ["-p", "--output-format", "stream-json", "--verbose", "--", "hello"]


def python_env(pycache: Path) -> dict[str, str]:
    """The environment of every Python the bench starts: this tree first on the path,
    and compiled bytecode kept (in ``pycache``) as an installed package has it. A
    shell with ``PYTHONDONTWRITEBYTECODE`` set would otherwise make each start
    compile every module again, a cost no installed worker pays."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_bytecode(pycache: Path) -> None:
    """Compile the worker's modules once, as installing the package does."""
    code = "import tinyclaw.worker.entry, tinyclaw.worker.assembly, tinyclaw.config"
    subprocess.run([sys.executable, "-c", code], env=python_env(pycache), cwd=REPO, check=True)


def make_home(root: Path, actors: int, cli: Path) -> Home:
    home = Home(root)
    home.ensure()
    lines = [
        "[worker]",
        f"concurrency = {actors}",
        "scan_interval = 5",
        "",
        "[sandbox]",  # the limits spawn the fake unconfined too
        'mode = "off"',
        "",
        "[runners.claude]",
        f"command = {json.dumps(str(cli))}",
        "",
    ]
    for i in range(actors):
        lines += [f"[actors.a{i}]", 'runner = "claude"', ""]
    home.config_file.write_text("\n".join(lines))
    return home


def message_bytes(actor: str, i: int) -> tuple[str, bytes]:
    m = Inbound(
        id=unique_name(),
        channel="cli",
        chat_id=f"c{i % 4}",
        sender=Sender(id="bench"),
        text=f"@{actor} message {i}",
    )
    return m.id, m.model_dump_json().encode()


@dataclass
class Worker:
    """A worker process serving one bench home, and the driver's view of it."""

    home: Home
    actors: int
    proc: subprocess.Popen[bytes] | None = None
    ps: psutil.Process | None = None
    staged: int = 0
    stage: Path = field(init=False)
    incoming: Path = field(init=False)
    outgoing: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stage = self.home.root / "stage"
        self.stage.mkdir(exist_ok=True)
        self.incoming = self.home.queue / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.outgoing = self.home.queue / "outgoing" / "cli"

    def prepare(self, n: int) -> list[str]:
        """Stage ``n`` message files (round robin over the actors), ready to rename.
        They are written back before the clock starts, as a listener's fsynced puts
        are: the worker's first fsync must not pay for the driver's dirty pages."""
        ids = []
        for i in range(n):
            mid, body = message_bytes(f"a{(self.staged + i) % self.actors}", i)
            (self.stage / f"{mid}.json").write_bytes(body)
            ids.append(mid)
        self.staged += n
        os.sync()
        return ids

    def drop(self, ids: list[str]) -> None:
        for mid in ids:
            os.rename(self.stage / f"{mid}.json", self.incoming / f"{mid}.json")

    def start(self) -> float:
        pycache = self.home.root.parent / "pycache"
        env = {**python_env(pycache), "TINYCLAW_HOME": str(self.home.root)}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tinyclaw.worker"],
            cwd=REPO,  # `-m` puts the working folder first on the path: this tree's code
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ps = psutil.Process(self.proc.pid)
        return t0

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(60)
            self.proc = None

    def cpu(self) -> float:
        assert self.ps is not None
        times = self.ps.cpu_times()
        return times.user + times.system

    def replies(self) -> int:
        try:
            return len(os.listdir(self.outgoing))
        except FileNotFoundError:
            return 0

    def wait_replies(
        self, total: int, interval: float, timeout: float = 900
    ) -> list[tuple[float, int]]:
        """Poll until ``total`` replies are out; (time, count) samples on the way."""
        samples = []
        deadline = time.perf_counter() + timeout
        while True:
            count = self.replies()
            now = time.perf_counter()
            samples.append((now, count))
            if count >= total:
                return samples
            if now > deadline:
                raise TimeoutError(f"{count} of {total} replies")
            time.sleep(interval)

    def wait_ready(self) -> None:
        """One message through, so the worker is warm."""
        ids = self.prepare(1)
        before = self.replies()
        self.drop(ids)
        self.wait_replies(before + 1, 0.005, timeout=60)


def burst(worker: Worker, n: int) -> tuple[float, float]:
    """``n`` messages renamed in at once → all replies out: (msg/s, worker CPU ms/msg)."""
    ids = worker.prepare(n)
    before = worker.replies()
    cpu0 = worker.cpu()
    t0 = time.perf_counter()
    worker.drop(ids)
    samples = worker.wait_replies(before + n, 0.002)
    elapsed = samples[-1][0] - t0
    return n / elapsed, (worker.cpu() - cpu0) * 1000 / n


def small_bursts(worker: Worker, bursts: int, size: int) -> float:
    """Worker CPU ms per message with only ``size`` queued at a time."""
    total = 0.0
    for _ in range(bursts):
        ids = worker.prepare(size)
        before = worker.replies()
        cpu0 = worker.cpu()
        worker.drop(ids)
        worker.wait_replies(before + size, 0.002)
        total += worker.cpu() - cpu0
    return total * 1000 / (bursts * size)


def latency(worker: Worker, n: int) -> tuple[float, float]:
    """One message at a time, at a random phase: rename → reply file, p50 and p99 ms."""
    rng = random.Random(14)
    samples = []
    for _ in range(n):
        ids = worker.prepare(1)
        target = worker.outgoing / f"{ids[0]}.json"
        time.sleep(rng.uniform(0.005, 0.05))
        t0 = time.perf_counter()
        worker.drop(ids)
        while not target.exists():
            time.sleep(0.0001)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), pct(samples, 0.99)


def start_to_answer(tmp: Path, cli: Path, runs: int) -> tuple[float, float]:
    """A message waits in incoming/; the worker process starts: ms until its reply.
    Also the idle RSS (MB) of the last worker, 3 s after."""
    times, rss = [], 0.0
    for r in range(runs):
        worker = Worker(make_home(tmp / f"start{r}", 1, cli), 1)
        ids = worker.prepare(1)
        worker.drop(ids)
        t0 = worker.start()
        target = worker.outgoing / f"{ids[0]}.json"
        deadline = t0 + 60
        while not target.exists():
            if time.perf_counter() > deadline:
                raise TimeoutError("no answer after start")
            time.sleep(0.0005)
        times.append((time.perf_counter() - t0) * 1000)
        if r == runs - 1:
            time.sleep(3)
            assert worker.ps is not None
            rss = worker.ps.memory_info().rss / 1e6
        worker.stop()
    return statistics.median(times), rss


def interpreter_floor(code: str, pycache: Path, runs: int = 3) -> float:
    """ms for ``python -c code`` from this tree: what any Python worker pays to start."""
    env = python_env(pycache)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def backlog(tmp: Path, cli: Path, n: int) -> dict[str, float]:
    """``n`` messages queued before the worker starts, 1 actor: the drain."""
    worker = Worker(make_home(tmp / "backlog", 1, cli), 1)
    worker.drop(worker.prepare(n))
    os.sync()
    t_spawn = worker.start()
    samples = worker.wait_replies(1, 0.01)
    t_first, cpu_first = samples[-1][0], worker.cpu()
    samples = worker.wait_replies(n, 0.05)
    t_last = samples[-1][0]
    cpu = (worker.cpu() - cpu_first) * 1000 / n
    half = next(t for t, count in samples if count >= n // 2)
    worker.stop()
    first, second = (n // 2) / (half - t_first), (n - n // 2) / (t_last - half)
    return {
        "rate": n / (t_last - t_first),
        "with_start": n / (t_last - t_spawn),
        "first": first,
        "second": second,
        "cpu": cpu,
    }


def spawn_rate(cli: Path, n: int, width: int) -> float:
    argv = [str(cli), *ARGV_TAIL]
    env = {"PATH": os.environ["PATH"]}

    def once(_: int) -> None:
        subprocess.run(
            argv,
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=True,
            start_new_session=True,
        )

    t0 = time.perf_counter()
    with ThreadPoolExecutor(width) as pool:
        list(pool.map(once, range(n)))
    return n / (time.perf_counter() - t0)


def file_cycles(tmp: Path, n: int, *, dir_fsync: bool) -> float:
    """``n`` bare cycles: tmp write + fsync + rename + read + reply write + fsync +
    rename (+ an fsync of each directory renamed into, with ``dir_fsync``)."""
    root = Path(tempfile.mkdtemp(prefix="cycles-", dir=tmp))
    tmpd, box, out = root / "tmp", root / "box", root / "out"
    for d in (tmpd, box, out):
        d.mkdir()
    _, body = message_bytes("a0", 0)
    t0 = time.perf_counter()
    for i in range(n):
        name = f"{i:08d}.json"
        os.rename(write_tmp(tmpd, body), box / name)
        if dir_fsync:
            fsync_dir(box)
        (box / name).read_bytes()
        os.rename(write_tmp(tmpd, body), out / name)
        if dir_fsync:
            fsync_dir(out)
    return n / (time.perf_counter() - t0)


@dataclass(frozen=True)
class Row:
    """A line of the table: a figure, its target with PASS/FAIL (``ok`` None: context
    only), and the floor or limit of this machine beside it."""

    label: str
    value: str
    target: str = ""
    ok: bool | None = None
    floor: str = ""


def serial(*rates: float) -> float:
    """The rate of doing each step one after the other."""
    return 1 / sum(1 / r for r in rates)


def rounds(count: int, measure: Callable[[int], dict[str, float]]) -> dict[str, float]:
    """``measure`` ``count`` times; the median of every figure (ratios are figures
    too, computed inside each round)."""
    results = [measure(r) for r in range(count)]
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the 500-message rates")
    parser.add_argument("--backlog", type=int, default=10_000, help="messages queued before start")
    parser.add_argument("--latency", type=int, default=200, help="messages timed one by one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinyclaw-bench-") as name:
        tmp = Path(name)
        cli = tmp / "fake-claude"
        cli.write_text(FAKE_CLI)
        cli.chmod(0o755)
        warm_bytecode(tmp / "pycache")
        start_ms, rss = start_to_answer(tmp, cli, 3)
        bare_python = interpreter_floor("pass", tmp / "pycache")
        config_import = interpreter_floor("import tinyclaw.config", tmp / "pycache")
        imports_ms, rss_floor = unavoidable_start(python_env(tmp / "pycache"))
        one = Worker(make_home(tmp / "one", 1, cli), 1)
        four = Worker(make_home(tmp / "four", 4, cli), 4)
        try:
            for w in (one, four):
                w.start()
                w.wait_ready()
            p50, p99 = latency(one, args.latency)
            cpu_small = small_bursts(one, 30, 10)
            path = bare_path(tmp, [str(cli), *ARGV_TAIL], message_bytes("a0", 0)[1], args.latency)

            def measure(_: int) -> dict[str, float]:
                spawn1, spawn4 = spawn_rate(cli, 200, 1), spawn_rate(cli, 400, 4)
                bare = file_cycles(tmp, 500, dir_fsync=False)
                durable = file_cycles(tmp, 500, dir_fsync=True)
                os.sync()  # the cycles' files written back: the worker's fsyncs pay for its own
                rate1, cpu1 = burst(one, 500)
                rate4, cpu4 = burst(four, 500)
                limit1, limit4 = serial(spawn1, durable), serial(spawn4, durable)
                return {
                    "spawn1": spawn1,
                    "spawn4": spawn4,
                    "bare": bare,
                    "durable": durable,
                    "limit1": limit1,
                    "limit4": limit4,
                    "rate1": rate1,
                    "rate4": rate4,
                    "cpu1": cpu1,
                    "cpu4": cpu4,
                    "r1": rate1 / limit1,
                    "r4": rate4 / limit4,
                }

            m = rounds(args.rounds, measure)
        finally:
            one.stop()
            four.stop()
        big = backlog(tmp, cli, args.backlog)
    swing = big["second"] / big["first"] - 1
    cpu_spread = big["cpu"] / cpu_small - 1
    start_floor = imports_ms + path.p50  # the unavoidable imports, then one bare path
    rows: list[Row] = [
        Row(
            "500 at once, 4 actors",
            f"{m['rate4']:.0f} msg/s",
            "≥ 600 msg/s",
            m["rate4"] >= 600,
            verdict(600, m["limit4"], "msg/s", higher_is_better=True),
        ),
        Row(
            "  of the limit (spawn 4-wide + durable ops)",
            f"{m['r4']:.0%} of {m['limit4']:.0f}",
            "≥ 50 %",
            m["r4"] >= 0.5,
        ),
        Row(
            "500 at once, 1 actor",
            f"{m['rate1']:.0f} msg/s",
            "≥ 300 msg/s",
            m["rate1"] >= 300,
            verdict(300, m["limit1"], "msg/s", higher_is_better=True),
        ),
        Row(
            "  of the serial limit (spawn 1-wide + durable ops)",
            f"{m['r1']:.0%} of {m['limit1']:.0f}",
            "≥ 70 %",
            m["r1"] >= 0.7,
        ),
        Row(
            f"backlog of {args.backlog:,} queued before start, 1 actor",
            f"{big['rate']:.0f} msg/s",
            "≥ 300 msg/s",
            big["rate"] >= 300,
            verdict(300, m["limit1"], "msg/s", higher_is_better=True),
        ),
        Row(
            "  second half vs. first half",
            f"{big['second']:.0f} vs. {big['first']:.0f} = {swing:+.0%}",
            "≤ +20 %",
            swing <= 0.2,
        ),
        Row("  (including start-up and routing)", f"{big['with_start']:.0f} msg/s"),
        Row(
            "worker CPU per message, 10 queued",
            f"{cpu_small:.2f} ms",
            "≤ 2.5 ms",
            cpu_small <= 2.5,
            verdict(2.5, path.cpu, "ms"),
        ),
        Row(
            f"worker CPU per message, {args.backlog:,} queued",
            f"{big['cpu']:.2f} ms ({cpu_spread:+.0%})",
            "≤ 2.5, ±20 %",
            big["cpu"] <= 2.5 and abs(cpu_spread) <= 0.2,
            verdict(2.5, path.cpu, "ms"),
        ),
        Row("  (500 at once, 1 / 4 actors)", f"{m['cpu1']:.2f} / {m['cpu4']:.2f} ms"),
        Row(
            "latency, random phase, p50",
            f"{p50:.2f} ms",
            "≤ 3 ms",
            p50 <= 3,
            verdict(3, path.p50, "ms"),
        ),
        Row(
            "latency, random phase, p99",
            f"{p99:.2f} ms",
            "≤ 15 ms",
            p99 <= 15,
            verdict(15, path.p99, "ms"),
        ),
        Row(
            "start → first waiting message answered",
            f"{start_ms:.0f} ms",
            "≤ 200 ms",
            start_ms <= 200,
            verdict(200, start_floor, "ms"),
        ),
        Row(
            "  (python alone / + unavoidable imports / + one bare path)",
            f"{bare_python:.0f} / {imports_ms:.0f} / {start_floor:.0f} ms",
        ),
        Row("  (importing the configuration)", f"{config_import:.0f} ms"),
        Row("idle RSS", f"{rss:.1f} MB", "≤ 40 MB", rss <= 40, verdict(40, rss_floor, "MB")),
        Row("limit: fake spawned 1-wide", f"{m['spawn1']:.0f} /s"),
        Row("limit: fake spawned 4-wide", f"{m['spawn4']:.0f} /s"),
        Row("limit: 500 bare file cycles", f"{m['bare']:.0f} /s"),
        Row("limit: the same with directory fsyncs", f"{m['durable']:.0f} /s"),
        Row(
            "floor: one message's bare path, p50 / p99",
            f"{path.p50:.1f} / {path.p99:.1f} ms",
            floor=f"CPU {path.cpu:.2f} ms",
        ),
    ]
    width = max(len(r.label) for r in rows)
    print(f"{'figure':<{width}}  {'measured':>22}  {'target':>12}        floor or limit here")
    for r in rows:
        mark = "" if r.ok is None else ("PASS" if r.ok else "FAIL")
        print(f"{r.label:<{width}}  {r.value:>22}  {r.target:>12}  {mark:4}  {r.floor}".rstrip())


if __name__ == "__main__":
    main()
