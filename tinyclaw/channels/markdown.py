"""The model's Markdown, read once into text plus styled ranges, for any chat platform.

The CLIs answer in CommonMark with GitHub's tables and strikethrough. No chat app
renders that as such, so each platform gets its own rendering from one reading:
:func:`render` walks the parser's events (pyromark, a binding of the Rust parser
pulldown-cmark: a 20,000-character reply parses in about a millisecond) and writes the
visible text, asking a :class:`Markers` table what to put around each style. Telegram
asks for no markers and takes the ranges as message entities; WhatsApp asks for
``*bold*`` and ``_italic_`` and takes the ranges as places a split must not cut.

Nothing of the reply is dropped: raw HTML (``<div>``) is text, a link whose target is
not a web address keeps the target visible, a table becomes an aligned monospace block.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal, cast

Style = Literal["bold", "italic", "strikethrough", "code", "pre", "text_link", "blockquote"]
INLINE_STYLES = frozenset({"bold", "italic", "strikethrough", "code", "text_link"})
_WEB_SCHEMES = ("http://", "https://", "tg://", "mailto:")
_RULE = "———"
_EVENT_STYLES: dict[str, Style] = {
    "Strong": "bold",
    "Emphasis": "italic",
    "Strikethrough": "strikethrough",
}


@dataclass(frozen=True, slots=True)
class Span:
    """A styled range ``[start, end)`` of the rendered text (Python string indices)."""

    style: Style
    start: int
    end: int
    url: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Markers:
    """What a platform writes around each style. Empty strings: the style is kept as a
    :class:`Span` only (Telegram's entities). ``link_suffix`` is written after a link's
    text when the text is not the address (``" ({url})"``); None records a web link as
    a ``text_link`` span instead (a link to no web address always shows its target)."""

    bold: tuple[str, str] = ("", "")
    italic: tuple[str, str] = ("", "")
    strikethrough: tuple[str, str] = ("", "")
    code: tuple[str, str] = ("", "")
    fence: tuple[str, str] = ("", "")  # around a code block; "{lang}" is replaced
    quote_prefix: str = ""  # at the start of each line of a quote
    link_suffix: str | None = None  # " ({url})": the address after the text

    def around(self, style: Style) -> tuple[str, str]:
        if style == "bold":
            return self.bold
        if style == "italic":
            return self.italic
        if style == "strikethrough":
            return self.strikethrough
        return self.code


ENTITIES = Markers()


@dataclass
class Rendered:
    """The rendered text and its styled ranges (inline ones hug no outer whitespace)."""

    text: str
    spans: list[Span] = field(default_factory=list)


class _Writer:
    """Accumulates text; keeps the running length so spans need no re-scan."""

    def __init__(self, markers: Markers) -> None:
        self.markers = markers
        self.chunks: list[str] = []
        self.length = 0
        self.spans: list[Span] = []
        self.prefixes: list[str] = []  # what each new line starts with (quotes, lists)
        self.pending_break = ""  # block separator owed before the next text
        self.fresh = True  # nothing written since a container opened

    def write(self, text: str) -> None:
        """Write ``text`` (an empty one still pays the block separator owed, so a span
        opened next starts where its text does)."""
        if self.pending_break:
            owed, self.pending_break = self.pending_break, ""
            if self.length:
                self._raw(owed.replace("\n", "\n" + "".join(self.prefixes)))
        if not text:
            return
        self.fresh = False
        if self.prefixes and "\n" in text:
            text = text.replace("\n", "\n" + "".join(self.prefixes))
        self._raw(text)

    def open_container(self, first_line: str) -> None:
        """A quote or list item begins with ``first_line`` (its marker); the block
        inside it starts right there, not after another separator."""
        self.write("")
        self._raw(first_line)
        self.fresh = True

    def _raw(self, text: str) -> None:
        self.chunks.append(text)
        self.length += len(text)

    def block(self, separator: str = "\n\n") -> None:
        """A block ends: the next text starts after ``separator`` (never at the top)."""
        if not self.fresh and len(separator) > len(self.pending_break):
            self.pending_break = separator

    def text(self) -> str:
        return "".join(self.chunks)


def _language(kind: Any) -> str | None:
    """``{'Fenced': 'python extra'}`` -> "python"; indented code has none."""
    if isinstance(kind, dict):
        info = str(kind.get("Fenced", "")).strip()
        return info.split()[0][:32] if info else None
    return None


def _is_web(url: str) -> bool:
    return url.lower().startswith(_WEB_SCHEMES)


class _Renderer:
    def __init__(self, markers: Markers) -> None:
        self.out = _Writer(markers)
        self.markers = markers
        self.open: list[tuple[str, int, dict[str, Any]]] = []  # (kind, start, data)
        self.lists: list[int | None] = []  # the next number of each open list
        self.table: list[list[str]] | None = None
        self.cell: list[str] | None = None
        self.code_start = -1
        self.code_language: str | None = None

    # -- events ----------------------------------------------------------------

    def feed(self, events: Any) -> Rendered:
        for event in events:
            if isinstance(event, str):
                self._leaf(event, None)
            elif "Start" in event:
                self._start(event["Start"])
            elif "End" in event:
                self._end(event["End"])
            else:
                ((name, value),) = event.items()
                self._leaf(name, value)
        text = self.out.text()
        stripped = text.rstrip()
        spans = [
            Span(s.style, s.start, min(s.end, len(stripped)), s.url, s.language)
            for s in self.out.spans
            if s.start < len(stripped)
        ]
        return Rendered(stripped, spans)

    def _leaf(self, name: str, value: Any) -> None:
        if self.cell is not None:
            if name in ("Text", "Code", "InlineHtml", "Html"):
                self.cell.append(str(value))
            elif name in ("SoftBreak", "HardBreak"):
                self.cell.append(" ")
            return
        if name in ("Text", "Html", "InlineHtml"):
            self.out.write(str(value))
        elif name == "Code":
            self._styled("code", str(value))
        elif name in ("SoftBreak", "HardBreak"):
            self.out.write("\n")
        elif name == "Rule":
            self.out.block()
            self.out.write(_RULE)
            self.out.block()
        elif name == "TaskListMarker":
            self.out.write("☑ " if value else "☐ ")
        elif name == "FootnoteReference":
            self.out.write(f"[{value}]")

    def _styled(self, style: Style, text: str) -> None:
        opening, closing = self.markers.around(style)
        self.out.write(opening)
        start = self.out.length
        self.out.write(text)
        self.out.spans.append(Span(style, start, self.out.length))
        self.out.write(closing)

    def _start(self, tag: Any) -> None:
        name, data = (next(iter(tag.items())) if isinstance(tag, dict) else (tag, None))
        out = self.out
        if name == "Paragraph":
            out.block("\n" if self.lists else "\n\n")
        elif name == "Heading":
            out.block()
            self._open_inline("bold")
        elif name in _EVENT_STYLES:
            self._open_inline(_EVENT_STYLES[name])
        elif name in ("Link", "Image"):
            out.write("")
            self.open.append((name, out.length, {**(data or {}), "chunk": len(out.chunks)}))
        elif name == "BlockQuote":
            out.block("\n" if self.lists else "\n\n")
            out.write("")
            self.open.append(("BlockQuote", out.length, {}))
            out.prefixes.append(self.markers.quote_prefix)
            out.open_container(self.markers.quote_prefix)
        elif name == "CodeBlock":
            out.block("\n" if self.lists else "\n\n")
            self.code_language = _language(data)
            out.write(self.markers.fence[0].replace("{lang}", self.code_language or ""))
            self.code_start = out.length
        elif name == "List":
            out.block("\n" if self.lists else "\n\n")
            self.lists.append(data if isinstance(data, int) else None)
        elif name == "Item":
            out.block("\n")
            depth = len(self.lists) - 1
            number = self.lists[-1] if self.lists else None
            if number is None:
                bullet = "•"
            else:
                bullet = f"{number}."
                self.lists[-1] = number + 1
            out.open_container("  " * depth + bullet + " ")
        elif name == "Table":
            out.block()
            self.table = []
        elif name in ("TableHead", "TableRow") and self.table is not None:
            self.table.append([])
        elif name == "TableCell":
            self.cell = []
        elif name == "HtmlBlock":
            out.block()

    def _open_inline(self, style: Style) -> None:
        opening = self.markers.around(style)[0]
        self.out.write(opening)
        self.open.append((style, self.out.length, {"marker": len(opening)}))

    def _close_inline(self) -> None:
        kind, start, data = self.open.pop()
        style = cast(Style, kind)  # only styles are closed here
        closing = self.markers.around(style)[1]
        out = self.out
        if out.length == start:  # nothing inside: take the opening marker back
            if data["marker"]:
                out.chunks.pop()
                out.length -= data["marker"]
            return
        out.spans.append(Span(style, start, out.length))
        out.write(closing)

    def _end(self, tag: Any) -> None:
        name = next(iter(tag)) if isinstance(tag, dict) else tag
        out = self.out
        if name in ("Paragraph", "HtmlBlock"):
            out.block("\n" if self.lists else "\n\n")
        elif name == "Heading":
            self._close_inline()
            out.block()
        elif name in _EVENT_STYLES:
            self._close_inline()
        elif name in ("Link", "Image"):
            self._end_link()
        elif name == "BlockQuote":
            _, start, _ = self.open.pop()
            out.prefixes.pop()
            if out.length > start:
                out.spans.append(Span("blockquote", start, out.length))
            out.block("\n" if self.lists else "\n\n")
        elif name == "CodeBlock":
            self._end_code()
        elif name == "List":
            self.lists.pop()
            out.block("\n" if self.lists else "\n\n")
        elif name == "Item":
            out.block("\n")
        elif name == "TableCell" and self.table is not None and self.cell is not None:
            self.table[-1].append("".join(self.cell).strip())
            self.cell = None
        elif name == "Table":
            self._end_table()

    def _end_link(self) -> None:
        _, start, data = self.open.pop()
        out = self.out
        url = str(data.get("dest_url", ""))
        shown = "".join(out.chunks[data["chunk"] :]) if out.length > start else ""
        if not shown:
            out.write(url)
            return
        if not url or shown == url or data.get("link_type") in ("Autolink", "Email"):
            return
        if _is_web(url) and self.markers.link_suffix is None:
            out.spans.append(Span("text_link", start, out.length, url=url))
        else:
            out.write((self.markers.link_suffix or " ({url})").replace("{url}", url))

    def _end_code(self) -> None:
        out = self.out
        if out.chunks and out.length > self.code_start and out.chunks[-1].endswith("\n"):
            last = out.chunks[-1]
            out.chunks[-1] = last.rstrip("\n")
            out.length -= len(last) - len(out.chunks[-1])
        if out.length == self.code_start:  # an empty block: take it back, fence and break
            opening = self.markers.fence[0]
            if opening and out.chunks and out.chunks[-1] == opening.replace(
                "{lang}", self.code_language or ""
            ):
                out.length -= len(out.chunks.pop())
            while out.chunks and not out.chunks[-1].strip():
                out.length -= len(out.chunks.pop())
            out.block("\n" if self.lists else "\n\n")
            return
        out.spans.append(Span("pre", self.code_start, out.length, language=self.code_language))
        out.write(self.markers.fence[1])
        out.block("\n" if self.lists else "\n\n")

    def _end_table(self) -> None:
        rows, self.table = self.table or [], None
        if not rows:
            return
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        sizes = [max(len(row[i]) for row in rows) for i in range(width)]
        lines = [" | ".join(cell.ljust(sizes[i]) for i, cell in enumerate(row)).rstrip()
                 for row in rows]
        lines.insert(1, "-+-".join("-" * size for size in sizes))
        out = self.out
        out.block()
        out.write(self.markers.fence[0].replace("{lang}", ""))
        start = out.length
        out.write("\n".join(lines))
        out.spans.append(Span("pre", start, out.length))
        out.write(self.markers.fence[1])
        out.block()


@functools.cache
def parser() -> tuple[Any, Any]:
    """pyromark and its options, imported on the first reply rather than at start-up
    (an idle listener does not carry the parser)."""
    import pyromark

    options = (
        pyromark.Options.ENABLE_TABLES
        | pyromark.Options.ENABLE_STRIKETHROUGH
        | pyromark.Options.ENABLE_TASKLISTS
    )
    return pyromark, options


def render(markdown: str, markers: Markers = ENTITIES) -> Rendered:
    """``markdown`` as chat text: the visible text with ``markers`` written around each
    style, and the styled ranges (see :class:`Span`)."""
    pyromark, options = parser()
    return _Renderer(markers).feed(pyromark.events(markdown, options=options))


__all__ = ["ENTITIES", "INLINE_STYLES", "Markers", "Rendered", "Span", "parser", "render"]
