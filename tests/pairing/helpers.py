"""Shared by the pairing tests: a clock moved by hand, the people in the stories, and a
way to read the code out of a reply."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tinyclaw.pairing import Identity, PairingService
from tinyclaw.pairing.codes import format_code, normalize_code, random_code

ServiceFactory = Callable[..., PairingService]

CODE_RE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")

OWNER = Identity("telegram", "1")
ALICE = Identity("telegram", "1001")
ALICE_DISCORD = Identity("discord", "555000111")
BOB = Identity("telegram", "2002")
MALLORY = Identity("telegram", "6666")


class FakeClock:
    """Time that moves only when the test says so. It starts at ``start`` (default a
    fixed day in 2030); the end-to-end stories start it at the wall clock, so codes
    made by ``tinyclaw pair`` (which keeps the real time) and the listener agree until
    the test moves it on."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def code_in(text: str | None) -> str:
    """The pairing code a reply shows, e.g. ``ABCD-EFGH``."""
    assert text is not None, "expected a reply with a code, got silence"
    found = CODE_RE.search(text)
    assert found, f"no code in {text!r}"
    return found.group()


def wrong_codes(count: int, real: str) -> list[str]:
    """``count`` well-formed codes (``ABCD-EFGH``), none of them ``real``."""
    real_raw = normalize_code(real)
    codes: list[str] = []
    while len(codes) < count:
        raw = random_code()
        if raw != real_raw:
            codes.append(format_code(raw))
    return codes
