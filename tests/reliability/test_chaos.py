"""Chaos: a worker SIGKILLed at random moments still answers every message exactly once.

The small variant of ``scripts/chaos.py`` (150 messages, 4 worker kills; a third of
the messages through a real Telegram listener against the loopback fake, killed
twice) runs the script itself, so the README's figures come from the code tested here.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.worker.conftest import (
    REPO,
    fake_cli_config,
    message,
    reply_for,
    start_worker_process,
    wait_for,
    write_config,
)
from tinyclaw.home import Home
from tinyclaw.spool import Spool


def test_150_messages_4_worker_and_2_listener_sigkills_none_lost_none_doubled(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "chaos.py"),
            "--messages=150",
            "--kills=4",
            "--telegram=0.3",
            "--listener-kills=2",
            "--seed=20260",
            "--rate=400",
            "--timeout=120",
            f"--home={tmp_path / 'chaos'}",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    figures = json.loads(run.stdout)
    summary = {k: v for k, v in figures.items() if not k.endswith(("_ids", "_samples"))}
    assert figures["settled"], summary
    assert figures["kills"] == 4 and figures["listener_kills"] == 2
    assert figures["lost"] == 0, figures["lost_ids"]
    assert figures["duplicated"] == 0, figures["duplicated_ids"]
    assert figures["replies"] + figures["telegram_messages"] == 150
    assert figures["telegram_messages"] > 20 and figures["telegram_lost"] == 0
    # At most the one part in flight at a listener kill is sent twice (no idempotency
    # key in the Bot API); nothing the queue decides is ever doubled.
    assert figures["telegram_duplicated"] <= figures["listener_kills"]
    assert figures["wrong_replies"] == 0 and figures["error_replies"] == 0, summary
    assert figures["failed_without_reason"] == 0
    assert figures["left_in_queue"] == 0
    assert figures["out_of_order"] == 0
    assert figures["worker_exit_on_sigterm"] == 0
    assert figures["left_in_journal"] == 0


def test_a_kill_right_after_the_reply_leaves_nothing_in_the_run_journal(home: Home) -> None:
    write_config(home, fake_cli_config())
    spool = Spool(home)
    msg = message("answer me once")
    spool.put(msg)
    crashed = start_worker_process(home, TINYCLAW_FAILPOINT="worker.replied")
    assert crashed.wait(30) == -signal.SIGKILL
    crashed.stderr.close()  # type: ignore[union-attr]
    worker = start_worker_process(home)
    try:
        assert reply_for(home, msg).text == "echo: answer me once"
        wait_for(lambda: spool.depths()["processing"] + spool.depths()["inboxes"] == 0)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        worker.stderr.close()  # type: ignore[union-attr]
    assert list((home.state / "results").iterdir()) == []
