"""The model's Markdown reaches each platform the way it renders it, split into parts
that each platform accepts, the same parts every time."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.telegram_markup import entity_problem
from tinyclaw.channels.formatting import discord_parts, telegram_parts, whatsapp_parts
from tinyclaw.channels.split import utf16_len

ZWSP = "\u200b"


def styled(part_text: str, entities: tuple[dict[str, object], ...]) -> dict[str, list[str]]:
    """What each entity type covers, as text (offsets are UTF-16)."""
    data = part_text.encode("utf-16-le")
    found: dict[str, list[str]] = {}
    for entity in entities:
        start, length = int(str(entity["offset"])), int(str(entity["length"]))
        covered = data[2 * start : 2 * (start + length)].decode("utf-16-le")
        found.setdefault(str(entity["type"]), []).append(covered)
    return found


# -- Telegram ------------------------------------------------------------------------


def test_telegram_gets_plain_text_with_entities_for_each_style() -> None:
    [part] = telegram_parts(
        "# Plan\n\nSome **bold**, _italic_, ~~gone~~ and `code`; see [the docs](https://x.org/a_b)."
        "\n\n```python\nprint('hi')\n```\n\n> a quote"
    )
    assert part.text == (
        "Plan\n\nSome bold, italic, gone and code; see the docs.\n\nprint('hi')\n\na quote"
    )
    found = styled(part.text, part.entities)
    assert found["bold"] == ["Plan", "bold"]
    assert found["italic"] == ["italic"] and found["strikethrough"] == ["gone"]
    assert found["code"] == ["code"] and found["pre"] == ["print('hi')"]
    assert found["text_link"] == ["the docs"] and found["blockquote"] == ["a quote"]
    [pre] = [e for e in part.entities if e["type"] == "pre"]
    assert pre["language"] == "python"
    assert entity_problem(part.text, list(part.entities)) is None


def test_nothing_the_model_wrote_is_dropped_for_telegram() -> None:
    [part] = telegram_parts("use the <div> element; a<b and x > y & z; see [notes](docs/a.md)")
    assert part.text == "use the <div> element; a<b and x > y & z; see notes (docs/a.md)"
    assert part.entities == ()  # a relative link is no web address: shown, not linked


def test_telegram_offsets_count_utf16_units() -> None:
    [part] = telegram_parts("😀 **bold** 🎉 `x`")
    assert styled(part.text, part.entities) == {"bold": ["bold"], "code": ["x"]}
    assert entity_problem(part.text, list(part.entities)) is None


def test_code_inside_bold_becomes_entities_telegram_accepts() -> None:
    [part] = telegram_parts("**run `make` now**")
    assert styled(part.text, part.entities) == {"bold": ["run ", " now"], "code": ["make"]}
    assert entity_problem(part.text, list(part.entities)) is None


def test_a_table_becomes_an_aligned_monospace_block() -> None:
    [part] = telegram_parts("| box | meaning |\n|---|---|\n| incoming | new |")
    assert part.text == "box      | meaning\n---------+--------\nincoming | new"
    assert [e["type"] for e in part.entities] == ["pre"]


def test_a_long_code_block_is_split_into_two_code_blocks() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(60))
    parts = telegram_parts(f"Here:\n\n```python\n{code}\n```\n\nDone.", limit=400)
    assert len(parts) > 2
    lines = []
    for part in parts:
        assert utf16_len(part.text) <= 400
        assert entity_problem(part.text, list(part.entities)) is None
        for entity in part.entities:
            if entity["type"] == "pre":
                assert entity["language"] == "python"
        lines += styled(part.text, part.entities).get("pre", [""])[0].split("\n")
    assert [line for line in lines if line] == code.split("\n")


# -- WhatsApp ------------------------------------------------------------------------


def test_whatsapp_gets_its_own_markup() -> None:
    [part] = whatsapp_parts(
        "## Plan\n\n**bold**, *italic*, ~~gone~~, `code` and [docs](https://x.org)\n\n"
        "```python\nprint('hi')\n```\n\n> quoted\n\n- one\n- two"
    )
    assert part.text == (
        "*Plan*\n\n*bold*, _italic_, ~gone~, `code` and docs (https://x.org)\n\n"
        "```\nprint('hi')\n```\n\n> quoted\n\n• one\n• two"
    )


def test_whatsapp_never_cuts_inside_a_bold_phrase() -> None:
    phrase = "**" + " ".join(["important"] * 6) + "**"
    text = " ".join(f"word{i}" if i % 7 else phrase for i in range(400))
    parts = whatsapp_parts(text, limit=500)
    bold = "*" + " ".join(["important"] * 6) + "*"
    assert sum(p.text.count(bold) for p in parts) == text.count(phrase)
    assert all(len(p.text) <= 500 for p in parts)


# -- Discord -------------------------------------------------------------------------


def test_discord_keeps_markdown_and_neutralises_mass_mentions() -> None:
    [part] = discord_parts("**Hi** @everyone and @here, not `@everyone` in code")
    assert part.text == f"**Hi** @{ZWSP}everyone and @{ZWSP}here, not `@everyone` in code"


def test_discord_shows_tables_as_code_blocks_and_small_headings_bold() -> None:
    [part] = discord_parts("#### Small\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nafter")
    assert part.text == "**Small**\n\n```\na | b\n--+--\n1 | 2\n```\n\nafter"


# -- properties of every split -------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "plain words here",
        "**bold phrase**",
        "_italic words_",
        "`inline code`",
        "[a link](https://example.org/x_y)",
        "😀 emoji 🎉",
        "~~struck out~~",
        "\n\n",
        "\n",
        "\n\n```python\ndef f():\n    return 1\n```\n\n",
        "\n\n- item one\n- item **two**\n\n",
        "\n\n> quoted **line**\n\n",
        "@everyone",
        "<tag> & stuff",
        "x" * 120,
    ]
)
REPLIES = st.lists(FRAGMENTS, min_size=1, max_size=80).map(" ".join)


@settings(max_examples=120, deadline=None)
@given(REPLIES)
def test_every_telegram_part_fits_and_telegram_accepts_its_entities(reply: str) -> None:
    parts = telegram_parts(reply, limit=300)
    assert parts == telegram_parts(reply, limit=300)  # a resumed delivery re-splits the same
    for part in parts:
        assert part.text.strip()
        assert utf16_len(part.text) <= 300
        assert entity_problem(part.text, list(part.entities)) is None
    whole = " ".join(p.text for p in telegram_parts(reply, limit=100_000))
    assert " ".join(p.text for p in parts).split() == whole.split()


@settings(max_examples=120, deadline=None)
@given(REPLIES)
def test_every_whatsapp_and_discord_part_fits_with_code_blocks_closed(reply: str) -> None:
    for convert, limit in ((whatsapp_parts, 300), (discord_parts, 300)):
        parts = convert(reply, limit)
        assert parts == convert(reply, limit)
        for part in parts:
            assert len(part.text) <= limit
            fences = [line for line in part.text.split("\n") if line.strip().startswith("```")]
            assert len(fences) % 2 == 0
            if convert is discord_parts:  # outside code, no mass mention survives
                assert not re.search(r"@(everyone|here)", part.text.replace("`@everyone`", ""))


@pytest.mark.parametrize(
    "reply",
    [
        ">- >a",  # a quote inside a list inside a quote: quotes do not nest
        ">![i](https://i.org)",  # a linked image that is a whole quote
        "[**bold `code` link**](https://x.org)",
        "[![img](https://i.org)](https://l.org)",  # a link around a linked image
        "***both*** and ~~**struck bold**~~",
        "| `a|b` | **c** |\n|-|-|\n| [d](https://e.org) | f |",
    ],
)
def test_tricky_nestings_give_entities_telegram_accepts(reply: str) -> None:
    for part in telegram_parts(reply):
        assert entity_problem(part.text, list(part.entities)) is None


def test_an_empty_code_block_leaves_no_fences_or_gaps_behind() -> None:
    assert [p.text for p in whatsapp_parts("a\n\n```\n```\n\nb")] == ["a\n\nb"]
    assert [p.text for p in telegram_parts("a\n\n```py\n```\n\nb")] == ["a\n\nb"]


def test_telegram_never_cuts_inside_a_bold_phrase() -> None:
    phrase = " ".join(["important"] * 6)
    text = " ".join(f"word{i}" if i % 7 else f"**{phrase}**" for i in range(400))
    bold = [b for p in telegram_parts(text, limit=500) for b in styled(p.text, p.entities)["bold"]]
    assert bold == [phrase] * text.count(phrase)
