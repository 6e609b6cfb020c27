"""Adding and removing one ``[actors.NAME]`` section of ``tinyclaw.toml`` as text.

The file is the user's: comments, order and formatting must survive, so it is never
re-serialised. A section is appended as text, or cut out from its header to the next
header that is not one of its sub-tables. The caller validates the result by loading
it before writing anything. Pure functions.
"""

from __future__ import annotations

import re

from tinyclaw.runners.argv import toml_string

_HEADER_RE = re.compile(r"^\s*\[\[?\s*(?P<key>[^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART_RE = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+))\s*(?:\.|$)')

FieldValue = str | int | float | bool


def key_parts(key: str) -> tuple[str, ...] | None:
    """``actors."coder".heartbeat`` → ``("actors", "coder", "heartbeat")``."""
    parts: list[str] = []
    position = 0
    while position < len(key):
        match = _KEY_PART_RE.match(key, position)
        if match is None or match.end() == position:
            return None
        parts.append(next(g for g in match.groups() if g is not None))
        position = match.end()
    return tuple(parts)


def _value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return toml_string(value)


def section_text(table: tuple[str, ...], fields: dict[str, FieldValue]) -> str:
    lines = ["[" + ".".join(table) + "]"]
    lines += [f"{key} = {_value(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def append_section(text: str, section: str) -> str:
    if not text.strip():
        return section
    return text.rstrip("\n") + "\n\n" + section


def remove_section(text: str, table: tuple[str, ...]) -> str:
    """``text`` without the table ``table`` and its sub-tables (unchanged if absent).

    Blank lines and comments just before the next header stay with that header."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    removing = False
    pending: list[str] = []  # blank/comment lines inside a removed section
    for line in lines:
        match = _HEADER_RE.match(line)
        if match is not None:
            parts = key_parts(match.group("key"))
            inside = parts is not None and parts[: len(table)] == table
            if removing and not inside:
                kept.extend(_trailing_comments(pending))
            removing = inside
            pending = []
            if removing:
                continue
        if removing:
            pending.append(line)
            continue
        kept.append(line)
    result = "".join(kept)
    return re.sub(r"\n{3,}", "\n\n", result)


def _trailing_comments(lines: list[str]) -> list[str]:
    """The comment block that directly precedes the next header (it describes that one)."""
    block: list[str] = []
    for line in reversed(lines):
        if line.strip().startswith("#"):
            block.insert(0, line)
        else:
            break
    return block
