#!/usr/bin/env python3
"""Benchmark the launcher: `tinyclaw start` until every component is ready, and the
memory of the worker and status windows while idle.

Runs against a throwaway home (two actors on scripts/fake-cli) and a private tmux
socket, so it never touches a real home or the user's tmux server.

    .venv/bin/python scripts/bench_launcher.py [--runs 5] [--actors 2]

"Ready" is what `tinyclaw start` waits for: each supervisor records in
state/launcher/<component>.json the moment its child signalled readiness (the worker's
`worker.start` event, the windows' ready files). Targets: start ≤ 1.5 s.
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

import psutil

REPO = Path(__file__).resolve().parent.parent
TARGET_START = 1.5


def write_home(root: Path, actors: int) -> None:
    lines = [
        "[worker]",
        "scan_interval = 0.5",
        "stop_timeout = 2",
        "[runners.claude]",
        f'command = "{REPO / "scripts" / "fake-cli"}"',
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


def tree_rss(pid: int) -> tuple[int, list[tuple[int, str, int]]]:
    """RSS of ``pid`` and all its descendants, with one row per process."""
    try:
        top = psutil.Process(pid)
        procs = [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, []
    rows = []
    for proc in procs:
        try:
            cmd = " ".join(proc.cmdline()[1:6])
            rows.append((proc.pid, cmd, proc.memory_info().rss))
        except psutil.NoSuchProcess:
            continue
    return sum(r[2] for r in rows), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before RSS")
    options = parser.parse_args()

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
            print(f"components: {components} (status, worker, {options.actors} actor windows)")
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
            procs = []
            for state in states.values():
                top = psutil.Process(int(state["supervisor_pid"]))
                procs += [top, *top.children(recursive=True)]
            cpu_before = sum(sum(p.cpu_times()[:2]) for p in procs)
            time.sleep(options.idle)
            cpu_after = sum(sum(p.cpu_times()[:2]) for p in procs if p.is_running())
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
