"""Replace secret values with ``***`` in text that leaves the worker.

A reply, a live view, an event or a log line may quote a secret: the model ran
``env``, read the home's ``.env``, or an API error echoed a key. Two kinds of secret
are known here. Those this process holds (a runner's ``pass_env`` key, a ``.env``
value) are matched by value. Those it must *not* hold (a listener's platform token,
which the worker never gets) arrive as fingerprints: the length and a truncated
SHA-256 of the value, so the worker can recognise a token in a reply without being
able to use it. A fingerprint is only matched inside runs of non-space characters at
least that long, so ordinary prose costs almost nothing.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from typing import Any

MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words
FINGERPRINTS_ENV = "TINYCLAW_REDACT"  # "LEN:HEX LEN:HEX …", from the launcher
MASK = "***"
_DIGEST_CHARS = 16  # 64 bits: no false positives in practice, no use to a reader


def fingerprint(value: str) -> str:
    """``"LEN:HEX"`` for ``value``: enough to recognise it, not to recover it."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    return f"{len(value)}:{digest}"


def parse_fingerprints(text: str) -> set[str]:
    """The well-formed fingerprints in a ``TINYCLAW_REDACT`` value; others are ignored."""
    found = set()
    for item in text.split():
        length, _, digest = item.partition(":")
        if length.isdigit() and int(length) >= MIN_SECRET_LENGTH and len(digest) == _DIGEST_CHARS:
            found.add(f"{int(length)}:{digest.lower()}")
    return found


class Redactor:
    """``redactor(text)``: ``text`` with every known secret replaced by ``***``."""

    def __init__(self, values: Iterable[str] = (), fingerprints: Iterable[str] = ()) -> None:
        self.values = sorted(
            {v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )
        self.fingerprints = set(fingerprints)
        self._lengths = sorted({int(f.split(":")[0]) for f in self.fingerprints}, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.values or self.fingerprints)

    def __call__(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        for length in self._lengths:
            runs = re.compile(rf"\S{{{length},}}")
            text = runs.sub(functools.partial(self._mask_match, length=length), text)
        return text

    def _mask_match(self, match: re.Match[str], *, length: int) -> str:
        return self._mask_run(match.group(0), length)

    def _mask_run(self, run: str, length: int) -> str:
        """``run`` (no spaces) with every window of ``length`` whose fingerprint is
        known replaced, left to right."""
        out: list[str] = []
        start = i = 0
        while i + length <= len(run):
            if fingerprint(run[i : i + length]) in self.fingerprints:
                out += [run[start:i], MASK]
                i += length
                start = i
            else:
                i += 1
        out.append(run[start:])
        return "".join(out)

    def deep(self, value: Any) -> Any:
        """``value`` with every string inside it (dicts, lists) redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.deep(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(item) for item in value]
        return value

    def extended(self, values: Iterable[str]) -> Redactor:
        """A redactor that also knows ``values``."""
        return Redactor([*self.values, *values], self.fingerprints)
