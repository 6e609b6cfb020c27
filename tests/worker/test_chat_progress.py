"""The steps of a run as a chat sees them: at most one every 2 s per chat, only where
the channel asks for them, and never a control character."""

from __future__ import annotations

from tests.worker.conftest import message
from tinyclaw.config import parse_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_reply
from tinyclaw.runners import RunEvent
from tinyclaw.spool import Spool
from tinyclaw.worker.progress import ChatProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def steps(spool: Spool, channel: str) -> list[str]:
    return [load_reply(p.read_bytes()).text for p in spool.list_box(spool.outgoing(channel))]


def test_steps_are_throttled_per_chat_and_made_harmless(home: Home) -> None:
    config = parse_config(
        {"actors": {"coder": {}}, "channels": {"whatsapp": {"progress": "notes"}}}
    )
    spool, clock = Spool(home), Clock()
    progress = ChatProgress(config, spool, clock=clock)
    asked = message("build it", channel="whatsapp", chat="15550001")
    step = progress.for_run(asked, "coder")
    assert step is not None

    step(RunEvent("command", "make \x1b[2J all"))
    clock.now += 0.5
    step(RunEvent("file_change", "Edit a.py"))  # too soon: skipped
    step(RunEvent("text", "thinking"))  # not a step
    clock.now += 2.0
    step(RunEvent("tool", "WebFetch https://example.com"))

    shown = steps(spool, "whatsapp")
    assert shown == ["@coder $ make \\x1b[2J all", "@coder 🔧 WebFetch https://example.com"]
    names = [p.name for p in spool.list_box(spool.outgoing("whatsapp"))]
    assert names == [f"{asked.id}.step1.json", f"{asked.id}.step2.json"]
    meta = load_reply(spool.list_box(spool.outgoing("whatsapp"))[1].read_bytes()).meta
    assert meta == {"progress_of": asked.id, "step": 2}


def test_a_channel_that_did_not_ask_gets_no_steps_and_the_terminal_always_does(
    home: Home,
) -> None:
    config = parse_config({"actors": {"coder": {}}})
    progress = ChatProgress(config, Spool(home), clock=Clock())
    assert progress.for_run(message("hi", channel="whatsapp", chat="42"), "coder") is None
    assert progress.for_run(message("hi"), "coder") is not None  # cli


def test_telegram_and_discord_get_steps_unless_their_channel_says_off(home: Home) -> None:
    """Their listeners edit one status message in place, so steps are on by default."""
    config = parse_config({"actors": {"coder": {}}})
    progress = ChatProgress(config, Spool(home), clock=Clock())
    for channel in ("telegram", "discord"):
        assert progress.for_run(message("hi", channel=channel, chat="42"), "coder") is not None
    off = parse_config({"actors": {"coder": {}}, "channels": {"telegram": {"progress": "off"}}})
    quiet = ChatProgress(off, Spool(home), clock=Clock())
    assert quiet.for_run(message("hi", channel="telegram", chat="42"), "coder") is None
