"""A worker starts on what its first message needs, and nothing else.

Start-up time and idle memory are mostly imports (see docs/reliability.md, "Speed and
memory"), so what a worker loads before its first answer is pinned here, by name:
the real start path (``python -m tinyclaw.worker``) on a home with one message
waiting, inspected in that process once the reply is written. Structural, not timed:
a package that comes back into the start path fails this test on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.messages import message
from tests.support.paths import REPO
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

# Serves a home without metrics, transcription, a .env, teams' files, schedules, outbox
# files or pairing requests, its first message typed in the terminal: none of these is
# needed, and neither is any command-line or chat-platform library.
LAZY_MODULES = [
    "tinyclaw.metrics",  # [metrics] enabled = true
    "prometheus_client",
    "tinyclaw.transcribe",  # [transcription]
    "httpx",
    "dotenv",  # a .env in the home
    "tinyclaw.cli",  # the command-line application
    "typer",
    "click",
    "rich",
    "tinyclaw.channels",  # the listeners and their platform libraries
    "tinyclaw.launcher",
    "telegram",
    "discord",
    "pywa",
    "nats",  # [spool] backend = "nats"
    "tinyclaw.pairing.records",  # a message from a chat platform, or an owner command
    "tinyclaw.pairing.storage",
    "tinyclaw.pairing.owner_side",
    "tinyclaw.runners.codex",  # an actor that runs codex
    "tinyclaw.runners.codex_live",
    "email_validator",
]

# Models a first message does not validate: built on first use, not at import. Nor is
# any section of tinyclaw.toml: Config's own validator covers them all.
UNBUILT_MODELS = [
    "tinyclaw.schedule.jobs.Job",
    "tinyclaw.schedule.actor_jobs.JobRequest",
    "tinyclaw.outbox.request.OutboxRequest",
    "tinyclaw.pairing.records.StoreData",
    "tinyclaw.teams.conversations.Conversation",
]

PROBE = """
import importlib, json, os, runpy, signal, sys, threading, time

reply, unbuilt = sys.argv[1], json.loads(sys.argv[2])

def built(name):
    module, _, cls = name.rpartition(".")
    # The worker may be importing it right now (it builds its services after the
    # first pass): a class not defined yet is not built either.
    model = getattr(sys.modules.get(module), cls, None)
    return model is not None and model.__pydantic_complete__

def built_sections():
    from tinyclaw.config.settings import Config, Strict
    todo, found = [Strict], []
    while todo:
        for section in todo.pop().__subclasses__():
            todo.append(section)
            if section is not Config and section.__pydantic_complete__:
                found.append(section.__name__)
    return found

def probe():
    while not os.path.exists(reply):
        time.sleep(0.01)
    try:
        print(json.dumps({
            "modules": sorted(sys.modules.copy()),  # one step: imports go on meanwhile
            "built": [name for name in unbuilt if built(name)] + built_sections(),
        }), flush=True)
    finally:
        os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=probe, daemon=True).start()
sys.argv = ["tinyclaw.worker"]
runpy.run_module("tinyclaw.worker", run_name="__main__")
"""


def loaded_after_first_answer(home: Home) -> dict[str, list[str]]:
    """Start ``python -m tinyclaw.worker`` on ``home`` with a message waiting; what it
    has imported, and which of ``UNBUILT_MODELS`` and of the configuration's sections
    it has built, once that message is answered."""
    waiting = message("hello")
    Spool(home).put(waiting)
    reply = home.queue / "outgoing" / "cli" / f"{waiting.id}.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(reply), json.dumps(UNBUILT_MODELS)],
        env={**os.environ, "TINYCLAW_HOME": str(home.root), "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout, result.stderr
    found: dict[str, list[str]] = json.loads(result.stdout)
    return found


def test_a_worker_answers_its_first_message_without_loading_what_only_some_homes_use(
    fake_home: Home,
) -> None:
    loaded = set(loaded_after_first_answer(fake_home)["modules"])
    assert "tinyclaw.worker.loop" in loaded  # the probe saw a serving worker
    assert [name for name in LAZY_MODULES if name in loaded] == []


def test_a_worker_builds_no_model_its_first_message_does_not_validate(
    fake_home: Home,
) -> None:
    assert loaded_after_first_answer(fake_home)["built"] == []
