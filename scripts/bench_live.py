#!/usr/bin/env python3
"""Benchmark of live runs. Prints a table with targets and PASS/FAIL; asserts nothing.

* steering latency: a line written as the window writes it (``put_steer``) → the line
  is on the running CLI's stdin (the runner's ``steer`` event, emitted right after the
  write), through a real ``Worker`` and ``scripts/fake-cli`` held in its turn; p50
  and p95 over ``--steers`` lines;
* overhead of a live run over a one-shot run of one message: the real ``claude`` and
  ``codex`` against the loopback provider fakes, the same prompt, runs alternated
  (``--runs`` each), medians compared. Skipped for a CLI that is not installed;
* status edits per chat per minute: the real Telegram listener (``progress =
  "edit"``) against the loopback Bot API fake, given a run of ``--chat-steps`` steps
  written ``--step-gap`` seconds apart (faster than the worker's own 2 s throttle
  lets them through, so the listener's throttle is what is measured); the most
  ``sendMessage``/``editMessageText`` calls to that chat in any 60 s window, and the
  shortest gap between two of them.

Usage: .venv/bin/python scripts/bench_live.py [--steers 40] [--runs 8]
       [--chat-steps 50] [--step-gap 1.2] [--only chat]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.anthropic_api import AnthropicFake  # noqa: E402
from tests.fakes.cli_fixtures import CLAUDE_TEST_ENV, codex_config_toml  # noqa: E402
from tests.fakes.openai_api import OpenAIFake  # noqa: E402
from tests.fakes.serving import serving_channel  # noqa: E402
from tests.fakes.telegram_api import TOKEN, TelegramFake  # noqa: E402
from tinyclaw.channels.telegram import TelegramChannel  # noqa: E402
from tinyclaw.config import (  # noqa: E402
    ChannelConfig,
    RunnerSettings,
    load_config,
)
from tinyclaw.core.fsutil import unique_name  # noqa: E402
from tinyclaw.core.home import Home  # noqa: E402
from tinyclaw.core.live_files import put_steer  # noqa: E402
from tinyclaw.core.messages import (  # noqa: E402
    Inbound,
    Reply,
    Sender,
)
from tinyclaw.runners import ClaudeRunner, CodexRunner, RunEvent, RunRequest  # noqa: E402
from tinyclaw.spool import Spool  # noqa: E402
from tinyclaw.worker.assembly import build_runners  # noqa: E402
from tinyclaw.worker.loop import Worker  # noqa: E402

FAKE_CLI = REPO / "scripts" / "fake-cli"
TOOLS = REPO / ".tools" / "node_modules" / ".bin"


def steering_latency(count: int) -> list[float]:
    """Seconds from put_steer to the line written on the CLI's stdin, per line."""
    root = Path(tempfile.mkdtemp(prefix="bench-live-"))
    home = Home(root)
    home.ensure()
    home.config_file.write_text(
        "[worker]\nscan_interval = 0.5\nstop_timeout = 0.5\n\n"
        f'[runners.claude]\ncommand = "{FAKE_CLI}"\n'
        'env = { FAKE_CLI_SLEEP = "600" }\n\n[actors.assistant]\n'
    )
    config = load_config(home)
    seen: dict[str, float] = {}
    arrived = threading.Event()

    def progress(actor: str, event: RunEvent) -> None:
        if event.kind == "steer":
            seen[event.text] = time.perf_counter()
            arrived.set()
        elif event.kind == "start":
            arrived.set()

    worker = Worker(home, config, build_runners(home, config), progress=progress)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    message = Inbound(
        id=unique_name(), channel="cli", chat_id="bench", sender=Sender(id="me"), text="hold"
    )
    Spool(home).put(message)
    arrived.wait(30)
    time.sleep(0.5)  # the CLI is up and reading
    latencies = []
    for n in range(count):
        text = f"line {n}"
        arrived.clear()
        began = time.perf_counter()
        put_steer(home, "assistant", text)
        arrived.wait(10)
        if text in seen:
            latencies.append(seen[text] - began)
        time.sleep(0.03)  # lines typed apart, not as one burst
    worker.inflight.cancel("shutdown")
    stop.set()
    worker.wake.set()
    thread.join(30)
    return latencies


def _claude(fake: AnthropicFake, tmp: Path, live: bool) -> ClaudeRunner:
    (tmp / "h").mkdir(exist_ok=True)
    settings = RunnerSettings(
        command=str(TOOLS / "claude"),
        env={"ANTHROPIC_BASE_URL": fake.url, **CLAUDE_TEST_ENV},
        home=str(tmp / "h"),
        live=live,
    )
    return ClaudeRunner(settings)


def _codex(fake: OpenAIFake, tmp: Path, live: bool) -> CodexRunner:
    codex_home = tmp / "ch"
    codex_home.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config_toml(f"{fake.url}/v1"))
    settings = RunnerSettings(
        command=str(TOOLS / "codex"),
        env={"LOCAL_OPENAI_KEY": "k"},
        home=str(codex_home),
        live=live,
    )
    return CodexRunner(settings)


def overhead(kind: str, runs: int) -> tuple[float, float, float] | None:
    """Median seconds of a one-message run (one-shot, live) and the median of the
    per-pair overheads (each live run against the one-shot run just before it), which
    a machine whose load drifts during the benchmark skews less."""
    if not (TOOLS / kind).exists():
        return None
    fake = AnthropicFake().start() if kind == "claude" else OpenAIFake().start()
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    times: dict[bool, list[float]] = {False: [], True: []}
    try:
        for n in range(runs * 2 + 2):
            live = n % 2 == 1
            make = _claude if kind == "claude" else _codex
            runner = make(fake, tmp, live)  # type: ignore[arg-type]
            request = RunRequest(f"hello {n}", "bench", tmp / "ws", timeout=60)
            began = time.perf_counter()
            result = runner.run(request)
            took = time.perf_counter() - began
            if not result.ok:
                raise SystemExit(f"{kind} live={live}: {result.error} {result.text}")
            if n >= 2:  # the first pair warms caches
                times[live].append(took)
    finally:
        fake.stop()
    pairs = [live / shot - 1 for shot, live in zip(times[False], times[True], strict=True)]
    return statistics.median(times[False]), statistics.median(times[True]), statistics.median(pairs)


CHAT = "1001"


async def _chat_edits(steps: int, gap: float) -> list[float]:
    """When the listener touched the status message (send or edit), in seconds."""
    with TelegramFake() as fake, tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home")
        home.root.mkdir()
        spool = Spool(home)
        config = ChannelConfig(
            enabled=True,
            allow_from=[CHAT],
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            progress="edit",
        )
        channel = TelegramChannel(home, config, token=TOKEN, poll_timeout=1, scan_interval=0.2)
        async with serving_channel(channel):
            for n in range(1, steps + 1):
                step = Reply(
                    id=f"run1.step{n}",
                    in_reply_to="run1",
                    channel="telegram",
                    chat_id=CHAT,
                    text=f"@coder $ step {n} of {steps}",
                    kind="progress",
                    actor="coder",
                    meta={"progress_of": "run1", "step": n},
                )
                spool.put_reply(step)
                await asyncio.sleep(gap)
            deadline = time.monotonic() + 10
            while spool.list_box(spool.outgoing("telegram")) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        touched = [
            c.at
            for c in fake.calls
            if c.method in ("sendMessage", "editMessageText") and c.status == 200
        ]
        return touched


def chat_edit_rate(steps: int, gap: float) -> tuple[int, float, int]:
    """(most touches in any 60 s window, shortest gap between two, touches in all)."""
    touched = asyncio.run(_chat_edits(steps, gap))
    most = max((sum(1 for t in touched if start <= t < start + 60) for start in touched), default=0)
    gaps = [b - a for a, b in itertools.pairwise(touched)]
    return most, min(gaps, default=float("inf")), len(touched)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steers", type=int, default=40)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--chat-steps", type=int, default=50)
    parser.add_argument("--step-gap", type=float, default=1.2)
    parser.add_argument("--only", choices=["chat"], default=None)
    args = parser.parse_args()
    rows: list[tuple[str, str, str, bool | None]] = []
    most, shortest, total = chat_edit_rate(args.chat_steps, args.step_gap)
    rows.append(
        (
            f"status edits per chat per minute ({args.chat_steps} steps, {args.step_gap} s apart)",
            f"{most}/min",
            "≤ 30/min",
            most <= 30,
        )
    )
    rows.append(
        ("shortest gap between two status edits", f"{shortest:.2f} s", "≥ 2 s", shortest >= 2.0)
    )
    rows.append(("status sends + edits in the run", str(total), "", None))
    if args.only == "chat":
        _print(rows)
        return
    latencies = steering_latency(args.steers)
    if latencies:
        p50 = statistics.median(latencies) * 1000
        p95 = sorted(latencies)[int(len(latencies) * 0.95) - 1] * 1000
        rows.append(
            ("steering line → on the CLI's stdin, p50", f"{p50:.1f} ms", "≤ 100 ms", p50 <= 100)
        )
        rows.append(("steering line → on the CLI's stdin, p95", f"{p95:.1f} ms", "", None))
        rows.append(("lines delivered", f"{len(latencies)}/{args.steers}", "", None))
    for kind in ("claude", "codex"):
        measured = overhead(kind, args.runs)
        if measured is None:
            rows.append((f"{kind}: live-run overhead", "not installed", "≤ 5 %", None))
            continue
        one_shot, live, paired = measured
        extra = paired * 100
        rows.append((f"{kind}: one-shot run, median", f"{one_shot * 1000:.0f} ms", "", None))
        rows.append((f"{kind}: live run, median", f"{live * 1000:.0f} ms", "", None))
        rows.append(
            (f"{kind}: live-run overhead (median of pairs)", f"{extra:+.1f} %", "≤ 5 %", extra <= 5)
        )
    _print(rows)


def _print(rows: list[tuple[str, str, str, bool | None]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'measured':>14}  {'target':>9}")
    for label, value, target, ok in rows:
        mark = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{label:<{width}}  {value:>14}  {target:>9}  {mark}")


if __name__ == "__main__":
    main()
