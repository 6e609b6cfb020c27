#!/usr/bin/env python3
"""Benchmark of the chat listeners. Prints a table;
asserts nothing.

For each of telegram, discord and whatsapp it starts the loopback fake of that platform
(``tests/fakes/``), writes a throw-away home whose ``tinyclaw.toml`` enables the channel
and points it at the fake, and runs the listener as the launcher does: the light entry
``python -m tinyclaw.channels PLATFORM``. Then:

* idle RSS: ~1 s after the ``listener.ready`` event, the listener's resident set
  (target ≤ 70 MB each: the interpreter plus its one library). For context the same is
  measured for a bare interpreter and for one that merely imports the platform library
  (the floor no listener can go under);
* inbound latency: N messages pushed one at a time through the fake (a getUpdates
  update, a MESSAGE_CREATE dispatch, a signed webhook POST), each timed from the push to
  its file appearing in ``queue/incoming/`` (target p50 ≤ 10 ms). The directory is
  polled every ~0.2 ms, so detection adds at most that much.

* reply formatting: a 20,000-character Markdown reply with code blocks, a list and
  a table, rendered and split for each platform, in-process (target p50 ≤ 5 ms);
* voice-note intake: what the shared intake adds for a voice note (a real Ogg Opus
  recording, fetched from memory, saved to ``queue/files/``) over a text message,
  p50 against p50 (target ≤ 20 ms; transcription happens later, in the worker).

Usage: .venv/bin/python scripts/bench_listeners.py [-n 100] [--idle 1.0] [--only PLATFORM]
       .venv/bin/python scripts/bench_listeners.py --chat-only   (the last two only)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.discord_api import DiscordFake  # noqa: E402
from tests.fakes.telegram_api import TelegramFake  # noqa: E402
from tests.fakes.whatsapp_api import WebhookSender, WhatsAppFake, sign  # noqa: E402
from tinyclaw.core.fsutil import unique_name, write_tmp  # noqa: E402
from tinyclaw.core.home import Home  # noqa: E402

RSS_TARGET_MB = 70.0
P50_TARGET_MS = 10.0
POLL_INTERVAL = 0.0002
TELEGRAM_USER = 1001
WHATSAPP_USER = "16315551234"
WA_APP_SECRET = "bench-app-secret"
WA_VERIFY = "bench-verify"

LIBRARY_IMPORTS = {
    "telegram": "import telegram",
    "discord": "import discord",
    "whatsapp": "import pywa_async, starlette, uvicorn",
}


@dataclass
class Result:
    platform: str
    rss: int = 0  # bytes
    uss: int = 0  # bytes
    floor: int = 0  # bytes: an interpreter that only imported the library
    latencies: list[float] = field(default_factory=list)  # seconds
    disk: list[float] = field(default_factory=list)  # seconds: write_tmp + rename alone
    error: str = ""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB ({n / 2**20:.1f} MiB)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


# -- the library floor ---------------------------------------------------------------------


def import_floor(code: str) -> tuple[int, int]:
    """(RSS, USS) of an interpreter that ran ``code`` and then idles: what a listener
    of that platform costs before any tinyclaw code is loaded."""
    script = f"{code}\nimport sys\nprint('ok', flush=True)\nsys.stdin.read()\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ok":
            raise RuntimeError(f"{code!r} failed")
        time.sleep(0.3)
        info = psutil.Process(proc.pid).memory_full_info()
        return int(info.rss), int(info.uss)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


def disk_floor(root: Path, n: int) -> list[float]:
    """What the queue's own durability costs on this disk right now: a queue-file-sized
    write + fsync in a tmp dir and the rename into a box, timed alone (the listener does
    the same before its file appears, then fsyncs the directory)."""
    tmp, box = root / "disk-tmp", root / "disk-box"
    tmp.mkdir(exist_ok=True)
    box.mkdir(exist_ok=True)
    data = b"x" * 600
    times: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        path = write_tmp(tmp, data)
        os.rename(path, box / unique_name())
        times.append(time.perf_counter() - start)
    return times


# -- one listener --------------------------------------------------------------------------


class Platform:
    """How to start a fake, configure a home for it, and push one inbound message."""

    name = ""
    secrets: dict[str, str]

    def config(self) -> str:
        raise NotImplementedError

    def ready(self) -> bool:
        """Beyond ``listener.ready``: the fake sees the listener (connected / answering)."""
        return True

    def push(self, i: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release anything :meth:`push` holds (clients)."""


class Telegram(Platform):
    name = "telegram"

    def __init__(self, fake: TelegramFake) -> None:
        self.fake = fake
        self.user = fake.user(TELEGRAM_USER)
        self.secrets = {"TELEGRAM_BOT_TOKEN": fake.token}

    def config(self) -> str:
        return f"""
[channels.telegram]
enabled = true
token_env = "TELEGRAM_BOT_TOKEN"
allow_from = ["{TELEGRAM_USER}"]
base_url = "{self.fake.base_url}"
base_file_url = "{self.fake.base_file_url}"
"""

    def ready(self) -> bool:
        return bool(self.fake.calls_to("getUpdates"))

    def push(self, i: int) -> None:
        self.fake.push_message(self.user, f"bench message {i}")


class Discord(Platform):
    name = "discord"

    def __init__(self, fake: DiscordFake) -> None:
        self.fake = fake
        self.user = fake.user("alice")
        self.secrets = {"DISCORD_BOT_TOKEN": fake.token}

    def config(self) -> str:
        return f"""
[channels.discord]
enabled = true
token_env = "DISCORD_BOT_TOKEN"
allow_from = ["{self.user.id}"]
api_base = "{self.fake.api_base}"
gateway_url = "{self.fake.gateway_url}"
"""

    def ready(self) -> bool:
        return self.fake.ready_connections == 1

    def push(self, i: int) -> None:
        self.fake.push_message(channel_id="555", content=f"bench message {i}", author=self.user)


class WhatsApp(Platform):
    name = "whatsapp"

    def __init__(self, fake: WhatsAppFake) -> None:
        self.fake = fake
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.meta = WebhookSender.for_fake(fake, self.url, WA_APP_SECRET)
        self.http = httpx.Client(timeout=10)  # one kept-alive connection, as Meta keeps one
        self.secrets = {
            "WHATSAPP_TOKEN": fake.token,
            "WHATSAPP_VERIFY_TOKEN": WA_VERIFY,
            "WHATSAPP_APP_SECRET": WA_APP_SECRET,
        }

    def config(self) -> str:
        return f"""
[channels.whatsapp]
enabled = true
phone_id = "{self.fake.phone_id}"
api_base = "{self.fake.base_url}"
host = "127.0.0.1"
port = {self.port}
allow_from = ["{WHATSAPP_USER}"]
"""

    def ready(self) -> bool:
        try:
            params = {"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "ok"}
            return httpx.get(self.url, params=params, timeout=1).text == "ok"
        except httpx.TransportError:
            return False

    def push(self, i: int) -> None:
        body = self.meta.body_of(self.meta.text(f"bench message {i}", wa_id=WHATSAPP_USER))
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(body, WA_APP_SECRET),
        }
        response = self.http.post(self.url, content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"webhook POST answered {response.status_code}")

    def close(self) -> None:
        self.http.close()


@contextlib.contextmanager
def platform_with_fake(name: str) -> Iterator[Platform]:
    if name == "telegram":
        with TelegramFake() as tg:
            yield Telegram(tg)
    elif name == "discord":
        with DiscordFake() as dc:
            yield Discord(dc)
    else:
        with WhatsAppFake() as wa:
            platform = WhatsApp(wa)
            try:
                yield platform
            finally:
                platform.close()


def events_text(home: Home) -> str:
    path = home.logs / "events.jsonl"
    return path.read_text() if path.exists() else ""


def measure(platform: Platform, root: Path, n: int, idle: float) -> Result:
    result = Result(platform.name)
    home = Home(root / platform.name)
    home.ensure()
    (root / f"{platform.name}-disk").mkdir()
    home.config_file.write_text(f'[actors.assistant]\nrunner = "claude"\n{platform.config()}')
    env = {
        **os.environ,
        **platform.secrets,
        "PYTHONPATH": str(REPO),
        "TINYCLAW_HOME": str(home.root),
        "HOME": str(root),
    }
    out = (root / f"{platform.name}.out").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyclaw.channels", platform.name],
        env=env,
        cwd=home.root,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: "listener.ready" in events_text(home) or proc.poll() is not None,
            "the listener.ready event",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"the listener exited with {proc.returncode}")
        wait_for(platform.ready, "the fake to see the listener", timeout=15)
        time.sleep(idle)
        info = psutil.Process(proc.pid).memory_full_info()
        result.rss, result.uss = int(info.rss), int(info.uss)
        children = psutil.Process(proc.pid).children(recursive=True)
        if children:
            print(f"note: {platform.name} listener has {len(children)} child process(es)")

        result.disk = disk_floor(root / f"{platform.name}-disk", n)
        incoming = home.root / "queue" / "incoming"
        pusher = _Pusher(platform.push)
        try:
            for i in range(n):
                before = len(os.listdir(incoming))
                start = time.perf_counter()
                pusher.push(i)
                deadline = start + 10
                while len(os.listdir(incoming)) <= before:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"message {i} never reached incoming/")
                    time.sleep(POLL_INTERVAL)
                result.latencies.append(time.perf_counter() - start)
                pusher.wait()
        finally:
            pusher.close()
    except (RuntimeError, TimeoutError, psutil.Error) as exc:
        result.error = str(exc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out.close()
    if proc.returncode not in (0, None) and not result.error:
        result.error = f"the listener exited with {proc.returncode}"
    if result.error:
        tail = (root / f"{platform.name}.out").read_text()[-2000:]
        result.error += f"\n--- listener output ---\n{tail}"
    return result


class _Pusher:
    """Runs pushes on one worker thread, so a push that answers only after the file is
    queued (WhatsApp's webhook) does not delay the moment the main thread sees it."""

    def __init__(self, push: Callable[[int], None]) -> None:
        self._push = push
        self._jobs: list[int] = []
        self._cond = threading.Condition()
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                i = self._jobs.pop()
            try:
                self._push(i)
            except BaseException as exc:  # reported on wait()
                self._error = exc
            self._done.set()

    def push(self, i: int) -> None:
        self._done.clear()
        with self._cond:
            self._jobs.append(i)
            self._cond.notify()

    def wait(self) -> None:
        if not self._done.wait(10):
            raise TimeoutError("a push did not return")
        if self._error is not None:
            raise RuntimeError(f"push failed: {self._error}")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)


# -- formatting and voice intake (no listener process: the work itself, in-process) --------

FORMAT_TARGET_MS = 5.0
VOICE_TARGET_MS = 20.0


def long_reply(size: int = 20_000) -> str:
    """A model's long answer: prose with inline styles, a list, code blocks, a table."""
    para = (
        "The **worker** claims each file by renaming it into `processing/`, so two "
        "workers never run the same message; see [the queue](https://example.org/q) "
        "for the details. A crash leaves the file there and the next start puts it "
        "back, *counting the attempt*; after three it goes to `failed/` with a reason."
    )
    items = "\n".join(
        f"- step {i}: run `tinyclaw {word}` and check the **output**"
        for i, word in enumerate(("init", "doctor", "start", "status", "stop"))
    )
    code = (
        "```python\n"
        + "\n".join(
            f"def handler_{i}(message: Inbound) -> Reply:\n    return reply_to(message, '{i}')"
            for i in range(8)
        )
        + "\n```"
    )
    table = "| box | meaning |\n|---|---|\n| incoming | new |\n| processing | claimed |"
    blocks: list[str] = []
    while sum(len(b) + 2 for b in blocks) < size:
        blocks.append((para, items, code, para, table)[len(blocks) % 5])
    return "\n\n".join(blocks)[:size]


def formatting_times(n: int) -> dict[str, list[float]]:
    """Seconds to format and split ``long_reply()`` for each platform, ``n`` times."""
    from tinyclaw.channels.formatting import discord_parts, telegram_parts, whatsapp_parts

    text = long_reply()
    times: dict[str, list[float]] = {}
    for name, convert in (
        ("telegram", telegram_parts),
        ("discord", discord_parts),
        ("whatsapp", whatsapp_parts),
    ):
        convert(text)  # warm-up
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            convert(text)
            samples.append(time.perf_counter() - start)
        times[name] = samples
    return times


def voice_intake_times(root: Path, n: int) -> tuple[list[float], list[float]]:
    """Seconds the shared intake takes for a text message and for a voice note (a
    real Ogg Opus recording, fetched from memory: the platform's download is the
    network's time, not intake's), ``n`` of each, alternating."""
    import asyncio

    from tests.fakes.transcription_api import voice_note
    from tinyclaw.channels.base import Channel, IncomingFile, IncomingMessage
    from tinyclaw.config import ChannelConfig

    class Quiet(Channel):
        name = "telegram"
        text_limit = 4096

        async def connect(self) -> None: ...
        async def disconnect(self) -> None: ...
        async def send_text(
            self, chat_id: str, text: str, *, reply_to: str | None = None
        ) -> None: ...
        async def send_file(
            self, chat_id: str, path: Path, *, reply_to: str | None = None
        ) -> None: ...
        async def send_typing(self, chat_id: str) -> None: ...

    recording = voice_note("please remind me to water the plants tomorrow")
    home = Home(root / "voice-home")
    home.ensure()

    async def fetch() -> bytes:
        return recording

    async def run() -> tuple[list[float], list[float]]:
        channel = Quiet(home, ChannelConfig(enabled=True, allow_from=["1"]))
        text_times: list[float] = []
        voice_times: list[float] = []
        for i in range(n):
            for kind, times in (("text", text_times), ("voice", voice_times)):
                files = (
                    [IncomingFile("voice.ogg", "voice", fetch, len(recording), "audio/ogg", 3.0)]
                    if kind == "voice"
                    else []
                )
                message = IncomingMessage(
                    chat_id="1", message_id=f"{kind}{i}", sender_id="1", text="", files=files
                )
                start = time.perf_counter()
                await channel.receive(message)
                times.append(time.perf_counter() - start)
        await channel.typing.close()
        return text_times, voice_times

    return asyncio.run(run())


def chat_rows(root: Path, n: int) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, samples in formatting_times(n).items():
        ms = [x * 1000 for x in samples]
        p50 = statistics.median(ms)
        rows.append(
            (
                f"{name}: format + split a 20,000-char reply (n={n})",
                f"p50 {p50:.2f} / p95 {pct(ms, 0.95):.2f} ms",
                f"p50 ≤ {FORMAT_TARGET_MS:.0f} ms",
                "PASS" if p50 <= FORMAT_TARGET_MS else "FAIL",
            )
        )
    text_times, voice_times = voice_intake_times(root, n)
    extra = (statistics.median(voice_times) - statistics.median(text_times)) * 1000
    rows.append(
        (
            f"extra intake time of a voice note (n={n})",
            f"{extra:.2f} ms (voice p50 {statistics.median(voice_times) * 1000:.2f}, "
            f"text p50 {statistics.median(text_times) * 1000:.2f})",
            f"≤ {VOICE_TARGET_MS:.0f} ms",
            "PASS" if extra <= VOICE_TARGET_MS else "FAIL",
        )
    )
    return rows


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("figure", "measured", "target", "ok?")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


# -- report --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="inbound messages per listener")
    parser.add_argument("--idle", type=float, default=1.0, help="seconds idle before RSS")
    parser.add_argument("--only", choices=tuple(LIBRARY_IMPORTS), action="append")
    parser.add_argument(
        "--chat-only",
        action="store_true",
        help="only the formatting and voice-intake figures (no listener processes)",
    )
    options = parser.parse_args()
    names = [] if options.chat_only else (options.only or list(LIBRARY_IMPORTS))
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        print("benchmarking reply formatting and voice-note intake ...", flush=True)
        print_table(chat_rows(Path(tmp), options.n))
    if not names:
        return 0

    bare_rss, bare_uss = import_floor("pass")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-listeners-") as tmp:
        for name in names:
            print(f"benchmarking the {name} listener ...", flush=True)
            with platform_with_fake(name) as platform:
                result = measure(platform, Path(tmp), options.n, options.idle)
            result.floor = import_floor(LIBRARY_IMPORTS[name])[0]
            results.append(result)

    rows: list[tuple[str, str, str, str]] = []
    for r in results:
        if r.error:
            rows.append((f"{r.platform} listener run", "FAILED (see below)", "-", "MISSED"))
        if not r.rss or not r.latencies:
            continue
        rss_mb = r.rss / 1e6
        rows.append(
            (
                f"{r.platform} listener idle RSS",
                mb(r.rss),
                f"≤ {RSS_TARGET_MB:.0f} MB",
                "ok" if rss_mb <= RSS_TARGET_MB else "MISSED",
            )
        )
        ms = [x * 1000 for x in r.latencies]
        p50 = statistics.median(ms)
        rows.append(
            (
                f"{r.platform} inbound latency (n={len(ms)})",
                f"p50 {p50:.2f} / p95 {pct(ms, 0.95):.2f} / max {max(ms):.2f} ms",
                f"p50 ≤ {P50_TARGET_MS:.0f} ms",
                "ok" if p50 <= P50_TARGET_MS else "MISSED",
            )
        )
    print_table(rows)

    print("\ncontext (no target):")
    print(f"  bare interpreter (python -c pass): RSS {mb(bare_rss)}, USS {mb(bare_uss)}")
    for r in results:
        extra = (
            f"; listener USS {mb(r.uss)}; listener - floor {(r.rss - r.floor) / 1e6:+.1f} MB"
            if r.rss
            else ""
        )
        print(f"  python -c {LIBRARY_IMPORTS[r.platform]!r}: RSS {mb(r.floor)}{extra}")
    for r in results:
        if r.disk:
            ms = [x * 1000 for x in r.disk]
            print(
                f"  disk floor before the {r.platform} run (tmp write + fsync + rename, alone): "
                f"p50 {statistics.median(ms):.2f} / p95 {pct(ms, 0.95):.2f} / max {max(ms):.2f} ms"
            )
    for r in results:
        if r.error:
            print(f"\n{r.platform} failed: {r.error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
