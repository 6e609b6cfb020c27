"""Adding and removing one ``[actors.NAME]`` table of ``tinyclaw.toml``.

The file is the owner's: comments, order and formatting must survive. ``tomlkit``
parses it into a document that remembers all of that, so a table can be added or
removed whatever the file holds: a multi-line persona with ``[Rules]`` lines in it, an
actor written as dotted keys (``coder.model = …`` under ``[actors]``), quoted keys,
sub-tables. A comment block just above the next header describes that header, so it
moves to it when the table it happened to end is removed. The caller validates the
result by loading it before writing anything. Pure functions of text.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Comment, Item, Table, Whitespace

from tinyclaw.core.errors import ConfigError

FieldValue = str | int | float | bool


def parse(text: str, source: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None


def _item(value: FieldValue) -> Item:
    if isinstance(value, str) and "\n" in value:
        # Kept readable as a multi-line string; tomlkit escapes what must be escaped.
        return tomlkit.string(value, multiline=True)
    return tomlkit.item(value)


def add_table(text: str, table: tuple[str, str], fields: dict[str, FieldValue], source: str) -> str:
    """``text`` with ``[table]`` (e.g. ``("actors", "coder")``) holding ``fields``,
    placed after the other tables of its kind; everything else kept as it was."""
    doc = parse(text, source)
    parent_key, name = table
    new = tomlkit.table()
    for key, value in fields.items():
        new.add(key, _item(value))
    new.add(tomlkit.nl())  # a blank line before whatever header follows
    if parent_key not in doc:
        doc.add(parent_key, tomlkit.table(is_super_table=True))
    parent = doc[parent_key]
    if not isinstance(parent, MutableMapping):
        raise ConfigError(f"{source}: {parent_key} is not a table")
    if name in parent:
        raise ConfigError(f"{source}: [{parent_key}.{name}] already exists")
    order = list(_headed_tables(doc))
    group = [i for i, (path, _t) in enumerate(order) if path[0] == parent_key]
    if group:
        _move_comment(order, group[-1])  # the new table goes between them
    parent[name] = new
    result = tomlkit.dumps(doc)
    if text.strip() and result.startswith(text) and not text.endswith("\n\n"):
        # Appended at the end of the file: one blank line between the old and the new.
        result = text.rstrip("\n") + "\n\n" + result[len(text) :].lstrip("\n")
    return _tidy(result)


def _headed_tables(
    container: Container, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Table]]:
    """Every table with a ``[header]`` line, in file order, with its full key path."""
    for key, item in container.body:
        if key is None or not isinstance(item, Table):
            continue
        here = (*path, key.key)
        if not item.is_super_table():
            yield here, item
        yield from _headed_tables(item.value, here)


def _trailing_comment(table: Table) -> tuple[int, list[str], list[str]]:
    """Where the comments and blank lines ending ``table``'s body start, those lines,
    and the comment block among them that stands just above the next header."""
    body = table.value.body
    end = len(body)
    while end and isinstance(body[end - 1][1], (Comment, Whitespace)):
        end -= 1
    lines = "".join(item.as_string() for _key, item in body[end:]).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    block: list[str] = []
    for line in reversed(lines):
        if not line.strip().startswith("#"):
            break
        block.insert(0, line.strip())
    return end, lines, block


def _move_comment(
    order: list[tuple[tuple[str, ...], Table]], last: int, *, apart: bool = False
) -> None:
    """Move the comment block ending table ``order[last]`` onto the header after it,
    which it describes (``apart``: after a blank line, as it no longer follows the
    comment it stood under)."""
    if last + 1 >= len(order):
        return
    table = order[last][1]
    end, lines, block = _trailing_comment(table)
    if not block:
        return
    kept = lines[: len(lines) - len(block)]
    del table.value.body[end:]
    table.value.body.append((None, Whitespace("".join(line + "\n" for line in kept) or "\n")))
    following = order[last + 1][1]
    moved = ("\n" if apart else "") + "".join(line + "\n" for line in block)
    following.trivia.indent = moved + following.trivia.indent


def _tidy(text: str) -> str:
    """No blank lines at the start or the end. (Blank lines inside are left alone: a
    multi-line string may hold them.)"""
    return text.strip("\n") + "\n" if text.strip() else ""


def remove_table(text: str, table: tuple[str, str], source: str) -> str:
    """``text`` without ``[table]`` and its sub-tables, however it is written
    (unchanged if absent)."""
    doc = parse(text, source)
    parent_key, name = table
    parent = doc.get(parent_key)
    if not isinstance(parent, MutableMapping) or name not in parent:
        return text
    order = list(_headed_tables(doc))
    inside = [i for i, (path, _t) in enumerate(order) if path[:2] == table]
    if inside:
        # A comment left above the removed header (it ends the table before) and the
        # one that moves down stay apart.
        above = inside[0] > 0 and bool(_trailing_comment(order[inside[0] - 1][1])[2])
        _move_comment(order, inside[-1], apart=above)
    del parent[name]
    if isinstance(parent, Table) and not parent.value.body and parent.is_super_table():
        del doc[parent_key]
    return _tidy(tomlkit.dumps(doc))
