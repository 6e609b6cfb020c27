#!/usr/bin/env python3
"""Benchmark of the queue on NATS JetStream against the queue on files, on one machine.

Figures (each with its target and PASS/FAIL where the issue sets one):

* **throughput with 1, 2 and 3 worker nodes**, and the scaling ratio: real
  ``tinyclaw worker --node NAME`` processes on one local ``nats-server``, the actors
  spread evenly over the nodes, each node running ``--parallel`` CLIs at a time
  (``[worker] concurrency``), a fake CLI that sleeps 50 ms per run (so the work is
  the CLI's, not the queue's). Target: 3 nodes ≥ 2.5 × one node. Beside each rate,
  the same CLI run as wide by a thread pool with no worker (the machine's own limit,
  measured just before), one worker on files with the same actors and runs, and the
  CPU the workers, their CLIs and the server used per message and how busy the
  machine was: on a small machine the cores, not the queue, can cap the scaling (see
  ``bench/nats_nodes.py``);
* **latency of a whole message**, one at a time: queued (as a listener queues it) →
  its reply written, through ``tinyclaw worker`` and an instant fake CLI, p50 and
  p99, on NATS and on files. Target: p50 ≤ 10 ms through a local NATS;
* latency of the queue alone, ``put`` → ``claim`` (found at the head of the actor's
  inbox and taken) → ``complete``, p50 and p99, through NATS (file storage) and the
  Maildir spool (durable: every rename fsynced, as the worker runs it). Each step is
  timed, and the whole trip; the target is the trip's p50 through NATS: ≤ 10 ms;
* the resident memory (RSS) of an idle ``tinyclaw worker`` on each backend after it
  served those messages; and of a bare process holding each backend after one trip,
  and holding none, so the difference is the backend's own cost.

The server is started by this script on free loopback ports, with its store in a
temporary folder, and stopped at the end. Without ``nats-server`` (or the NATS
client, ``pip install "tinyclaw[nats]"``) it prints one line saying so and measures
nothing.

Usage: .venv/bin/python -m bench.nats [--node-messages 300] [--actors 6]
[--parallel 2] [--rounds 2] [--whole 200] [--messages 500]
(``--help`` says what each is). The defaults take two to three minutes.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.core import warm_bytecode
from bench.nats_nodes import CLI_SECONDS, Served, Throughput, throughput, whole_trips
from tests.spool.contract import make_message
from tests.spool.nats_servers import find_nats_server, single_server
from tests.support.paths import REPO
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

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


def nodes(k: int) -> str:
    return f"{k} node{'s' if k > 1 else ''}"


def costs(label: str, t: Throughput) -> list[Row]:
    """What one run used: CPU per message by whom, requests, busy cores."""
    done = t.rate * t.elapsed
    per = " / ".join(f"{1000 * c / done:.1f}" for c in (t.worker_cpu, t.cli_cpu, t.server_cpu))
    rows: list[Row] = [
        (f"  {label}: CPU per message, worker / CLI / nats-server", f"{per} ms", "", None)
    ]
    if t.requests:
        rows.append(
            (f"  {label}: requests into nats-server per message", f"{t.requests:.1f}", "", None)
        )
    busy = f"{t.cores():.2f} / {t.machine_busy * CORES:.2f} of {CORES}"
    rows.append((f"  {label}: cores busy, the bench's processes / the machine", busy, "", None))
    return rows


def scaling(
    runs: list[dict[int, Throughput]], on_files: list[Throughput], parallel: int
) -> list[Row]:
    """The node figures: each count's median rate against the same CLI run as wide
    with no worker (this machine's limit), the median of the per-round ratios beside
    the limits' own, one worker on files for reference, and what each used (in the
    last round)."""
    counts = sorted(runs[0])
    rows: list[Row] = []
    for k in counts:
        rate = statistics.median(r[k].rate for r in runs)
        alone = statistics.median(r[k].cli_alone for r in runs)
        shown = f"{rate:.1f} msg/s ({rate / alone:.0%} of {alone:.0f})"
        rows.append((f"throughput on NATS, {nodes(k)} (of the CLI alone)", shown, "", None))
    for k in counts[1:]:
        ratio = statistics.median(r[k].rate / r[counts[0]].rate for r in runs)
        limit = statistics.median(r[k].cli_alone / r[counts[0]].cli_alone for r in runs)
        target = k == 3
        rows.append(
            (
                f"  {nodes(k)} vs. {counts[0]} (the CLI alone, {k * parallel} vs. {parallel} wide)",
                f"{ratio:.2f} × ({limit:.2f} ×)",
                "≥ 2.5 ×" if target else "",
                ratio >= 2.5 if target else None,
            )
        )
    rate = statistics.median(t.rate for t in on_files)
    alone = statistics.median(t.cli_alone for t in on_files)
    shown = f"{rate:.1f} msg/s ({rate / alone:.0%} of {alone:.0f})"
    rows.append(("throughput on files, 1 worker, the same actors and runs", shown, "", None))
    rows += costs("files, 1 worker", on_files[-1])
    for k in counts:
        rows += costs(f"NATS, {nodes(k)}", runs[-1][k])
    return rows


def cpu_verdict(runs: list[dict[int, Throughput]], parallel: int) -> str:
    """Whether the cores capped the largest node count, and would at its ideal rate."""
    top = runs[-1][max(runs[-1])]
    ideal = top.nodes * parallel / CLI_SECONDS
    need = top.cores() / top.rate * ideal  # the same CPU per message, at the ideal rate
    facts = (
        f"during the {nodes(top.nodes)} run the machine's {CORES} cores were "
        f"{top.machine_busy:.0%} busy ({top.cores():.2f} cores of it the workers, their "
        f"CLIs, nats-server and this driver); at the ideal {ideal:.0f} msg/s these would "
        f"need {need:.2f} cores"
    )
    if top.machine_busy >= 0.85 or need >= 0.85 * CORES:
        return f"CPU caps the scaling on this machine: {facts}"
    return f"CPU did not cap the scaling: {facts}"


def whole(served: dict[str, Served]) -> list[Row]:
    rows: list[Row] = []
    for backend, name in (("file", "files"), ("nats", "NATS (local)")):
        values = served[backend].latencies
        p50, p99 = percentile(values, 50), percentile(values, 99)
        target = backend == "nats"
        rows.append(
            (
                f"whole message, queued → reply written, {name}: p50",
                f"{p50:.2f} ms",
                "≤ 10 ms" if target else "",
                (p50 <= 10.0) if target else None,
            )
        )
        rows.append(
            (f"whole message, queued → reply written, {name}: p99", f"{p99:.2f} ms", "", None)
        )
    return rows


def memory(served: dict[str, Served], url: str) -> list[Row]:
    files, nats = served["file"].idle_rss, served["nats"].idle_rss
    extra = nats - files
    bare, with_files, with_nats = (rss(w, url) for w in ("none", "file", "nats"))
    return [
        ("RSS, idle tinyclaw worker on files", f"{files:.1f} MB", "", None),
        ("RSS, idle tinyclaw worker on NATS", f"{nats:.1f} MB", "", None),
        ("  NATS over files", f"{extra:+.1f} MB", "≤ +25 MB", extra <= 25.0),
        ("RSS, a process with the spool's modules, no backend", f"{bare:.1f} MB", "", None),
        ("RSS, holding the file spool", f"{with_files:.1f} MB", "", None),
        ("RSS, holding the NATS spool", f"{with_nats:.1f} MB", "", None),
        (
            "  NATS over files (client, loop thread)",
            f"{with_nats - with_files:+.1f} MB",
            "≤ +25 MB",
            with_nats - with_files <= 25.0,
        ),
    ]


def spool_only(url: str, home: Home, count: int) -> list[Row]:
    from tinyclaw.spool.jetstream import JetStreamSpool, NatsConnection, NatsSettings

    files = Spool(home)
    conn = NatsConnection(NatsSettings(servers=[url]))
    nats = JetStreamSpool(conn, prefix="bench")
    rows: list[Row] = []
    try:
        for name, spool, target in (
            ("queue alone, files (fsync)", files, False),
            ("queue alone, NATS (local, file storage)", nats, True),
        ):
            trips(spool, 20)  # warm up
            rows += summarize(name, trips(spool, count), target)
    finally:
        nats.close()
        conn.close()
    return rows


def missing() -> str | None:
    """Why this machine cannot run the bench, or None."""
    if find_nats_server() is None:
        return "nats-server is not installed (apt-get install nats-server)"
    if importlib.util.find_spec("nats") is None:
        return 'the NATS client is not installed (pip install "tinyclaw[nats]")'
    return None


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[1])
    parser.add_argument("--node-messages", type=int, default=300, help="messages per node count")
    parser.add_argument("--actors", type=int, default=6, help="actors, spread over the nodes")
    parser.add_argument("--parallel", type=int, default=2, help="CLI runs at a time per node")
    parser.add_argument("--nodes", type=int, default=3, help="the largest node count")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of 1..N nodes (medians)")
    parser.add_argument("--whole", type=int, default=200, help="whole messages per backend")
    parser.add_argument("--messages", type=int, default=500, help="queue-alone trips per backend")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before the RSS")
    return parser.parse_args()


def main() -> None:
    args = options()
    if (why := missing()) is not None:
        print(f"bench.nats skipped: {why}; nothing measured")
        return
    load = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="bench-nats-") as name,
        single_server(Path(name) / "nats") as server,
    ):
        tmp = Path(name)
        pycache = tmp / "pycache"
        warm_bytecode(pycache)
        runs: list[dict[int, Throughput]] = []
        on_files: list[Throughput] = []
        for r in range(args.rounds):
            burst = functools.partial(
                throughput,
                tmp,
                server,
                actors=args.actors,
                parallel=args.parallel,
                messages=args.node_messages,
                tag=f"r{r}",
                pycache=pycache,
            )
            on_files.append(burst(1, backend="file"))
            runs.append({k: burst(k) for k in range(1, args.nodes + 1)})
        served = {
            b: whole_trips(tmp, b, server.url, args.whole, pycache=pycache, idle_seconds=args.idle)
            for b in ("file", "nats")
        }
        home = Home(tmp / "home")
        home.ensure()
        rows = scaling(runs, on_files, args.parallel)
        rows += whole(served)
        rows += spool_only(server.url, home, args.messages)
        rows += memory(served, server.url)
    cli_ms = f"{CLI_SECONDS * 1000:.0f} ms"
    print(
        f"nats-server {server_version()}, one local server, on {CORES} cores; load average "
        f"{load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end."
    )
    print(
        f"Nodes, fixed for every count: {args.actors} actors spread evenly over the nodes; "
        f"{args.parallel} CLI runs at a time per node ([worker] concurrency = "
        f"{args.parallel}); a CLI that sleeps {cli_ms}; {args.node_messages} messages "
        f"queued at once; median of {args.rounds} round(s). Ideal: nodes × "
        f"{args.parallel} / {cli_ms}. 'The CLI alone': the same CLI run as wide by a "
        "thread pool, no worker, just before each burst: this machine's limit."
    )
    print(
        f"Latency: {args.whole} whole messages and {args.messages} queue-alone trips per "
        "backend, one at a time."
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'measured':>24}  {'target':>9}")
    for label, value, target_text, ok in rows:
        mark = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{label:<{width}}  {value:>24}  {target_text:>9}  {mark}")
    print(cpu_verdict(runs, args.parallel))


def server_version() -> str:
    from tests.spool.nats_servers import nats_server_binary

    out = subprocess.run([nats_server_binary(), "--version"], capture_output=True, text=True)
    return out.stdout.strip().removeprefix("nats-server: ")


CORES = psutil.cpu_count() or 1

if __name__ == "__main__":
    main()
