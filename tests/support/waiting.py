"""The one wait-until of the suite: poll a condition until it holds or a generous
deadline passes, then fail with what was awaited.

Tests wait on an effect (a file in a box, a message at a fake), never for a fixed time:
on a loaded machine the effect comes late, and a fixed sleep either fails or wastes
time. ``wait_for`` blocks (threads, subprocesses); ``until`` is its twin for async
tests, yielding to the event loop between polls so a listener in that loop runs on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 20.0
STEP = 0.02


class _Deadline:
    """``timeout`` seconds from now; past it, a false value fails the wait."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout = timeout
        self.what = what or "the condition"
        self.at = time.monotonic() + timeout

    def met(self, value: object) -> bool:
        if value:
            return True
        if time.monotonic() > self.at:
            raise AssertionError(f"timed out after {self.timeout:g} s waiting for {self.what}")
        return False


def wait_for(condition: Callable[[], T], timeout: float = TIMEOUT, what: str = "") -> T:
    """Poll ``condition`` until it returns something true; return that value."""
    deadline = _Deadline(timeout, what)
    while not deadline.met(value := condition()):
        time.sleep(STEP)
    return value


async def until(condition: Callable[[], T], timeout: float = TIMEOUT, what: str = "") -> T:
    """``wait_for`` for async tests: the event loop runs between polls."""
    deadline = _Deadline(timeout, what)
    while not deadline.met(value := condition()):
        await asyncio.sleep(STEP)
    return value
