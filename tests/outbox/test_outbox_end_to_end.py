"""The whole way: the real ``claude`` CLI, run by the worker, writes an outbox file
with its Write tool; the worker's outbox service queues it; the Telegram listener
delivers it to the Bot API fake. A file for a stranger goes to ``failed/`` instead."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.channels.conftest import ALICE_ID, until
from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tests.fakes.telegram_api import TelegramFake
from tests.schedule.running import (
    claude_config,
    failed_reasons,
    outgoing,
    worker_with_services,
)
from tests.worker.conftest import message, reply_for, wait_for, write_config
from tinyclaw.config import RunnerSettings
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

from .conftest import workspace

pytestmark = pytest.mark.cli


async def test_claude_writes_to_its_outbox_and_alice_gets_it_on_telegram(
    home: Home,
    claude_settings: RunnerSettings,
    anthropic_fake: AnthropicFake,
    telegram_fake: TelegramFake,
    run_telegram: Any,
) -> None:
    actors: dict[str, dict[str, object]] = {
        "assistant": {"owner_chat": f"telegram:{ALICE_ID}", "permission_mode": "acceptEdits"},
    }
    write_config(home, claude_config(claude_settings, actors))
    ws = workspace(home, "assistant")
    note = {"to": f"telegram:{ALICE_ID}", "text": "The nightly run is done.", "files": ["r.txt"]}
    anthropic_fake.on_marker(
        "NIGHTLY",
        Reply.tool("Write", {"file_path": str(ws / "r.txt"), "content": "42 tests passed\n"}),
        Reply.tool("Write", {"file_path": str(ws / "outbox" / "done.json"), "content": json.dumps(note)}),
        Reply.tool(
            "Write",
            {
                "file_path": str(ws / "outbox" / "stranger.json"),
                "content": json.dumps({"to": "telegram:666", "text": "hello stranger"}),
            },
        ),
        Reply.say("Done, and I told Alice."),
    )  # fmt: skip
    operator = message("NIGHTLY: run the nightly checks and tell Alice when done")

    spool = Spool(home)
    with worker_with_services(home):
        async with run_telegram():
            spool.put(operator)
            # Delivered means recorded in sent/ (after the Bot API answered), not just
            # seen by the fake: stopping the listener in between would leave it queued.
            await until(
                lambda: len(spool.list_box(spool.sent("telegram"))) == 1,
                "Alice's message delivered",
                timeout=90,
            )
        wait_for(lambda: failed_reasons(home), what="the stranger's file refused")
        # The outbox is handled as files land, so the run may still be finishing.
        answer = reply_for(home, operator, timeout=60)

    text, document = telegram_fake.sent
    assert (text.chat_id, text.kind, text.text) == (str(ALICE_ID), "text", note["text"])
    assert (document.kind, document.file_name, document.data) == (
        "document",
        "r.txt",
        b"42 tests passed\n",
    )
    assert answer.text == "Done, and I told Alice."  # the usual answer
    assert len(anthropic_fake.model_requests()) == 4  # three Write calls, then the answer
    assert "File created" in anthropic_fake.tool_results()[1]

    [(name, reason)] = failed_reasons(home).items()
    assert name.endswith("-stranger.json")
    assert "@assistant may not write to telegram:666" in reason
    assert not any(sent.chat_id == "666" for sent in telegram_fake.sent)
    assert outgoing(home, "telegram") == []  # delivered and moved to sent/
    assert sorted(p.name for p in (ws / "outbox").iterdir()) == []
