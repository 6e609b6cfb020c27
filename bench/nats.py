#!/usr/bin/env python3
"""Benchmark of the spool on NATS JetStream against the spool on files, on one machine.

Figures (each with its target and PASS/FAIL where the issue sets one):

* latency of one message through the queue, ``put`` → ``claim`` (found at the head of
  the actor's inbox and taken) → ``complete``, p50 and p99, through a local
  ``nats-server -js`` (file storage) and through the Maildir spool (durable: every
  rename fsynced, as the worker runs it). Each step is timed, and the whole trip;
  the target is the trip's p50 through NATS: ≤ 10 ms.
* the resident memory (RSS) of a process holding each backend after one trip, and of
  the same process holding none, so the difference is the backend's own cost.

Not measured here: throughput with 1, 2 and 3 worker nodes. It needs the worker to
take its messages from the NATS spool, which it does not yet.

The server is started by this script on free loopback ports, with its store in a
temporary folder, and stopped at the end (``nats-server`` must be installed).

Usage: .venv/bin/python -m bench.nats [--messages N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.spool.contract import make_message
from tests.spool.nats_servers import single_server
from tests.support.paths import REPO
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool
from tinyclaw.spool.jetstream import JetStreamSpool, NatsConnection, NatsSettings

Row = tuple[str, str, str, bool | None]


def trips(spool: Any, count: int) -> dict[str, list[float]]:
    """``count`` messages, one at a time, through put → claim → complete (ms)."""
    steps: dict[str, list[float]] = {"put": [], "claim": [], "complete": [], "trip": []}
    for i in range(count):
        message = make_message(f"m{i}")
        t0 = time.perf_counter()
        spool.put_for("bench", message)
        t1 = time.perf_counter()
        claimed = spool.claim(next(spool.pending("bench")), "bench")
        t2 = time.perf_counter()
        assert claimed is not None and spool.load(claimed).id == message.id
        spool.complete(claimed)
        t3 = time.perf_counter()
        for name, value in (("put", t1 - t0), ("claim", t2 - t1), ("complete", t3 - t2)):
            steps[name].append(value * 1000)
        steps["trip"].append((t3 - t0) * 1000)
    return steps


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


RSS_PROBE = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, {repo!r})
from tinyclaw.core.messages import Inbound
def make_message(text):
    return Inbound.model_validate(
        {{"channel": "cli", "chat_id": "local", "sender": {{"id": "me"}}, "text": text, "id": "m1"}}
    )
which = {which!r}
if which == "file":
    from tinyclaw.core.home import Home
    from tinyclaw.spool import Spool
    home = Home(Path(tempfile.mkdtemp()))
    home.ensure()
    spool = Spool(home)
elif which == "nats":
    from tinyclaw.spool.jetstream import JetStreamSpool, NatsConnection, NatsSettings
    spool = JetStreamSpool(NatsConnection(NatsSettings(servers=[{url!r}])), prefix="rss")
else:
    import tinyclaw.spool, tinyclaw.config, tinyclaw.core.messages
    spool = None
if spool is not None:
    spool.put_for("bench", make_message("one"))
    spool.complete(spool.claim(next(spool.pending("bench")), "bench"))
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) / 1024)
"""


def rss(which: str, url: str) -> float:
    """MB resident in a fresh process holding ``which`` after one trip."""
    code = RSS_PROBE.format(repo=str(REPO), which=which, url=url)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return float(out.stdout.strip())


def summarize(name: str, steps: dict[str, list[float]], target: bool) -> list[Row]:
    rows: list[Row] = []
    for step in ("put", "claim", "complete"):
        values = steps[step]
        rows.append(
            (
                f"{name}: {step}, p50 / p99",
                f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} ms",
                "",
                None,
            )
        )
    p50, p99 = percentile(steps["trip"], 50), percentile(steps["trip"], 99)
    rows.append(
        (
            f"{name}: put → claim → complete, p50",
            f"{p50:.2f} ms",
            "≤ 10 ms" if target else "",
            (p50 <= 10.0) if target else None,
        )
    )
    rows.append((f"{name}: put → claim → complete, p99", f"{p99:.2f} ms", "", None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500, help="messages per backend")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-nats-") as tmp,
        single_server(Path(tmp) / "nats") as server,
    ):
        home = Home(Path(tmp) / "home")
        home.ensure()
        files = Spool(home)
        conn = NatsConnection(NatsSettings(servers=[server.url]))
        nats = JetStreamSpool(conn, prefix="bench")
        measure: list[tuple[str, Callable[[], dict[str, list[float]]], bool]] = [
            ("files (fsync)", lambda: trips(files, args.messages), False),
            ("NATS (local, file storage)", lambda: trips(nats, args.messages), True),
        ]
        rows: list[Row] = []
        for name, run, target in measure:
            trips(files if name.startswith("files") else nats, 20)  # warm up
            rows += summarize(name, run(), target)
        nats.close()
        conn.close()

        bare, with_files, with_nats = (rss(w, server.url) for w in ("none", "file", "nats"))
        extra = with_nats - with_files
        rows += [
            ("RSS, a process with the spool's modules, no backend", f"{bare:.1f} MB", "", None),
            ("RSS, holding the file spool", f"{with_files:.1f} MB", "", None),
            ("RSS, holding the NATS spool", f"{with_nats:.1f} MB", "", None),
            (
                "  NATS over files (client, loop thread)",
                f"{extra:+.1f} MB",
                "≤ +25 MB",
                extra <= 25.0,
            ),
        ]
    print(f"{args.messages} messages per backend, one at a time; nats-server {server_version()}")
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'measured':>22}  {'target':>9}")
    for label, value, target_text, ok in rows:
        mark = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{label:<{width}}  {value:>22}  {target_text:>9}  {mark}")
    print("not measured: throughput with 1, 2 and 3 worker nodes (the worker is not on NATS yet)")


def server_version() -> str:
    from tests.spool.nats_servers import nats_server_binary

    out = subprocess.run([nats_server_binary(), "--version"], capture_output=True, text=True)
    return out.stdout.strip().removeprefix("nats-server: ")


if __name__ == "__main__":
    main()
