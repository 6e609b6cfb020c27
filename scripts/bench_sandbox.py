#!/usr/bin/env python3
"""What the bubblewrap sandbox adds to a run's start. Prints a table; asserts nothing.

Three rows, each measured confined and unconfined in alternation (so a load spike
hits both) and reported as medians:

* ``/bin/true``: the bare cost of setting up the sandbox (namespaces, mounts);
* a real ``claude`` run against the loopback Anthropic fake ("hi" → "echo: hi");
* a real ``codex`` run against the loopback OpenAI fake.

The CLIs run through the real runners, with the same ``Sandbox`` hook the worker
uses; only the sandbox differs between the two columns.

Usage: .venv/bin/python scripts/bench_sandbox.py [--rounds N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.anthropic_api import AnthropicFake  # noqa: E402
from tests.fakes.cli_fixtures import CLAUDE_TEST_ENV, cli_path, codex_config_toml  # noqa: E402
from tests.fakes.openai_api import OpenAIFake  # noqa: E402
from tinyclaw.config import Config, parse_config  # noqa: E402
from tinyclaw.core.home import Home  # noqa: E402
from tinyclaw.runners import RunRequest, make_runner  # noqa: E402
from tinyclaw.runners.sandbox import Sandbox, probe_bwrap  # noqa: E402


def _config(mode: str, anthropic: AnthropicFake, codex_home: Path, claude_home: Path) -> Config:
    return parse_config(
        {
            "sandbox": {"mode": mode},
            "runners": {
                "claude": {
                    "command": cli_path("claude"),
                    "env": {**CLAUDE_TEST_ENV, "ANTHROPIC_BASE_URL": anthropic.url},
                    "home": str(claude_home),
                },
                "codex": {
                    "command": cli_path("codex"),
                    "env": {"LOCAL_OPENAI_KEY": "test-key"},
                    "home": str(codex_home),
                },
            },
            "actors": {"c": {"runner": "claude"}, "x": {"runner": "codex"}},
        }
    )


def _quiet(event: object) -> None:
    return None


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    problem = probe_bwrap("bwrap")
    if problem is not None:
        sys.exit(f"bwrap does not work here: {problem}")
    work = Path(tempfile.mkdtemp(prefix="tinyclaw-bench-", dir="/var/tmp"))
    anthropic, openai = AnthropicFake().start(), OpenAIFake().start()
    try:
        home = Home(work / "home")
        home.ensure()
        (work / "codex-home").mkdir()
        (work / "claude-home").mkdir()
        (work / "codex-home" / "config.toml").write_text(codex_config_toml(f"{openai.url}/v1"))
        configs = {
            mode: _config(mode, anthropic, work / "codex-home", work / "claude-home")
            for mode in ("auto", "off")
        }
        rows: dict[str, dict[str, list[float]]] = {}

        def bare(mode: str) -> float:
            box = Sandbox(home, configs[mode])
            ws = home.actor_dir("c") / "workspace"
            ws.mkdir(parents=True, exist_ok=True)
            argv, env = box(
                RunRequest("", "c", ws), ["/bin/true"], {"PATH": "/usr/bin:/bin"}, _quiet
            )
            return _timed(lambda: subprocess.run(argv, env=env, cwd=ws, check=True))

        def cli(kind: str, actor: str) -> Callable[[str], float]:
            def run(mode: str) -> float:
                config = configs[mode]
                runner = make_runner(
                    kind, config.runners.for_kind(kind), sandbox=Sandbox(home, config)
                )
                ws = config.workspace_for(home, actor)
                result = runner.run(RunRequest("hi", actor, ws, timeout=120))
                assert result.ok, result
                return result.duration_s

            return run

        cases: dict[str, tuple[Callable[[str], float], int]] = {
            "/bin/true": (bare, args.rounds * 6),
            "claude run": (cli("claude", "c"), args.rounds),
            "codex run": (cli("codex", "x"), args.rounds),
        }
        for name, (measure, rounds) in cases.items():
            rows[name] = {"auto": [], "off": []}
            for _ in range(rounds):
                for mode in ("off", "auto"):
                    rows[name][mode].append(measure(mode))
        print(f"{'run':<12} {'unconfined':>12} {'sandboxed':>12} {'added':>10}  (medians)")
        for name, by_mode in rows.items():
            off, on = statistics.median(by_mode["off"]), statistics.median(by_mode["auto"])
            print(
                f"{name:<12} {off * 1000:>10.1f}ms {on * 1000:>10.1f}ms {(on - off) * 1000:>8.1f}ms"
            )
    finally:
        anthropic.stop()
        openai.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
