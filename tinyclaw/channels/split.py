"""Split a reply into messages a platform accepts (Telegram 4096, Discord 2000,
WhatsApp 4096), keeping it readable.

A pure function, so it is tested on its own and a listener that crashed mid-way can
re-split the same text and skip the parts it already sent. Rules, in order:

* cut at the last paragraph break (blank line) that fits, else the last line break,
  else the last space, else hard at the limit (one very long word);
* a cut inside a fenced code block (```) closes the fence at the end of that part and
  reopens it, with the same info string (```python), at the start of the next, so
  every part renders as the author meant;
* lengths are measured by ``measure`` (Telegram counts UTF-16 code units, so it passes
  :func:`utf16_len`; the default counts code points).
"""

from __future__ import annotations

from collections.abc import Callable

FENCE = "```"
CLOSE = "\n" + FENCE
_MAX_FENCE_LINE = 64  # a longer info string is not worth repeating in every part

Measure = Callable[[str], int]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram's limits are counted in."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, budget: int, measure: Measure) -> int:
    """The largest ``i`` with ``measure(text[:i]) <= budget`` (measure is monotone)."""
    if measure is len:
        return max(0, min(len(text), budget))
    low, high = 0, min(len(text), max(budget, 0))
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def _cut(text: str, end: int) -> tuple[int, int]:
    """Where to cut ``text`` at or before ``end``: (chunk end, start of the rest).

    The separator itself (blank line, newline, space) is dropped between parts.
    """
    window = text[: end + 1]  # a separator starting exactly at ``end`` still counts
    for sep in ("\n\n", "\n", " "):
        index = window.rfind(sep, 0, end + 1)
        if index > 0:
            return index, index + len(sep)
    return end, end


def _fence_after(chunk: str, open_fence: str | None) -> str | None:
    """The fence line still open at the end of ``chunk`` (None if all are closed)."""
    for line in chunk.split("\n"):
        stripped = line.strip()
        if open_fence is None:
            if stripped.startswith(FENCE):
                open_fence = stripped if len(stripped) <= _MAX_FENCE_LINE else FENCE
        elif stripped.startswith(FENCE) and stripped.strip("`") == "":
            open_fence = None
    return open_fence


def split_text(text: str, limit: int, *, measure: Measure = len) -> list[str]:
    """Parts of ``text``, each at most ``limit`` long by ``measure``; [] for blank text.

    >>> split_text("one\\n\\ntwo", 5)
    ['one', 'two']
    """
    if limit < 2 * (len(CLOSE) + _MAX_FENCE_LINE + 1):
        raise ValueError(f"limit {limit} is too small to split code blocks safely")
    if not text.strip():
        return []
    if measure(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    open_fence: str | None = None
    while rest:
        prefix = open_fence + "\n" if open_fence else ""
        body_budget = limit - measure(prefix)
        if measure(rest) <= body_budget:
            parts.append(prefix + rest)
            break
        # Room is kept for a closing fence: whether one is needed is known only
        # after choosing the cut, and a part must never exceed the limit.
        end = _fit(rest, body_budget - len(CLOSE), measure)
        chunk_end, rest_start = _cut(rest, end)
        chunk = rest[:chunk_end]
        still_open = _fence_after(chunk, open_fence)
        body = prefix + chunk
        if still_open is not None:
            body += CLOSE
        if chunk.strip():
            parts.append(body)
        rest = rest[rest_start:]
        if still_open is None:
            rest = rest.lstrip("\n")
        open_fence = still_open
        if not rest.strip():
            break
    return parts
