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
  :func:`utf16_len`; the default counts code points);
* ``protect`` names ranges of ``text`` no cut may fall inside when another cut fits
  (formatting such as ``*bold words*``: a cut there would leave both halves as literal
  asterisks). Only a range longer than a whole part is cut anyway.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

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


class _Guard:
    """Answers "is position p strictly inside a protected range?" in O(log n)."""

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(r for r in ranges if r[1] - r[0] > 1):
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [m[0] for m in merged]
        self._ends = [m[1] for m in merged]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def inside(self, position: int) -> bool:
        index = bisect.bisect_left(self._starts, position) - 1
        return index >= 0 and position < self._ends[index]


def _cut(text: str, end: int, guard: _Guard | None = None, base: int = 0) -> tuple[int, int]:
    """Where to cut ``text`` at or before ``end``: (chunk end, start of the rest).

    The separator itself (blank line, newline, space) is dropped between parts. With a
    ``guard`` (``text`` starting at ``base`` of the guarded text), a separator inside a
    protected range is passed over while another one fits.
    """
    window = text[: end + 1]  # a separator starting exactly at ``end`` still counts
    for sep in ("\n\n", "\n", " "):
        index = window.rfind(sep, 0, end + 1)
        while guard and index > 0 and guard.inside(base + index):
            index = window.rfind(sep, 0, index)
        if index > 0:
            return index, index + len(sep)
    if guard:
        return _cut(text, end)
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


def split_text(
    text: str,
    limit: int,
    *,
    measure: Measure = len,
    protect: Sequence[tuple[int, int]] = (),
) -> list[str]:
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
    consumed = 0  # where ``rest`` starts in ``text``
    guard = _Guard(protect) if protect else None
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
        chunk_end, rest_start = _cut(rest, end, guard, consumed)
        chunk = rest[:chunk_end]
        still_open = _fence_after(chunk, open_fence)
        body = prefix + chunk
        if still_open is not None:
            body += CLOSE
        if chunk.strip():
            parts.append(body)
        rest = rest[rest_start:]
        consumed += rest_start
        if still_open is None:
            stripped = rest.lstrip("\n")
            consumed += len(rest) - len(stripped)
            rest = stripped
        open_fence = still_open
        if not rest.strip():
            break
    return parts


def split_ranges(
    text: str,
    limit: int,
    *,
    measure: Measure = len,
    protect: Sequence[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """Where to cut ``text`` into parts of at most ``limit``: ``[start, end)`` ranges,
    by the same rules as :func:`split_text` but adding nothing (no fences): for text
    whose formatting lives outside it (Telegram's entities), so a part is a slice."""
    if limit < 2:
        raise ValueError(f"limit {limit} is too small")
    guard = _Guard(protect) if protect else None
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        rest = text[start:]
        if measure(rest) <= limit:
            ranges.append((start, len(text)))
            break
        end = max(1, _fit(rest, limit, measure))
        chunk_end, rest_start = _cut(rest, end, guard, start)
        ranges.append((start, start + chunk_end))
        start += max(rest_start, 1)
    return [(a, b) for a, b in ranges if text[a:b].strip()]
