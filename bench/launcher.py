#!/usr/bin/env python3
"""Benchmark the launcher: `tinyclaw start` until every component is ready, and the
memory of the worker and status windows while idle.

Runs against a throwaway home (two actors on tests/fakes/bin/fake-cli) and a private tmux
socket, so it never touches a real home or the user's tmux server.

    .venv/bin/python -m bench.launcher [--runs 5] [--actors 2]

"Ready" is what `tinyclaw start` waits for: each supervisor records in
state/launcher/<component>.json the moment its child signalled readiness (the worker's
`worker.start` event, the windows' ready files). Targets: start ≤ 1.5 s. The session
has no listener window (no chat platform is configured), so "every component" is the
status window, the worker and one window per actor.

Memory and CPU come from /proc (Linux), so the bench needs nothing beyond tinyclaw
itself (no psutil).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.paths import FAKE_CLI

REPO = Path(__file__).resolve().parent.parent
TARGET_START = 1.5


def write_home(root: Path, actors: int) -> None:
    lines = [
        "[worker]",
        "scan_interval = 0.5",
        "stop_timeout = 2",
        "[runners.claude]",
        f'command = "{FAKE_CLI}"',
    ]
    for n in range(actors):
        lines += [f"[actors.actor{n}]", 'runner = "claude"']
    (root / "tinyclaw.toml").write_text("\n".join(lines) + "\n")


def tinyclaw(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinyclaw", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def component_states(root: Path) -> dict[str, dict[str, Any]]:
    states = {}
    for path in (root / "state" / "launcher").glob("*.json"):
        data = json.loads(path.read_text())
        states[str(data["component"])] = data
    return states


PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): field 3 on."""
    text = (PROC / str(pid) / "stat").read_text()
    return text.rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from the parent pids in /proc."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def rss_bytes(pid: int) -> int:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (0 if it is gone)."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def command_line(pid: int) -> str:
    raw = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    return " ".join(part.decode(errors="replace") for part in raw[1:6])


def tree_rss(pid: int) -> tuple[int, list[tuple[int, str, int]]]:
    """RSS of ``pid`` and all its descendants, with one row per process."""
    rows = []
    for proc in descendants(pid):
        try:
            rows.append((proc, command_line(proc), rss_bytes(proc)))
        except OSError:
            continue  # it exited meanwhile
    return sum(r[2] for r in rows), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before RSS")
    options = parser.parse_args()
    if not PROC.is_dir():
        print("this benchmark reads /proc: run it on Linux", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="tinyclaw-bench-") as tmp:
        root = Path(tmp) / "home"
        root.mkdir()
        write_home(root, options.actors)
        socket = f"tinyclaw-bench-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "TINYCLAW_HOME": str(root),
            "TINYCLAW_TMUX_SOCKET": socket,
            "TINYCLAW_TMUX_SESSION": "bench",
        }
        env.pop("TMUX", None)
        starts: list[float] = []
        ready_times: list[float] = []
        try:
            for run in range(options.runs):
                began = time.monotonic()
                began_wall = time.time()
                result = tinyclaw("start", "--no-attach", env=env)
                took = time.monotonic() - began
                if result.returncode != 0 or "all ready" not in result.stdout:
                    print(result.stdout, result.stderr, file=sys.stderr)
                    return 1
                states = component_states(root)
                last_ready = max(float(s["ready_at"]) for s in states.values())
                starts.append(took)
                ready_times.append(last_ready - began_wall)
                if run < options.runs - 1:
                    tinyclaw("stop", env=env)

            components = len(component_states(root))
            print(
                f"components: {components} (status, worker, {options.actors} actor windows; "
                "no listener: no chat platform is configured)"
            )
            print(
                f"tinyclaw start → every component ready: median {statistics.median(ready_times):.2f} s, "
                f"best {min(ready_times):.2f} s, worst {max(ready_times):.2f} s "
                f"over {options.runs} runs (target ≤ {TARGET_START} s)"
            )
            print(
                f"`tinyclaw start` command wall time (includes its own start-up): median "
                f"{statistics.median(starts):.2f} s"
            )

            states = component_states(root)
            procs = [
                pid
                for state in states.values()
                for pid in descendants(int(state["supervisor_pid"]))
            ]
            cpu_before = sum(cpu_seconds(pid) for pid in procs)
            time.sleep(options.idle)
            cpu_after = sum(cpu_seconds(pid) for pid in procs)
            share = (cpu_after - cpu_before) / options.idle * 100
            print(f"idle CPU, whole session: {share:.1f}% of one core over {options.idle:g} s")
            total = 0
            for name in ("worker", "status"):
                pid = int(states[name]["supervisor_pid"])
                rss, rows = tree_rss(pid)
                total += rss
                print(f"idle RSS of the {name} window: {rss / 2**20:.1f} MB")
                for row_pid, cmd, row_rss in rows:
                    print(f"    {row_pid:>7}  {row_rss / 2**20:6.1f} MB  {cmd}")
            print(f"idle RSS, worker + status windows: {total / 2**20:.1f} MB")
            everything = sum(tree_rss(int(s["supervisor_pid"]))[0] for s in states.values())
            print(f"idle RSS, whole session ({components} windows): {everything / 2**20:.1f} MB")
            median = statistics.median(ready_times)
            print("start target met" if median <= TARGET_START else "start target MISSED")
        finally:
            tinyclaw("stop", env=env)
            subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
            tmux_dir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
            (tmux_dir / socket).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
