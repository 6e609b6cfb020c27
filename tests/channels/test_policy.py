"""The small pure rules every listener shares: commands, mentions, the allow-list."""

from __future__ import annotations

import pytest

from tinyclaw.channels.chat_commands import parse_command
from tinyclaw.channels.gate import AllowListGate, Gate
from tinyclaw.channels.intake import mentions, strip_mentions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/help", ("help", "")),
        ("/Reset@my_bot   @coder", ("reset", "@coder")),
        ("  /status  ", ("status", "")),
        ("/start", ("help", "")),
        ("/pair ab12-CD34", ("pair", "ab12-CD34")),
        ("/cancel now please", ("cancel", "now please")),
    ],
)
def test_our_commands_are_recognized_and_normalized(text: str, expected: tuple[str, str]) -> None:
    parsed = parse_command(text)
    assert parsed is not None and (parsed.name, parsed.args) == expected


@pytest.mark.parametrize("text", ["/weather", "hello /help", "//help", "/", "help", "/usr/bin/ls"])
def test_anything_else_is_ordinary_chat(text: str) -> None:
    assert parse_command(text) is None


def test_the_worker_gets_the_normalized_text() -> None:
    parsed = parse_command("/reset@bot  @coder ")
    assert parsed is not None and parsed.text == "/reset @coder"


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("@Tiny_Bot summarize this", "summarize this"),
        ("hey @tiny_bot, look", "hey , look"),
        ("/help@tiny_bot", "/help"),
        ("/pair@tiny_bot ABCD", "/pair ABCD"),
        ("write to ops@tiny_bot.example", "write to ops@tiny_bot.example"),
        ("@tiny_botanist is someone else", "@tiny_botanist is someone else"),
    ],
)
def test_the_bot_mention_is_stripped_and_nothing_else(text: str, clean: str) -> None:
    assert strip_mentions(text, ["@tiny_bot"]) == clean


def test_a_mention_is_found_case_insensitively() -> None:
    assert mentions("Hi @TINY_BOT", ["@tiny_bot"])
    assert not mentions("Hi everyone", ["@tiny_bot"])
    assert not mentions("Hi @tiny_bot", [])
    assert mentions("/status@tiny_bot", ["@tiny_bot"])
    assert not mentions("ask @tiny_botanist", ["@tiny_bot"])
    assert not mentions("mail ops@tiny_bot.example", ["@tiny_bot"])


def test_the_allow_list_matches_exact_ids_and_an_empty_one_denies_all() -> None:
    gate = AllowListGate(["123", "alice"])
    assert isinstance(gate, Gate)
    assert gate.check("telegram", "123").allowed
    assert not gate.check("telegram", "0123").allowed
    assert not gate.check("telegram", "12").allowed
    denied = gate.check("discord", "999")
    assert not denied.allowed and denied.reply is not None and "999" in denied.reply
    assert not AllowListGate([]).check("telegram", "123").allowed
    assert gate.handle_pair("telegram", "5", "CODE") == "pairing is not enabled"
