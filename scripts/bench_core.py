#!/usr/bin/env python3
"""Benchmark of the core pipeline (issue 2). Prints a table; asserts nothing.

Every figure is set against a floor measured in the same run, so it means the same on
a quiet laptop and a loaded CI box:

* latency added at low load — a file lands in incoming/ → the CLI starts, and the CLI
  exits → the reply is in outgoing/ — minus the bare cost of spawning that CLI; and
  the same workload through a 1-second polling loop (the design this replaces);
* throughput with an in-process no-op runner vs. the same file operations (write,
  fsync, rename, unlink) timed alone;
* throughput with a trivial CLI across 8 actors vs. merely spawning it 8-wide;
* idle RSS and CPU of a `tinyclaw worker` process;
* an actor's outbox file → its notice queued in outgoing/ (the worker watches the
  outbox; its timed scan runs every 5 s here).

Usage: .venv/bin/python scripts/bench_core.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAKE_CLI = REPO / "scripts" / "fake-cli"
sys.path.insert(0, str(REPO))

from tinyclaw.config import load_config  # noqa: E402
from tinyclaw.fsutil import fsync_dir, unique_name, write_tmp  # noqa: E402
from tinyclaw.home import Home  # noqa: E402
from tinyclaw.messages import Inbound, Sender  # noqa: E402
from tinyclaw.runners import RunRequest, RunResult  # noqa: E402
from tinyclaw.runtime import build_runners  # noqa: E402
from tinyclaw.schedule.service import build_services  # noqa: E402
from tinyclaw.spool import Spool  # noqa: E402
from tinyclaw.worker.loop import Worker  # noqa: E402

# A claude stand-in in bash: it records when it starts and when it is about to exit
# (EPOCHREALTIME needs no extra process), then prints a claude-style result line.
BENCH_CLI = r"""#!/bin/bash
echo "start $EPOCHREALTIME $$" >> "$BENCH_LOG"
printf '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"00000000-0000-4000-8000-000000000001","total_cost_usd":0}\n'
echo "end $EPOCHREALTIME $$" >> "$BENCH_LOG"
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_home(root: Path, actors: int, cli: Path, log: Path, concurrency: int = 8) -> Home:
    home = Home(root)
    home.ensure()
    lines = [
        "[worker]",
        f"concurrency = {concurrency}",
        "scan_interval = 5",
        "",
        "[runners.claude]",
        f"command = {json.dumps(str(cli))}",
        f"env = {{ BENCH_LOG = {json.dumps(str(log))} }}",
        "",
    ]
    for i in range(actors):
        lines += [f"[actors.a{i}]", 'runner = "claude"', ""]
    home.config_file.write_text("\n".join(lines))
    return home


def message(actor: str, i: int) -> Inbound:
    return Inbound(
        id=unique_name(),
        channel="cli",
        chat_id=f"c{i % 4}",
        sender=Sender(id="bench"),
        text=f"@{actor} message {i}",
    )


def serve(
    home: Home, runners: dict[str, object] | None = None, *, services: bool = False
) -> tuple[Worker, threading.Event, threading.Thread]:
    """A worker thread (with the schedule and outbox services if ``services``)."""
    config = load_config(home)
    spool = Spool(home)
    worker = Worker(
        home,
        config,
        runners or build_runners(home, config),  # type: ignore[arg-type]
        spool=spool,
        services=build_services(home, config, spool) if services else (),
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    return worker, stop, thread


def wait_file(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.0002)


def read_log(log: Path) -> tuple[list[float], list[float]]:
    starts, ends = [], []
    for line in log.read_text().splitlines():
        kind, stamp, _pid = line.split()
        (starts if kind == "start" else ends).append(float(stamp))
    return starts, ends


def spawn_floor(cli: Path, log: Path, n: int) -> list[float]:
    """Popen → the script's first line: what spawning alone costs."""
    env = {"PATH": os.environ["PATH"], "BENCH_LOG": str(log)}
    samples = []
    for _ in range(n):
        log.write_text("")
        t0 = time.time()
        subprocess.run(
            [str(cli)], env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, check=True
        )
        starts, _ = read_log(log)
        samples.append(starts[0] - t0)
    return samples


def bench_latency(tmp: Path, cli: Path, n: int) -> dict[str, float]:
    log = tmp / "lat.log"
    log.write_text("")
    home = make_home(tmp / "lat", 1, cli, log)
    spool = Spool(home)
    worker, stop, thread = serve(home)
    puts, replies = [], []
    try:
        for i in range(n):
            m = message("a0", i)
            t0 = time.time()
            spool.put(m)
            puts.append(t0)
            path = spool.outgoing("cli") / f"{m.id}.json"
            wait_file(path)  # polls every 0.2 ms; a file's mtime is too coarse here
            replies.append(time.time())
    finally:
        stop.set()
        worker.wake.set()
        thread.join()
    starts, ends = read_log(log)
    floor = spawn_floor(cli, tmp / "floor.log", min(n, 100))
    floor_p50 = statistics.median(floor)
    added_in = [s - p - floor_p50 for s, p in zip(starts, puts, strict=True)]
    added_out = [r - e for r, e in zip(replies, ends, strict=True)]
    return {
        "in_p50": statistics.median(added_in) * 1000,
        "in_p99": pct(added_in, 0.99) * 1000,
        "out_p50": statistics.median(added_out) * 1000,
        "out_p99": pct(added_out, 0.99) * 1000,
        "spawn_floor_p50": floor_p50 * 1000,
        "raw_in_p50": statistics.median([s - p for s, p in zip(starts, puts, strict=True)]) * 1000,
    }


def bench_polling(tmp: Path, cli: Path, n: int) -> float:
    """The design this replaces: look at the folder once a second."""
    box = tmp / "poll"
    box.mkdir()
    log = tmp / "poll.log"
    log.write_text("")
    env = {"PATH": os.environ["PATH"], "BENCH_LOG": str(log)}
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for path in sorted(box.glob("*.json")):
                subprocess.run(
                    [str(cli)], env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
                )
                path.rename(path.with_suffix(".done"))
            stop.wait(1.0)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    puts = []
    for i in range(n):
        puts.append(time.time())
        (box / f"{i:06d}.json").write_text("{}")
        wait_file(box / f"{i:06d}.done")
        time.sleep(0.137)  # arrivals not aligned with the poll
    stop.set()
    thread.join()
    starts, _ = read_log(log)
    return statistics.median([s - p for s, p in zip(starts, puts, strict=True)]) * 1000


class NoopRunner:
    kind = "claude"

    def run(self, request: RunRequest, on_event: object = None, cancel: object = None) -> RunResult:
        return RunResult(text="ok", session_id=None, ok=True, exit_code=0, duration_s=0.0)


def file_ops_floor(tmp: Path, n: int) -> float:
    """The spool's own steps per message, timed alone: put (write, fsync, rename), route
    and claim (two renames), reply (write, fsync, rename), complete (unlink), each
    rename or unlink made durable with a directory fsync, as the spool does."""
    dirs = [tmp / "ops" / d for d in ("tmp", "a", "b", "c", "out")]
    for d in dirs:
        d.mkdir(parents=True)
    tmpd, a, b, c, out = dirs
    body = message("a0", 0).model_dump_json().encode()
    t0 = time.perf_counter()
    for i in range(n):
        name = f"{i:08d}.json"
        os.rename(write_tmp(tmpd, body), a / name)
        fsync_dir(a)
        os.rename(a / name, b / name)
        fsync_dir(b)
        os.rename(b / name, c / name)
        fsync_dir(c)
        os.rename(write_tmp(tmpd, body), out / name)
        fsync_dir(out)
        os.unlink(c / name)
        fsync_dir(c)
    return n / (time.perf_counter() - t0)


def drain_rate(
    home: Home, msgs: list[Inbound], runners: dict[str, object] | None, *, count_puts: bool
) -> float:
    """Messages per second through a worker; with ``count_puts`` the clock includes
    queueing them (the no-op floor has that step too), else only the worker's drain."""
    spool = Spool(home)
    t0 = time.perf_counter()
    for m in msgs:
        spool.put(m)
    if not count_puts:
        t0 = time.perf_counter()
    worker, stop, thread = serve(home, runners)
    last = spool.outgoing("cli")
    try:
        for m in msgs:
            wait_file(last / f"{m.id}.json", timeout=600)
    finally:
        stop.set()
        worker.wake.set()
        thread.join()
    return len(msgs) / (time.perf_counter() - t0)


def bench_noop(tmp: Path, cli: Path, n: int) -> tuple[float, float]:
    home = make_home(tmp / "noop", 8, cli, tmp / "noop.log")
    msgs = [message(f"a{i % 8}", i) for i in range(n)]
    rate = drain_rate(home, msgs, {"claude": NoopRunner()}, count_puts=True)
    return rate, file_ops_floor(tmp, n)


def bench_spawn8(tmp: Path, cli: Path, n: int) -> tuple[float, float]:
    """``cli`` 8-wide through 8 actors vs. merely spawning it 8 at a time."""
    home = make_home(tmp / f"w8-{cli.name}", 8, cli, tmp / "w8.log")
    msgs = [message(f"a{i % 8}", i) for i in range(n)]
    rate = drain_rate(home, msgs, None, count_puts=False)
    env = {"PATH": os.environ["PATH"], "BENCH_LOG": str(tmp / "floor8.log")}
    argv = [str(cli), "-p", "--output-format", "stream-json", "--verbose", "--", "hello"]

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
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(once, range(n)))
    floor = n / (time.perf_counter() - t0)
    return rate, floor


def bench_outbox(tmp: Path, cli: Path, n: int) -> tuple[float, float]:
    """An outbox file renamed into place → its notice in outgoing/, p50 and p99 (ms)."""
    home = make_home(tmp / "outbox", 1, cli, tmp / "outbox.log")
    with home.config_file.open("a") as config:
        config.write('owner_chat = "telegram:1"\n')  # a chat the actor may write to
    worker, stop, thread = serve(home, services=True)
    outbox = worker.config.workspace_for(home, "a0") / "outbox"
    queued = worker.spool.outgoing("telegram")
    samples = []
    try:
        wait_file(outbox)
        time.sleep(1.5)  # past the scheduler's first pass: only the file event wakes it
        for i in range(n):
            staged = outbox / f"note-{i}.tmp"
            staged.write_text(json.dumps({"text": f"note {i}"}))
            t0 = time.time()
            staged.rename(outbox / f"note-{i}.json")
            deadline = t0 + 30
            while len(Spool.list_box(queued)) <= i:
                if time.time() > deadline:
                    raise TimeoutError(f"outbox note {i} was not queued")
                time.sleep(0.0002)
            samples.append(time.time() - t0)
    finally:
        stop.set()
        worker.wake.set()
        thread.join()
    return statistics.median(samples) * 1000, pct(samples, 0.99) * 1000


def bench_idle(tmp: Path, cli: Path) -> tuple[float, float]:
    import psutil

    home = make_home(tmp / "idle", 2, cli, tmp / "idle.log")
    env = {**os.environ, "TINYCLAW_HOME": str(home.root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyclaw.worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        events = home.logs / "events.jsonl"
        deadline = time.monotonic() + 30
        while not (events.exists() and "worker.start" in events.read_text()):
            if time.monotonic() > deadline:
                raise TimeoutError("worker did not start")
            time.sleep(0.05)
        time.sleep(2)
        p = psutil.Process(proc.pid)
        rss = p.memory_info().rss / 1e6
        p.cpu_percent(None)
        time.sleep(5)
        cpu = p.cpu_percent(None)
    finally:
        proc.terminate()
        proc.wait(30)
    return rss, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    args = parser.parse_args()
    n_lat, n_tp = (60, 400) if args.quick else (300, 2000)
    with tempfile.TemporaryDirectory(prefix="tinyclaw-bench-") as name:
        tmp = Path(name)
        cli = tmp / "bench-cli"
        cli.write_text(BENCH_CLI)
        cli.chmod(0o755)
        lat = bench_latency(tmp, cli, n_lat)
        poll = bench_polling(tmp, cli, 10 if args.quick else 20)
        noop, ops = bench_noop(tmp, cli, n_tp)
        spawned, spawn_floor8 = bench_spawn8(tmp, FAKE_CLI, n_tp // 4)
        bash_rate, bash_floor8 = bench_spawn8(tmp, cli, n_tp // 2)
        rss, cpu = bench_idle(tmp, cli)
        out_p50, out_p99 = bench_outbox(tmp, cli, 20 if args.quick else 100)
    rows = [
        (
            "added latency in (incoming → CLI start), p50",
            f"{lat['in_p50']:.2f} ms",
            "≤ 5 ms",
            lat["in_p50"] <= 5,
        ),
        ("added latency in, p99", f"{lat['in_p99']:.2f} ms", "≤ 50 ms", lat["in_p99"] <= 50),
        (
            "added latency out (CLI exit → reply file), p50",
            f"{lat['out_p50']:.2f} ms",
            "≤ 5 ms",
            lat["out_p50"] <= 5,
        ),
        ("added latency out, p99", f"{lat['out_p99']:.2f} ms", "≤ 50 ms", lat["out_p99"] <= 50),
        ("  (floor: spawning the CLI, p50)", f"{lat['spawn_floor_p50']:.2f} ms", "", None),
        ("1 s polling loop, incoming → CLI start, p50", f"{poll:.0f} ms", "", None),
        ("  polling / tinyclaw (raw, p50)", f"{poll / lat['raw_in_p50']:.0f}×", "", None),
        ("throughput, no-op runner", f"{noop:.0f} msg/s", "", None),
        (
            "  vs. bare file operations",
            f"{ops:.0f} msg/s = {noop / ops:.0%}",
            "≥ 50 %",
            noop / ops >= 0.5,
        ),
        ("throughput, scripts/fake-cli, 8 actors", f"{spawned:.0f} msg/s", "", None),
        (
            "  vs. spawning it 8-wide",
            f"{spawn_floor8:.0f} /s = {spawned / spawn_floor8:.0%}",
            "≥ 80 %",
            spawned / spawn_floor8 >= 0.8,
        ),
        ("throughput, a 1 ms bash CLI, 8 actors", f"{bash_rate:.0f} msg/s", "", None),
        (
            "  vs. spawning it 8-wide (tinyclaw's own cost shows)",
            f"{bash_floor8:.0f} /s = {bash_rate / bash_floor8:.0%}",
            "",
            None,
        ),
        ("worker idle RSS", f"{rss:.1f} MB", "≤ 40 MB", rss <= 40),
        ("worker idle CPU (5 s)", f"{cpu:.1f} %", "≈ 0 %", cpu < 1),
        ("outbox file → notice queued, p50", f"{out_p50:.2f} ms", "", None),
        ("outbox file → notice queued, p99", f"{out_p99:.2f} ms", "", None),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'measured':>22}  {'target':>8}")
    for label, value, target, ok in rows:
        mark = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"{label:<{width}}  {value:>22}  {target:>8}  {mark}")


if __name__ == "__main__":
    main()
