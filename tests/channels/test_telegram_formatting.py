"""A reply written in Markdown arrives on Telegram formatted: the real
python-telegram-bot against the fake, which judges entities as the Bot API does, so a
bad conversion fails here with its 400. (Discord and WhatsApp: in their own tests.)"""

from __future__ import annotations

import json
from typing import Any

from tests.channels.conftest import until
from tests.channels.test_telegram_outbound import CHAT, reply, sent_box
from tests.fakes.telegram_api import ScriptedError, TelegramFake
from tests.fakes.telegram_markup import entity_problem
from tinyclaw.channels.formatting import telegram_parts
from tinyclaw.channels.models import TextPart
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

ANSWER = (
    "## Status\n\nThe build is **green**; run `make test` again, see "
    "[the log](https://ci.example.org/42).\n\n```sh\nmake test\n```"
)
UNPARSEABLE = ScriptedError(400, "Bad Request: can't parse entities: unsupported start tag")


def kinds(entities: tuple[dict[str, Any], ...]) -> list[str]:
    return [str(e["type"]) for e in entities]


async def test_a_markdown_reply_reaches_telegram_styled(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    async with run_telegram():
        Spool(home).put_reply(reply(ANSWER, actor="assistant"))
        await until(lambda: sent_box(home), "the reply delivered")
    [sent] = telegram_fake.sent
    assert sent.text == (
        "Status\n\nThe build is green; run make test again, see the log.\n\nmake test"
    )
    assert sent.parse_mode is None  # entities: nothing to escape, nothing to mis-parse
    assert kinds(sent.entities) == ["bold", "bold", "code", "text_link", "pre"]
    assert entity_problem(sent.text, list(sent.entities)) is None


async def test_tinyclaws_own_answers_are_sent_as_written(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    """A command's answer (no actor wrote it) is laid out by tinyclaw: Markdown would
    join its indented lines and eat the indentation."""
    table = "By actor:\n  @assistant: today $0.25\n  @coder: today $0.00 *none*"
    async with run_telegram():
        Spool(home).put_reply(reply(table, kind="notice"))
        await until(lambda: sent_box(home), "the answer delivered")
    [sent] = telegram_fake.sent
    assert sent.text == table
    assert not sent.entities


async def test_a_reply_telegram_cannot_parse_is_sent_again_as_plain_text(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    telegram_fake.fail("sendMessage", UNPARSEABLE)
    async with run_telegram():
        Spool(home).put_reply(reply(ANSWER, actor="assistant"))
        await until(lambda: sent_box(home), "the reply delivered")
    refused, accepted = telegram_fake.calls_to("sendMessage")
    assert refused.status == 400 and json.loads(json.dumps(refused.params["entities"]))
    assert accepted.status == 200 and "entities" not in accepted.params
    [sent] = telegram_fake.sent
    assert sent.text.startswith("Status\n\nThe build is green") and sent.entities == ()


async def test_the_fake_refuses_a_malformed_entity_and_the_words_still_arrive(
    telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    broken = TextPart("bold code", ({"type": "bold", "offset": 0, "length": 7},
                                    {"type": "code", "offset": 5, "length": 4}))  # fmt: skip
    async with run_telegram() as channel:
        await channel.send_part(CHAT, broken)
    refused, accepted = telegram_fake.calls_to("sendMessage")
    assert (refused.status, accepted.status) == (400, 200)
    assert [s.text for s in telegram_fake.sent] == ["bold code"]


async def test_a_long_reply_with_code_resumes_with_the_same_parts_after_a_crash(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    code = "\n".join(f"step_{i} = run({i})  # {'x' * 40}" for i in range(250))
    text = f"Here is the script:\n\n```python\n{code}\n```\n\nThat is **all**."
    parts = telegram_parts(text)
    assert len(parts) >= 3
    # Killed after the first part: its progress was saved in the reply file.
    Spool(home).put_reply(reply(text, actor="assistant", meta={"parts_sent": 1}))
    async with run_telegram():
        await until(lambda: sent_box(home), "the rest delivered")
    sent = telegram_fake.sent
    assert [s.text for s in sent] == [p.text for p in parts[1:]]
    for message in sent:
        assert len(message.text.encode("utf-16-le")) // 2 <= 4096
        assert "pre" in kinds(message.entities)  # each part of the code block is code


async def test_plain_formatting_sends_the_markdown_as_written(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    async with run_telegram(formatting="plain"):
        Spool(home).put_reply(reply(ANSWER, actor="assistant"))
        await until(lambda: sent_box(home), "the reply delivered")
    [sent] = telegram_fake.sent
    assert (sent.text, sent.entities) == (ANSWER, ())
