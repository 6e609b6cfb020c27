"""Reading who a message is for, and what an actor's reply asks for. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tinyclaw.core.errors import UnsafePathError
from tinyclaw.core.fsutil import confine

_ADDRESS_RE = re.compile(r"^\s*@([A-Za-z0-9][A-Za-z0-9_-]*)[\s:,]*", re.DOTALL)
_SEND_FILE_RE = re.compile(r"\[send_file:\s*([^\]\n]+?)\s*\]", re.IGNORECASE)


def parse_address(text: str) -> tuple[str | None, str]:
    """Split ``"@Coder fix it"`` into ``("coder", "fix it")``; no prefix → ``(None, text)``.

    The name is lower-cased (addressing is case-insensitive); whether it names a real
    actor is the router's question, not this function's.
    """
    match = _ADDRESS_RE.match(text)
    if not match:
        return None, text
    return match.group(1).lower(), text[match.end() :]


@dataclass(frozen=True)
class FileRequests:
    text: str
    files: list[str]
    refused: list[str]


def extract_send_files(text: str, workspace: Path) -> FileRequests:
    """Take ``[send_file: path]`` tags out of a reply.

    Paths are resolved against the actor's workspace, symlinks followed, and anything
    that lands outside it (or does not exist) is refused: an actor may share its own
    files, never the rest of the machine.
    """
    files: list[str] = []
    refused: list[str] = []
    for raw in _SEND_FILE_RE.findall(text):
        try:
            path = confine(workspace, raw)
        except UnsafePathError:
            refused.append(f"{raw} (outside the workspace)")
            continue
        if not path.is_file():
            refused.append(f"{raw} (no such file)")
            continue
        if str(path) not in files:
            files.append(str(path))
    cleaned = _SEND_FILE_RE.sub("", text).strip()
    return FileRequests(cleaned, files, refused)
