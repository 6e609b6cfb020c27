"""A reply's Markdown as each platform renders it, split into messages it accepts.

One function per platform, each called from one place (the platform's
``render_markdown``); all are pure, so a listener that crashed mid-reply re-splits the
same text into the same parts and skips the ones it sent.

* **Telegram**: plain text plus message entities (no parse mode, so nothing needs
  escaping and nothing can be unparseable but an entity). Entities follow the Bot
  API's nesting rules: ``code``/``pre`` contain nothing and are inside nothing but a
  quote, quotes do not nest. A part is a slice of the text; an entity crossing a cut
  is clipped into both parts, so a code block split in two is two ``pre`` blocks.
* **WhatsApp**: ``*bold*``, ``_italic_``, ``~strike~``, ```` `code` ````, code blocks
  in triple backticks, ``> `` quotes; a link shows its address.
* **Discord**: its own Markdown, so the text passes nearly unchanged: tables become
  monospace blocks, images and small headings become what Discord shows, and
  ``@everyone`` / ``@here`` are broken with a zero-width space outside code (the
  listener also sends with no mentions allowed).

Cuts avoid the inside of inline formatting (a ``*bold phrase*`` is never halved)
whenever another cut fits; the measured length of every part, after conversion, is
within the platform's limit.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from typing import Any

from tinyclaw.channels.markdown import INLINE_STYLES, Markers, Span, parser, render
from tinyclaw.channels.split import split_ranges, split_text, utf16_len
from tinyclaw.channels.values import TextPart

WHATSAPP = Markers(
    bold=("*", "*"),
    italic=("_", "_"),
    strikethrough=("~", "~"),
    code=("`", "`"),
    fence=("```\n", "\n```"),
    quote_prefix="> ",
    link_suffix=" ({url})",
)
_LEAF = frozenset({"code", "pre"})
_MENTION = re.compile(r"@(everyone|here)\b")
_ZWSP = "\u200b"
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


# -- Telegram ------------------------------------------------------------------------


def _tidy(spans: Sequence[Span]) -> list[Span]:
    """Spans Telegram accepts: nothing overlaps code/pre except a quote (the overlap
    is cut out of the other span); a quote inside a quote, or a link inside a link,
    is dropped."""
    leaves = sorted((s for s in spans if s.style in _LEAF), key=lambda s: s.start)
    starts = [leaf.start for leaf in leaves]  # leaves never overlap: both lists sorted
    ends = [leaf.end for leaf in leaves]
    tidy: list[Span] = list(leaves)
    quotes: list[Span] = []  # outermost first: an inner quote is dropped
    for quote in sorted((s for s in spans if s.style == "blockquote"), key=_outer_first):
        if not any(q.start <= quote.start and quote.end <= q.end for q in quotes):
            quotes.append(quote)
    tidy += quotes
    links: list[Span] = []  # a link around a linked image: the outer link wins
    for link in sorted((s for s in spans if s.style == "text_link"), key=_outer_first):
        if not any(k.start < link.end and link.start < k.end for k in links):
            links.append(link)
    kept = {id(link) for link in links}
    for span in spans:
        if span.style in _LEAF or span.style == "blockquote":
            continue
        if span.style == "text_link" and id(span) not in kept:
            continue
        inside = leaves[bisect.bisect_right(ends, span.start) : bisect.bisect_left(starts, span.end)]
        if not inside:
            tidy.append(span)
            continue
        cursor = span.start
        for leaf in inside:
            if leaf.start > cursor:
                tidy.append(Span(span.style, cursor, leaf.start, span.url))
            cursor = max(cursor, leaf.end)
        if cursor < span.end:
            tidy.append(Span(span.style, cursor, span.end, span.url))
    return tidy


def _outer_first(span: Span) -> tuple[int, int]:
    return span.start, -span.end


def _utf16_offsets(text: str) -> list[int] | None:
    """UTF-16 offset of each index of ``text`` (None when they are equal: ASCII/BMP)."""
    if text.isascii() or not _ASTRAL.search(text):
        return None
    widths = (2 if ord(c) > 0xFFFF else 1 for c in text)
    return [0, *itertools.accumulate(widths)]


def _entity(span: Span, offset: int, length: int) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": span.style, "offset": offset, "length": length}
    if span.url is not None:
        entity["url"] = span.url
    if span.language:
        entity["language"] = span.language
    return entity


def telegram_parts(markdown: str, limit: int = 4096) -> list[TextPart]:
    """Telegram messages: text and entities, each part within ``limit`` UTF-16 units."""
    rendered = render(markdown)
    text = rendered.text
    spans = _tidy(rendered.spans)
    protect = [(s.start, s.end) for s in spans if s.style in INLINE_STYLES]
    table = _utf16_offsets(text)

    def at(index: int) -> int:
        return index if table is None else table[index]

    parts: list[TextPart] = []
    for start, end in split_ranges(text, limit, measure=utf16_len, protect=protect):
        entities = []
        for span in spans:
            first, last = max(span.start, start), min(span.end, end)
            if last > first and text[first:last].strip():
                entities.append(_entity(span, at(first) - at(start), at(last) - at(first)))
        entities.sort(key=lambda e: (e["offset"], -e["length"]))
        parts.append(TextPart(text[start:end], tuple(entities)))
    return parts


# -- WhatsApp ------------------------------------------------------------------------


def whatsapp_parts(markdown: str, limit: int = 4096) -> list[TextPart]:
    """WhatsApp messages in its own markup, each within ``limit`` characters."""
    rendered = render(markdown, WHATSAPP)
    protect = [(s.start - 1, s.end + 1) for s in rendered.spans if s.style in INLINE_STYLES]
    return [TextPart(part) for part in split_text(rendered.text, limit, protect=protect)]


# -- Discord -------------------------------------------------------------------------


def _char_index(data: bytes, text: str) -> Any:
    """Byte offset (the parser's unit) -> index into ``text``."""
    if len(data) == len(text):
        return lambda offset: offset
    return lambda offset: len(data[:offset].decode("utf-8", "ignore"))


def _events(text: str) -> list[tuple[Any, tuple[int, int]]]:
    data = text.encode("utf-8")
    index = _char_index(data, text)
    pyromark, options = parser()
    return [
        (event, (index(where["start"]), index(where["end"])))
        for event, where in pyromark.events_with_range(text, options=options)
    ]


def _start_name(event: Any) -> str | None:
    if isinstance(event, dict) and "Start" in event:
        tag = event["Start"]
        return str(next(iter(tag))) if isinstance(tag, dict) else str(tag)
    return None


_DISCORD_INLINE = frozenset({"Strong", "Emphasis", "Strikethrough", "Link"})


def _discord_edits(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Tables to monospace blocks, images to links, headings below ### to bold, and
    @everyone/@here broken outside code. Returns the text and its inline ranges."""
    edits: list[tuple[int, int, str]] = []
    code: list[tuple[int, int]] = []
    inline: list[tuple[int, int]] = []
    for event, (start, end) in _events(text):
        name = _start_name(event)
        if name in _DISCORD_INLINE or (isinstance(event, dict) and "Code" in event):
            inline.append((start, end))
        if name == "Table":
            table = render(text[start:end]).text
            edits.append((start, end, "```\n" + table + "\n```" + _trailing(text[start:end])))
        elif name == "Heading" and event["Start"]["Heading"]["level"] in ("H4", "H5", "H6"):
            title = text[start:end].strip().lstrip("#").strip()
            bold = f"**{title}**" if title else ""
            edits.append((start, end, bold + _trailing(text[start:end])))
        elif name == "Image":
            data = event["Start"]["Image"]
            alt = render(text[start:end]).text or data.get("dest_url", "")
            edits.append((start, end, f"[{alt}]({data.get('dest_url', '')})"))
        elif name == "CodeBlock" or (isinstance(event, dict) and "Code" in event):
            code.append((start, end))
    out: list[str] = []
    cursor = 0
    taken = sorted(edits)
    for start, end, replacement in taken:
        if start < cursor:
            continue  # inside an edit already made (an image in a table)
        out.append(_neutralise(text[cursor:start], cursor, code))
        out.append(replacement)
        cursor = end
    out.append(_neutralise(text[cursor:], cursor, code))
    result = "".join(out)
    if result != text:  # the ranges moved: read the result again
        inline = _inline_ranges(result)
    return result, inline


def _trailing(source: str) -> str:
    """The line breaks after a block, kept when the block is replaced."""
    return source[len(source.rstrip()) :]


def _neutralise(chunk: str, base: int, code: Sequence[tuple[int, int]]) -> str:
    """``@everyone`` -> ``@\u200beveryone`` outside code (code shows it literally)."""
    if "@" not in chunk:
        return chunk

    def replace(match: re.Match[str]) -> str:
        position = base + match.start()
        if any(start <= position < end for start, end in code):
            return match.group(0)
        return "@" + _ZWSP + match.group(1)

    return _MENTION.sub(replace, chunk)


def _inline_ranges(text: str) -> list[tuple[int, int]]:
    return [
        where
        for event, where in _events(text)
        if _start_name(event) in _DISCORD_INLINE or (isinstance(event, dict) and "Code" in event)
    ]


def discord_parts(markdown: str, limit: int = 2000) -> list[TextPart]:
    """Discord messages in its Markdown, each within ``limit`` characters."""
    text, inline = _discord_edits(markdown)
    parts = split_text(text, limit, protect=inline)
    return [TextPart(part) for part in parts]


def plain_parts(text: str, limit: int, measure: Any = len) -> list[TextPart]:
    """The text as written, only split (``formatting = "plain"``)."""
    return [TextPart(part) for part in split_text(text, limit, measure=measure)]


__all__ = ["discord_parts", "plain_parts", "telegram_parts", "whatsapp_parts"]
