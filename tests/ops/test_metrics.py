"""Metrics as Prometheus scrapes them, after real messages went through a real worker
running the fake CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.support.commands import run_tinyclaw
from tests.support.messages import ask
from tests.support.paths import REPO
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tests.support.worker import fake_cli_config, worker_process, write_config
from tinyclaw.core.home import Home

SLOW = {"FAKE_CLI_SLEEP_ON": "slowly", "FAKE_CLI_SLEEP": "10"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def metrics_config(home: Home, section: str) -> None:
    extra = f"[metrics]\nenabled = true\n{section}\n[channels.telegram]\nenabled = true\n"
    actors: dict[str, dict[str, object]] = {"assistant": {"timeout": 1}}
    write_config(home, fake_cli_config(actors, env=SLOW, extra=extra))


def test_the_endpoint_shows_runs_failures_latency_cost_queues_and_listeners(home: Home) -> None:
    port = free_port()
    metrics_config(home, f"port = {port}")
    with worker_process(home):
        assert ask(home, "hello") == "echo: hello"
        failed = ask(home, "answer slowly")  # the actor's 1 s timeout ends this run
        assert "echo" not in failed
        # The reply is written before the run gives back its slot: wait for the gauge.
        seen = wait_for(
            lambda: (s := samples(scrape(port)))[("tinyclaw_runs_in_flight", ())] == 0 and s,
            10,
            "no run in flight",
        )
        doctor = run_tinyclaw("doctor", home=home)
    assert seen[("tinyclaw_worker_up", ())] == 1
    actor = (("actor", "assistant"),)
    assert seen[("tinyclaw_runs_total", actor)] == 2
    assert seen[("tinyclaw_run_failures_total", actor)] == 1
    assert seen[("tinyclaw_run_duration_seconds_count", actor)] == 2
    assert seen[("tinyclaw_run_duration_seconds_sum", actor)] >= 1.0
    assert seen[("tinyclaw_run_duration_seconds_bucket", (*actor, ("le", "+Inf")))] == 2
    assert seen[("tinyclaw_cost_usd_total", actor)] == 0
    assert seen[("tinyclaw_queue_depth", (("box", "incoming"), ("name", "")))] == 0
    assert seen[("tinyclaw_queue_depth", (("box", "inbox"), ("name", "assistant")))] == 0
    assert seen[("tinyclaw_queue_depth", (("box", "outgoing"), ("name", "cli")))] == 2
    assert seen[("tinyclaw_listener_up", (("channel", "telegram"),))] == 0
    assert seen[("tinyclaw_runs_in_flight", ())] == 0
    assert f"ok    metrics: http://127.0.0.1:{port}/metrics answers" in doctor.stdout
    # the worker gone, doctor says the endpoint does not answer
    after = run_tinyclaw("doctor", home=home)
    assert f"FAIL  metrics: nothing answers at http://127.0.0.1:{port}/metrics" in after.stdout


def test_the_textfile_for_node_exporter_is_written_and_kept_fresh(home: Home) -> None:
    metrics_config(home, 'exporter = "textfile"\ninterval = 0.2\ntextfile = "prom/tc.prom"')
    path = home.root / "prom" / "tc.prom"
    with worker_process(home):
        assert ask(home, "hello") == "echo: hello"

        def counted() -> bool:
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            return samples(text).get(("tinyclaw_runs_total", (("actor", "assistant"),))) == 1

        wait_for(counted, 20, "the textfile to count the run")
        assert "ok    metrics:" in run_tinyclaw("doctor", home=home).stdout
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))  # the worker is gone; the file ages
    stale = run_tinyclaw("doctor", home=home).stdout
    assert re.search(
        rf"FAIL  metrics: {re.escape(str(path))} is stale \(written 36\d\d s ago\)", stale
    )
    path.unlink()
    assert f"FAIL  metrics: {path} is missing" in run_tinyclaw("doctor", home=home).stdout


PROBE = """
import os, signal, sys, threading, time
from tinyclaw.worker.entry import run_worker
from tinyclaw.core.home import find_home
home = find_home()
def started():
    events = home.logs / "events.jsonl"
    lines = events.read_text().splitlines() if events.exists() else []
    return any("worker.start" in x and f'"pid": {os.getpid()},' in x for x in lines)
def probe():
    while not started():
        time.sleep(0.05)
    print("prometheus_client" in sys.modules, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=probe, daemon=True).start()
run_worker(home)
"""


def worker_imports_prometheus(home: Home) -> bool:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, "TINYCLAW_HOME": str(home.root)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {"True": True, "False": False}[result.stdout.strip()]


def test_metrics_are_off_by_default_and_then_the_worker_does_not_import_prometheus(
    home: Home,
) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    assert not worker_imports_prometheus(home)
    metrics_config(home, f"port = {free_port()}")
    assert worker_imports_prometheus(home)
