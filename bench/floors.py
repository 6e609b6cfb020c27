"""The floors of ``bench.core``: what this machine allows before any of the worker's
own Python runs, measured in the same run as the figures set against them.

* **the bare path** of one message: the worker's durable steps for it and one spawn of
  the fake CLI, in series, with nothing else: the route (rename into the inbox + fsync
  of the inbox folder), the claim (rename into ``processing/`` + fsync of it), the
  run (the fake spawned and read to its end), the reply (tmp write + fsync + rename +
  fsync of the outgoing folder) and the release (unlink; its fsync is shared with the
  next claim). Its time per message is the floor of the latency (p50 and p99 of the
  same number of samples), its CPU time in this process the floor of the worker's CPU
  per message (the child's own CPU is not the worker's either);
* **the unavoidable start**: an interpreter that imports what no configuration can do
  without (pydantic with one model validated, tomllib, the file watcher's observer),
  plus one bare path: the floor of start → first answer; that interpreter's RSS is the
  floor of the idle RSS.

A target below its floor cannot be reached on this machine: :func:`verdict` says by
how much it misses.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tinyclaw.core.fsutil import fsync_dir, write_tmp

# What a worker cannot start without, whatever it serves: the configuration is
# validated with pydantic, read with tomllib, and the queue is watched with watchdog.
UNAVOIDABLE_IMPORTS = (
    "import tomllib, watchdog.observers\n"
    "from pydantic import BaseModel\n"
    "class Section(BaseModel):\n"
    "    x: int = 0\n"
    "Section.model_validate({'x': 1})\n"
)
_PRINT_RSS = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"


@dataclass(frozen=True)
class BarePath:
    """One message's durable steps and one spawn, in series: ms per message (p50,
    p99) and this process's CPU ms per message."""

    p50: float
    p99: float
    cpu: float


def bare_path(tmp: Path, argv: list[str], body: bytes, n: int) -> BarePath:
    """``n`` messages through the bare path (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="bare-", dir=tmp))
    tmpd, incoming, inbox, processing, outgoing = (
        root / d for d in ("tmp", "incoming", "inbox", "processing", "outgoing")
    )
    for d in (tmpd, incoming, inbox, processing, outgoing):
        d.mkdir()
    names = [f"{i:08d}.json" for i in range(n)]
    for name in names:  # staged and written back before the clock, as the bench's
        os.rename(write_tmp(tmpd, body), incoming / name)
    os.sync()
    env = {"PATH": os.environ["PATH"]}
    times = []
    cpu0 = _cpu()
    for name in names:
        t0 = time.perf_counter()
        os.rename(incoming / name, inbox / name)
        fsync_dir(inbox)
        os.rename(inbox / name, processing / name)
        fsync_dir(processing)
        (processing / name).read_bytes()
        subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL, check=True)
        os.rename(write_tmp(tmpd, body), outgoing / name)
        fsync_dir(outgoing)
        os.unlink(processing / name)
        times.append((time.perf_counter() - t0) * 1000)
    cpu = (_cpu() - cpu0) * 1000 / n
    return BarePath(statistics.median(times), pct(times, 0.99), cpu)


def unavoidable_start(env: dict[str, str], runs: int = 3) -> tuple[float, float]:
    """ms (median of ``runs``) and peak RSS (MB) of an interpreter that makes only the
    unavoidable imports."""
    times, rss = [], 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", UNAVOIDABLE_IMPORTS + _PRINT_RSS],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        times.append((time.perf_counter() - t0) * 1000)
        rss = int(out.stdout.split()[-1]) * 1024 / 1e6  # KiB → MB, as the bench's
    return statistics.median(times), rss


def verdict(target: float, floor: float, unit: str, *, higher_is_better: bool = False) -> str:
    """The floor beside a figure, and by how much the target lies beyond what this
    machine allows (nothing more when it does not)."""
    if higher_is_better:  # a rate: the limit is a ceiling
        word, gap = "limit", target - floor
    else:
        word, gap = "floor", floor - target
    text = f"{word} {_num(floor)} {unit}"
    return text + (f": target out of reach by {_num(gap)} {unit}" if gap > 0 else "")


def _num(value: float) -> str:
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (the nearest rank below)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
