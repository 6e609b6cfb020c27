"""Chaos: a worker and three listeners SIGKILLed at random moments still answer every
message exactly once.

The small variant of ``scripts/chaos.py`` (150 messages, 4 worker kills; a fifth of the
messages each through a real Telegram, Discord and WhatsApp listener against the
loopback fakes, each listener killed twice while messages arrive) runs the script
itself, so the figures in docs/reliability.md come from the code tested here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.worker.conftest import (
    REPO,
    crash_at,
    fake_cli_config,
    message,
    reply_for,
    wait_for,
    worker_process,
    write_config,
)
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

PLATFORMS = ("telegram", "discord", "whatsapp")


def test_150_messages_4_worker_and_3x2_listener_sigkills_none_lost_none_doubled(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "chaos.py"),
            "--messages=150",
            "--kills=4",
            "--telegram=0.2",
            "--discord=0.2",
            "--whatsapp=0.2",
            "--listener-kills=2",
            "--seed=20260",
            "--rate=40",
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
    assert figures["kills"] == 4 and figures["listener_kills"] == 6
    assert figures["lost"] == 0, figures["lost_ids"]
    assert figures["duplicated"] == 0, figures["duplicated_ids"]
    # Each message is answered, or in failed/ with a reason (a message interrupted by
    # worker.max_attempts kills is given up on rather than run forever).
    answered = sum(figures[f"{p}_answered"] for p in PLATFORMS)
    assert figures["replies"] + answered + figures["failed_with_reason"] == 150, summary
    for p in PLATFORMS:
        assert figures[f"{p}_messages"] > 15, summary
        assert figures[f"{p}_kills"] == 2 and figures[f"{p}_lost"] == 0, summary
        # At most the one part in flight at a listener kill is sent again (no send API
        # of the three takes an idempotency key); nothing the queue decides is doubled.
        assert figures[f"{p}_duplicated"] <= figures[f"{p}_kills"], summary
        assert figures[f"{p}_wrong_chat"] == 0 and figures[f"{p}_left_in_outgoing"] == 0
        assert figures[f"{p}_unexpected_exits"] == 0, summary
        assert figures[f"{p}_exit_on_sigterm"] == 0, summary
    assert figures["wrong_replies"] == 0 and figures["error_replies"] == 0, summary
    assert figures["failed_without_reason"] == 0
    assert figures["left_in_queue"] == 0
    assert figures["out_of_order"] == 0
    assert figures["worker_exit_on_sigterm"] == 0
    assert figures["left_in_journal"] == 0
    assert figures["ok"], summary


def test_a_kill_right_after_the_reply_leaves_nothing_in_the_run_journal(home: Home) -> None:
    write_config(home, fake_cli_config())
    spool = Spool(home)
    msg = message("answer me once")
    spool.put(msg)
    crash_at(home, "worker.replied")
    with worker_process(home):
        assert reply_for(home, msg).text == "echo: answer me once"
        wait_for(lambda: spool.depths()["processing"] + spool.depths()["inboxes"] == 0)
    assert list((home.state / "results").iterdir()) == []
