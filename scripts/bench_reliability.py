#!/usr/bin/env python3
"""Reliability figures besides the chaos run: backlog memory and the bad-input corpus.

    .venv/bin/python scripts/bench_reliability.py backlog       # 10,000 queued messages
    .venv/bin/python scripts/bench_reliability.py corpus        # every bad input
    .venv/bin/python scripts/bench_reliability.py all [--json]

**backlog**: does the worker's memory grow with the backlog? A worker process with a
no-op runner (``--runner noop``, answers at once, so the queue machinery is all that
is measured; ``--runner fake-cli`` runs ``python -m tinyclaw worker`` with
scripts/fake-cli instead) first answers a few messages and idles: its RSS is the
baseline. It is stopped, ``--messages`` messages are queued into ``queue/incoming``,
and it is started again; RSS is sampled from start-up (the whole backlog still
queued) until the last reply. Target: RSS with 10,000 queued within 20 % of idle.

**corpus**: plants every case of ``tests/reliability/cases.py`` into a home, serves
them with a real worker and reports how each ended. Target: 100 % handled (an end
state: failed/ with a reason or a reply), 0 crashes, nothing read outside the home.

Everything runs in throwaway homes under the system temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tinyclaw.core.fsutil import unique_name  # noqa: E402
from tinyclaw.core.home import Home  # noqa: E402
from tinyclaw.core.messages import Inbound, Sender  # noqa: E402
from tinyclaw.spool import Spool  # noqa: E402

TARGET_GROWTH = 0.20


# -- the no-op worker (runs in its own process) --------------------------------------


def noop_worker(home_dir: str) -> int:
    """``python scripts/bench_reliability.py _noop-worker HOME``: serve until SIGTERM."""
    from tests.reliability.noop import NoopRunner
    from tinyclaw.config import load_config
    from tinyclaw.core.logsetup import setup_logging
    from tinyclaw.worker.loop import Worker

    home = Home(Path(home_dir))
    config = load_config(home)
    setup_logging(home.logs, "worker", stderr=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    Worker(home, config, {"claude": NoopRunner()}).run(stop)
    return 0


# -- backlog -------------------------------------------------------------------------


def write_config(home: Home, actors: int) -> None:
    lines = [
        "[worker]",
        f"concurrency = {actors}",
        "scan_interval = 1.0",
        "stop_timeout = 5",
        "[runners.claude]",
        f"command = {json.dumps(str(REPO / 'scripts' / 'fake-cli'))}",
    ]
    for n in range(actors):
        lines += [f"[actors.a{n}]"]
    home.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def start_worker(home: Home, runner: str) -> subprocess.Popen[bytes]:
    if runner == "noop":
        argv = [sys.executable, str(Path(__file__).resolve()), "_noop-worker", str(home.root)]
    else:
        argv = [sys.executable, "-m", "tinyclaw", "worker"]
    env = {**os.environ, "TINYCLAW_HOME": str(home.root)}
    env.pop("TINYCLAW_FAILPOINT", None)
    return subprocess.Popen(
        argv,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_worker(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def rss(proc: subprocess.Popen[bytes]) -> int:
    try:
        return int(psutil.Process(proc.pid).memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


def started_count(home: Home) -> int:
    try:
        text = (home.logs / "events.jsonl").read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    return text.count('"event": "worker.start"')


def count_box(box: Path) -> int:
    try:
        return sum(1 for e in os.scandir(box) if e.name.endswith(".json"))
    except FileNotFoundError:
        return 0


def queue(spool: Spool, count: int, actors: int, *, durable: bool) -> list[str]:
    writer = Spool(spool.home, durable=durable)
    ids = []
    for n in range(count):
        msg = Inbound(
            id=unique_name(),
            channel="cli",
            chat_id=f"chat{n % 16}",
            sender=Sender(id="bench"),
            text=f"@a{n % actors} backlog message {n}",
        )
        writer.put(msg)
        ids.append(msg.id)
    return ids


def wait_for(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def measure_backlog(
    messages: int, actors: int, runner: str, *, warmup: int = 40, timeout: float = 1800.0
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="tinyclaw-backlog-"))
    home = Home(root)
    home.ensure()
    write_config(home, actors)
    spool = Spool(home)
    out = spool.outgoing("cli")
    try:
        # 1. Warm idle: answer a few messages (lazy imports, caches), then sit still.
        worker = start_worker(home, runner)
        queue(spool, warmup, actors, durable=False)
        if not wait_for(lambda: count_box(out) >= warmup, 120):
            raise SystemExit("the worker did not answer the warm-up messages")
        time.sleep(1.5)
        idle = 0
        for _ in range(10):
            idle = max(idle, rss(worker))
            time.sleep(0.1)
        stop_worker(worker)
        for path in spool.list_box(out):
            spool.mark_sent(path, "cli")
        # 2. A backlog queued while the worker is down.
        started = started_count(home)
        t0 = time.monotonic()
        ids = queue(spool, messages, actors, durable=False)
        queue_s = time.monotonic() - t0
        # 3. Start with the whole backlog waiting; sample until the last reply.
        worker = start_worker(home, runner)
        wait_for(lambda: started_count(home) > started, 120, step=0.01)
        t_start = time.monotonic()
        at_start = rss(worker)
        samples: list[tuple[float, int, int]] = []
        while time.monotonic() - t_start < timeout:
            answered = count_box(out)
            samples.append((time.monotonic() - t_start, rss(worker), answered))
            if answered >= messages:
                break
            time.sleep(0.1)
        drain_s = time.monotonic() - t_start
        status = stop_worker(worker)
        answered = count_box(out)
        depths = spool.depths()
        peak = max(s[1] for s in samples)
        queued_half = [s[1] for s in samples if s[2] < messages // 2]
        return {
            "messages": messages,
            "actors": actors,
            "runner": runner,
            "idle_rss_mb": round(idle / 2**20, 1),
            "rss_at_start_with_backlog_mb": round(at_start / 2**20, 1),
            "peak_rss_while_backlog_over_half_mb": round(max(queued_half or [0]) / 2**20, 1),
            "peak_rss_during_drain_mb": round(peak / 2**20, 1),
            "growth_at_start": round(at_start / idle - 1, 3),
            "growth_peak": round(peak / idle - 1, 3),
            "queue_s": round(queue_s, 1),
            "drain_s": round(drain_s, 1),
            "answered": answered,
            "all_answered": answered == messages and all((out / f"{i}.json").exists() for i in ids),
            "left_in_queue": depths["incoming"] + depths["inboxes"] + depths["processing"],
            "failed": depths["failed"],
            "exit_on_sigterm": status,
            "ok": answered == messages
            and peak <= idle * (1 + TARGET_GROWTH)
            and depths["incoming"] + depths["inboxes"] + depths["processing"] == 0,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- corpus --------------------------------------------------------------------------


def measure_corpus() -> dict[str, Any]:
    from tests.reliability.cases import CASES
    from tests.reliability.corpus import run_all

    root = Path(tempfile.mkdtemp(prefix="tinyclaw-corpus-"))
    try:
        run = run_all(root, CASES)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = [
        {
            "case": o.case.name,
            "input": o.case.what,
            "expected": o.case.expect,
            "got": o.got,
            "as_specified": o.as_expected,
            "handled": o.handled,
            "known_bug": o.case.known_bug,
            "detail": o.detail[:100],
        }
        for o in run.outcomes
    ]
    total = len(run.outcomes)
    return {
        "cases": total,
        "handled": run.handled,
        "handled_pct": round(100 * run.handled / total, 1),
        "as_specified": sum(o.as_expected for o in run.outcomes),
        "crashes": run.crashes,
        "leaks": sum(o.leaked for o in run.outcomes),
        "problems": run.problems,
        "rows": rows,
        "ok": run.handled == total and run.crashes == 0 and not run.problems,
    }


# -- output --------------------------------------------------------------------------


def print_backlog(fig: dict[str, Any]) -> None:
    print(f"backlog: {fig['messages']} messages, {fig['actors']} actors, runner {fig['runner']}")
    for key in (
        "idle_rss_mb",
        "rss_at_start_with_backlog_mb",
        "peak_rss_while_backlog_over_half_mb",
        "peak_rss_during_drain_mb",
        "growth_at_start",
        "growth_peak",
        "queue_s",
        "drain_s",
        "answered",
        "left_in_queue",
        "failed",
        "exit_on_sigterm",
    ):
        print(f"  {key:<38} {fig[key]}")
    target = f"peak within {TARGET_GROWTH:.0%} of idle"
    print(f"  {'result':<38} {'PASS' if fig['ok'] else 'FAIL'} ({target})")


def print_corpus(fig: dict[str, Any]) -> None:
    width = max(len(r["case"]) for r in fig["rows"])
    print(f"corpus: {fig['cases']} bad inputs")
    for row in fig["rows"]:
        mark = "ok  " if row["as_specified"] else ("bug " if row["handled"] else "FAIL")
        print(f"  {mark} {row['case']:<{width}}  {row['got']:<8} {row['detail'][:60]!r}")
    print(f"  handled: {fig['handled']}/{fig['cases']} ({fig['handled_pct']} %)")
    print(f"  as specified: {fig['as_specified']}/{fig['cases']}")
    print(f"  crashes (died, hung, memory guard): {fig['crashes']}; secret leaks: {fig['leaks']}")
    for problem in fig["problems"]:
        print(f"  problem: {problem[:160]}")
    bugs = sorted({r["known_bug"] for r in fig["rows"] if r["known_bug"] and not r["as_specified"]})
    for bug in bugs:
        print(f"  known bug: {bug}")
    print(f"  result: {'PASS' if fig['ok'] else 'FAIL'} (100 % handled, 0 crashes, 0 leaks)")


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["_noop-worker"]:
        return noop_worker(args_in[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["backlog", "corpus", "all"])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--actors", type=int, default=4)
    parser.add_argument("--runner", choices=["noop", "fake-cli"], default="noop")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(args_in)
    figures: dict[str, Any] = {}
    if args.what in ("backlog", "all"):
        figures["backlog"] = measure_backlog(args.messages, args.actors, args.runner)
    if args.what in ("corpus", "all"):
        figures["corpus"] = measure_corpus()
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        if "backlog" in figures:
            print_backlog(figures["backlog"])
        if "corpus" in figures:
            print_corpus(figures["corpus"])
    return 0 if all(f["ok"] for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
