"""The persona file an actor's CLI reads: ``CLAUDE.md`` (claude) or ``AGENTS.md``
(codex) in its workspace, generated from one source.

The source is the configuration: the actor's ``persona``, a team section generated
from ``[teams.*]`` (who its teammates are, what each does, the handoff syntax), and
sections other modules contribute (see :func:`extra_sections`). Only the block
between the ``tinyclaw:begin``/``tinyclaw:end`` markers is ever rewritten, so what a
person adds above or below it survives every worker start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from tinyclaw.actors import drop_guide
from tinyclaw.config import Config
from tinyclaw.core import Home, TinyclawError, atomic_write
from tinyclaw.teams import describe, teammates, teams_of

log = logging.getLogger("tinyclaw.actors")

BEGIN = (
    "<!-- tinyclaw:begin (generated from tinyclaw.toml; edits inside this block are replaced) -->"
)
END = "<!-- tinyclaw:end -->"
_BEGIN_PREFIX = "<!-- tinyclaw:begin"
FILE_NAMES = {"claude": "CLAUDE.md", "codex": "AGENTS.md"}

# What contributes a section: ``section(home, config, actor) -> str``.
SECTION_PROVIDERS: tuple[Callable[[Home, Config, str], str], ...] = (drop_guide.persona_section,)


def persona_path(home: Home, config: Config, actor: str) -> Path:
    return config.workspace_for(home, actor) / FILE_NAMES[config.actors[actor].runner]


def team_section(config: Config, actor: str) -> str:
    """Who the actor works with and how to hand them work; empty outside any team."""
    teams = teams_of(config, actor)
    mates = teammates(config, actor)
    if not teams or not mates:
        return ""
    roles = []
    for name in teams:
        team = config.teams[name]
        role = "the leader" if team.leader == actor else "a member"
        about = f" ({team.description})" if team.description else ""
        roles.append(f'{role} of team "{name}"{about}')
    example = mates[0]
    several = ",".join(mates[:2])
    lines = [
        "## Your team",
        "",
        f"You are @{actor}, " + "; ".join(roles) + ". Your teammates:",
        "",
        *(f"- {describe(config, m)}" for m in mates),
        "",
        "To hand a task to a teammate, write a tag anywhere in your reply:",
        "",
        f"    [@{example}: the task, with everything they need to know]",
        "",
        f"`[@{several}: ...]` gives one task to several teammates. The rest of your reply "
        "is shared with them as context. Once every task you handed off is answered, "
        'the answers come back to you together, in a message starting with "[Answers '
        'from your teammates]"; then reply without tags to finish your work.',
        "",
        'A message starting with "[Task from @name]" is a task a teammate handed you: '
        "your reply is your answer and goes back to @name, not to the user.",
        "",
        "Only your teammates can be addressed; tags inside `code` are ignored.",
    ]
    return "\n".join(lines)


def extra_sections(home: Home, config: Config, actor: str) -> list[str]:
    """Sections other modules add (e.g. the actor's outbox/ and schedules/ folders);
    one that cannot be written (a store it reads is broken) is left out and logged."""
    sections = []
    for provider in SECTION_PROVIDERS:
        try:
            section = provider(home, config, actor)
        except (TinyclawError, OSError) as exc:
            log.warning("%s: no persona section for @%s: %s", provider.__module__, actor, exc)
            continue
        if isinstance(section, str) and section.strip():
            sections.append(section.strip())
    return sections


def render_persona(config: Config, actor: str, extras: Sequence[str] = ()) -> str:
    """The generated block's content, markers included."""
    parts = [BEGIN, f"# @{actor}"]
    persona = config.actors[actor].persona.strip()
    if persona:
        parts.append(persona)
    team = team_section(config, actor)
    if team:
        parts.append(team)
    parts.extend(s.strip() for s in extras if s.strip())
    parts.append(END)
    return "\n\n".join(parts) + "\n"


def persona_prompt(home: Home, config: Config, actor: str) -> str:
    """The whole persona as a system prompt, for an actor without a persona file of
    its own (actors sharing a workspace): the text the file would hold, without the
    markers, so such an actor still learns its team, its folders and its formats."""
    block = render_persona(config, actor, extra_sections(home, config, actor))
    return block.replace(BEGIN, "").replace(END, "").strip()


def merge_block(existing: str | None, block: str) -> str:
    """``existing`` with its generated block replaced by ``block`` (or ``block`` added
    after what a person wrote, if there is none yet)."""
    if not existing or not existing.strip():
        return block
    start = existing.find(_BEGIN_PREFIX)
    if start < 0:
        return existing.rstrip("\n") + "\n\n" + block
    end = existing.find(END, start)
    after = "" if end < 0 else existing[end + len(END) :].lstrip("\n")
    merged = existing[:start] + block
    return merged + ("\n" + after if after else "")


def write_persona(
    home: Home, config: Config, actor: str, extras: Sequence[str] | None = None
) -> Path:
    """Write (or refresh) one actor's persona file; untouched if nothing changed."""
    path = persona_path(home, config, actor)
    if extras is None:
        extras = extra_sections(home, config, actor)
    block = render_persona(config, actor, extras)
    try:
        existing: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = None
    merged = merge_block(existing, block)
    if merged != existing:
        atomic_write(path, merged.encode("utf-8"))
    return path


def write_personas(home: Home, config: Config) -> set[str]:
    """Refresh every actor's persona file; returns the actors whose persona now lives
    in their file. Actors sharing a workspace are skipped (one file cannot hold two
    personas): their persona keeps going to the CLI as a system prompt instead. The
    drop folders the personas name are made here too."""
    drop_guide.make_drop_folders(home, config)
    written: set[str] = set()
    for workspace, names in config.workspace_groups(home).items():
        if len(names) > 1:
            log.warning(
                "actors %s share the workspace %s: no persona file written for them",
                ", ".join(names),
                workspace,
            )
            continue
        try:
            write_persona(home, config, names[0])
        except OSError as exc:
            log.warning("cannot write the persona file of @%s: %s", names[0], exc)
            continue
        written.add(names[0])
    return written


def refresh_persona(home: Home, config: Config, actor: str) -> bool:
    """Rewrite one actor's persona file after something it lists changed (the chats a
    new or removed job lets it write to). False if it has none: an unknown actor, or
    one sharing its workspace (see :func:`write_personas`)."""
    if actor not in config.actors:
        return False
    workspace = config.workspace_for(home, actor).resolve()
    if len(config.workspace_groups(home).get(workspace, [])) > 1:
        return False
    try:
        write_persona(home, config, actor)
    except OSError as exc:
        log.warning("cannot write the persona file of @%s: %s", actor, exc)
        return False
    return True
