"""A CLI that dies by a signal: the answer it finished counts, an interrupted run is
tried once more.

The REAL ``claude`` and ``codex`` CLIs run against the loopback provider fakes. A
CLI killed in the moment between printing its final result line and exiting (here:
a wrapper that runs the real CLI, then SIGKILLs itself) still answers. A CLI that the
OOM killer (here: the test's ``kill -9``) ends while it waits for the model gets one
more run within ``max_attempts``; a second such kill is answered with the error.
"""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path

import pytest

from tests.fakes.providers import Reply
from tests.support.messages import message, reply_for
from tests.support.waiting import wait_for
from tests.worker import test_real_clis
from tests.worker.test_real_clis import Stage
from tinyclaw.spool import Spool

stage = test_real_clis.stage  # the fixture: one home, one actor, each real CLI

pytestmark = pytest.mark.cli


def _dies_after_answering(tmp_path: Path, real: str) -> str:
    """A command that runs the real CLI and is then killed before it can exit."""
    script = tmp_path / "dies-after-answering"
    script.write_text(f'#!/bin/sh\n{shlex.quote(real)} "$@"\nkill -KILL $$\n', encoding="utf-8")
    script.chmod(0o755)
    return str(script)


def _kill_the_waiting_cli(stage: Stage, runs: int) -> None:
    """Wait until the ``runs``-th run is waiting on the model, then SIGKILL its CLI."""
    wait_for(lambda: len(stage.fake.model_requests()) >= runs, 90, f"model request {runs}")
    starts = [e for e in stage.events if e.kind == "start"]
    os.kill(starts[runs - 1].data["pid"], signal.SIGKILL)


def test_a_cli_killed_after_its_final_result_still_answers(stage: Stage, tmp_path: Path) -> None:
    assert stage.settings.command is not None
    stage.configure(command=_dies_after_answering(tmp_path, stage.settings.command))
    with stage.serving():
        reply = stage.ask("finished before the kill")

    assert reply.kind == "reply", reply.text
    assert reply.text == "echo: finished before the kill"
    assert len(stage.fake.model_requests()) == 1  # the answer was not run again


def test_a_cli_killed_from_outside_is_run_once_more(stage: Stage) -> None:
    stage.fake.enqueue(Reply.hang())
    msg = message("interrupted once")
    with stage.serving():
        Spool(stage.home).put(msg)
        _kill_the_waiting_cli(stage, 1)
        reply = reply_for(stage.home, msg, 90)

    assert reply.kind == "reply", reply.text
    assert reply.text == "echo: interrupted once"
    assert len(stage.fake.model_requests()) == 2


def test_a_second_kill_is_answered_with_the_error(stage: Stage) -> None:
    stage.fake.enqueue(Reply.hang(), Reply.hang())
    msg = message("killed twice")
    with stage.serving():
        Spool(stage.home).put(msg)
        _kill_the_waiting_cli(stage, 1)
        _kill_the_waiting_cli(stage, 2)
        reply = reply_for(stage.home, msg, 90)

    assert reply.kind == "error"
    assert reply.text == (
        "Sorry, the assistant was stopped from outside (SIGKILL) before it answered."
    )
    assert len(stage.fake.model_requests()) == 2
    assert Spool.list_box(Spool(stage.home).failed) == []
