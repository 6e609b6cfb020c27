"""Reading handoff tags out of an actor's reply. Pure functions.

An actor hands work to a teammate by writing ``[@member: task]`` (or
``[@a,b: task]`` for several at once) anywhere in its reply. The task runs to the
bracket that closes the tag, counting depth, so ``[@coder: fix items[0]]`` keeps its
``]``. Tags inside Markdown code (fenced blocks and inline backticks) are text, not
handoffs: an actor explaining the syntax must not trigger it. An unterminated tag is
text as well; whether a name is a teammate is the coordinator's question, not this
module's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN_RE = re.compile(
    r"\[\s*@(?P<names>[A-Za-z0-9][A-Za-z0-9_-]*(?:\s*,\s*@?[A-Za-z0-9][A-Za-z0-9_-]*)*)\s*:"
)
_FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?(?:^[ \t]*\1|\Z)", re.MULTILINE | re.DOTALL)
_INLINE_CODE_RE = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)


@dataclass(frozen=True)
class Tag:
    """One handoff tag: who it is for, the task, and where it stood in the text."""

    targets: tuple[str, ...]  # lower-cased, in order, without duplicates
    task: str
    start: int
    end: int


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Regions of ``text`` that are Markdown code: fenced blocks (an unclosed fence runs
    to the end), then inline spans outside them."""
    fenced = [m.span() for m in _FENCE_RE.finditer(text)]
    blanked = text
    for start, end in fenced:  # a backtick inside a fence must not open an inline span
        blanked = blanked[:start] + " " * (end - start) + blanked[end:]
    return fenced + [m.span() for m in _INLINE_CODE_RE.finditer(blanked)]


def _closing_bracket(text: str, position: int) -> int | None:
    """Index of the ``]`` that closes a tag whose body starts at ``position``."""
    depth = 1
    for index in range(position, len(text)):
        char = text[index]
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index
    return None


def _names(raw: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for part in raw.split(","):
        name = part.strip().lstrip("@").lower()
        if name:
            seen.setdefault(name, None)
    return tuple(seen)


def parse_tags(text: str) -> list[Tag]:
    """Every handoff tag in ``text``, in order of appearance."""
    code = _code_spans(text)
    tags: list[Tag] = []
    position = 0
    while True:
        match = _OPEN_RE.search(text, position)
        if match is None:
            return tags
        inside_code = next((b for a, b in code if a <= match.start() < b), None)
        if inside_code is not None:
            position = inside_code
            continue
        closing = _closing_bracket(text, match.end())
        if closing is None:
            position = match.end()
            continue
        task = text[match.end() : closing].strip()
        tags.append(Tag(_names(match.group("names")), task, match.start(), closing + 1))
        position = closing + 1


def text_around(text: str, tags: list[Tag]) -> str:
    """``text`` with the tags taken out: the context shared with every target."""
    parts: list[str] = []
    position = 0
    for tag in tags:
        parts.append(text[position : tag.start])
        position = tag.end
    parts.append(text[position:])
    joined = "".join(parts)
    lines = [line.rstrip() for line in joined.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
