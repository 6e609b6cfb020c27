"""The manual is a contract: every link in README.md and docs/ leads somewhere, and
every ``tinyclaw …`` command it shows is one the program really has.

Commands are read from inline code and code blocks (``tinyclaw pair approve CODE``);
the check walks the command tree of the real Typer application, so a renamed or
removed command fails here before a user types it from the docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from tinyclaw.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`|```[a-z]*\n(.*?)```", re.S)
# A command line: at the start of inline code or of a line in a code block, after an
# optional prompt, environment assignments or the checkout's .venv/bin/.
COMMAND = re.compile(
    r"^\s*(?:\$ )?(?:[A-Z_]+=\S+ )*(?:\.venv/bin/)?tinyclaw((?:\s+[a-z][a-z-]*(?=\s|$))+)"
)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    body = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", body, re.M)}


def _links(page: Path) -> list[str]:
    """Links in the prose; examples inside code (``[text](a.md)``) are not links."""
    prose = CODE.sub("", page.read_text(encoding="utf-8"))
    return LINK.findall(prose)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_in_the_manual_leads_to_a_page_and_heading_that_exist(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z]+:", target):  # https:, mailto: — outside the repository
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def _sub_commands(command: Any) -> dict[str, Any] | None:
    """A group's sub-commands (None for a plain command), whichever click Typer uses."""
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, dict) else None


def _missing(root: Any, words: tuple[str, ...]) -> bool:
    """Whether ``words`` fail to name a command: each word after a group must be one of
    its sub-commands; words after a plain command are its arguments."""
    command = root
    for word in words:
        subs = _sub_commands(command)
        if subs is None:
            return False
        if word not in subs:
            return True
        command = subs[word]
    return False


def _shown_commands(page: Path) -> list[tuple[str, ...]]:
    shown = []
    for inline, block in CODE.findall(page.read_text(encoding="utf-8")):
        for text in (inline, block):
            for line in text.splitlines():
                for match in COMMAND.finditer(line):
                    shown.append(tuple(match.group(1).split()))
    return shown


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_the_manual_shows_exists(page: Path) -> None:
    root = typer.main.get_command(app)
    missing = [" ".join(w) for w in _shown_commands(page) if _missing(root, w)]
    assert not missing, f"{page.name} shows commands tinyclaw does not have: {missing}"


def test_the_readme_stays_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 250, f"README.md has {lines} lines; move the manual into docs/"
