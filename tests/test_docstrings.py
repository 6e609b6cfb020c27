"""The code explains itself from inside the repository: its comments and docstrings
point to the ``docs/`` pages, never to documents a reader of the repository does not
have, and never to an issue number (what the code does and why belongs in the text;
its history belongs in git)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "tinyclaw"
# Files the code itself writes or reads in a home or a workspace, not documents.
WRITTEN_BY_THE_CODE = {"CLAUDE.md", "AGENTS.md", "HEARTBEAT.md"}
ISSUE = re.compile(r"\b(?:issues?|bug|ticket|PR|pull request)\s*#?\d+\b|\(#\d+\)", re.I)
DOCUMENT = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b")


def source_lines() -> list[tuple[str, int, str]]:
    return [
        (str(path.relative_to(REPO)), number, line)
        for path in sorted(SOURCE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
    ]


def test_no_comment_or_docstring_cites_an_issue_number() -> None:
    cited = [
        f"{where}:{n}: {line.strip()}" for where, n, line in source_lines() if ISSUE.search(line)
    ]
    assert cited == [], "\n".join(cited)


def test_every_document_the_code_points_to_is_in_the_repository() -> None:
    missing = []
    for where, n, line in source_lines():
        for name in DOCUMENT.findall(line):
            if name in WRITTEN_BY_THE_CODE or Path(name).name in WRITTEN_BY_THE_CODE:
                continue
            if not (REPO / name).is_file():
                missing.append(f"{where}:{n}: {name}")
    assert missing == [], "not in the repository:\n" + "\n".join(missing)
