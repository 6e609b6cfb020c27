"""How the Bot API judges a message's formatting, for the fake: the entity rules of
the Bot API documentation ("MessageEntity", "Formatting options") and the HTML parse
mode's tag rules. A conversion that breaks one of them fails its test with the same
400 "can't parse entities" a real bot would get.

Entities (offsets and lengths in UTF-16 code units):

* a known type; ``offset`` ≥ 0, ``length`` > 0, inside the text, never in the middle
  of a surrogate pair; ``text_link`` has an http(s)/tg/mailto URL;
* two entities with common characters: one contains the other (no partial overlap);
* ``pre`` and ``code`` contain nothing and lie inside nothing but a quote;
* quotes do not nest; other non-style entities do not contain each other.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

STYLES = frozenset({"bold", "italic", "underline", "strikethrough", "spoiler"})
QUOTES = frozenset({"blockquote", "expandable_blockquote"})
LEAVES = frozenset({"code", "pre"})
TYPES = (
    STYLES
    | QUOTES
    | LEAVES
    | frozenset(
        {
            "mention",
            "hashtag",
            "cashtag",
            "bot_command",
            "url",
            "email",
            "phone_number",
            "text_link",
            "text_mention",
            "custom_emoji",
            "date_time",
        }
    )
)
HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "code", "pre", "blockquote", "tg-emoji", "tg-time",
    }
)  # fmt: skip


def _boundaries(text: str) -> tuple[int, set[int]]:
    """Total UTF-16 length and the offsets that fall between characters."""
    offsets = {0}
    position = 0
    for char in text:
        position += 2 if ord(char) > 0xFFFF else 1
        offsets.add(position)
    return position, offsets


def _one_problem(entity: Any, total: int, valid: set[int]) -> str | None:
    if not isinstance(entity, dict):
        return "an entity is not an object"
    kind = entity.get("type")
    offset, length = entity.get("offset"), entity.get("length")
    if kind not in TYPES:
        return f"unsupported entity type {kind!r}"
    if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
        return f"entity {kind} has a bad offset/length ({offset!r}, {length!r})"
    if offset + length > total:
        return f"entity {kind} at UTF-16 offset {offset} ends after the end of the text"
    if offset not in valid or offset + length not in valid:
        return f"entity {kind} at UTF-16 offset {offset} splits a character"
    if kind == "text_link":
        url = str(entity.get("url", ""))
        if not url.lower().startswith(("http://", "https://", "tg://", "mailto:")):
            return f"wrong HTTP URL {url!r}"
    return None


def _pair_problem(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    a_start, a_end = a["offset"], a["offset"] + a["length"]
    b_start, b_end = b["offset"], b["offset"] + b["length"]
    if a_end <= b_start or b_end <= a_start:
        return None
    a_in_b = b_start <= a_start and a_end <= b_end
    b_in_a = a_start <= b_start and b_end <= a_end
    if not (a_in_b or b_in_a):
        return f"entities {a['type']} and {b['type']} overlap partially"
    if a_in_b and b_in_a:  # the same range: either may be the outer one
        one, other = _nesting_problem(a, b), _nesting_problem(b, a)
        return None if one is None or other is None else one
    outer, inner = (b, a) if a_in_b else (a, b)
    return _nesting_problem(outer, inner)


def _nesting_problem(outer: dict[str, Any], inner: dict[str, Any]) -> str | None:
    if outer["type"] in QUOTES and inner["type"] in QUOTES:
        return "blockquotes can't be nested"
    if outer["type"] in QUOTES:
        return None
    if outer["type"] in LEAVES or inner["type"] in LEAVES:
        return f"{inner['type']} can't be inside {outer['type']}"
    if outer["type"] in STYLES or inner["type"] in STYLES:
        return None
    return f"{inner['type']} can't be inside {outer['type']}"


def entity_problem(text: str, entities: Any) -> str | None:
    """Why Telegram would refuse ``entities`` on ``text``; None when it takes them."""
    if not isinstance(entities, list):
        return "entities must be an array"
    total, valid = _boundaries(text)
    for entity in entities:
        problem = _one_problem(entity, total, valid)
        if problem is not None:
            return problem
    for index, first in enumerate(entities):
        for second in entities[index + 1 :]:
            problem = _pair_problem(first, second)
            if problem is not None:
                return problem
    return None


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self.problem = self.problem or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f'Can\'t find end tag corresponding to start tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data:  # a "<" that starts no tag must be written &lt;
            self.problem = self.problem or "Unexpected end of name token"

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.problem = self.problem or f'Unsupported HTML entity "&{name};"'


def html_problem(text: str) -> str | None:
    """Why Telegram would refuse ``text`` with ``parse_mode=HTML``."""
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    if checker.problem:
        return checker.problem
    if checker.stack:
        return f'Can\'t find end tag corresponding to start tag "{checker.stack[-1]}"'
    return None
