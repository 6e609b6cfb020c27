"""``tinyclaw actor add|list|show|remove``, as functions the CLI calls.

Adding or removing an actor edits ``tinyclaw.toml`` with ``tomlkit`` (see ``toml_edit``), and
the edited text must load, with exactly the intended change, before it replaces the
file. Removing never deletes anything outside ``actors/<name>/``: a workspace
configured elsewhere stays, and so do its sessions under ``state/``. Nor does it
delete that folder while another actor's workspace lies inside it. The actor's
scheduled jobs go with it (the CLI lists them and asks first): a job for an actor
that no longer exists could only fail at every run.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tinyclaw.actors.persona import persona_path, write_persona
from tinyclaw.actors.toml_edit import FieldValue, add_table, remove_table
from tinyclaw.config import (
    NAME_RE,
    Config,
    RunnerKind,
    load_config,
    merge_tables,
    parse_config,
    parse_toml,
    read_config_text,
    read_toml,
)
from tinyclaw.core.errors import ConfigError, JobNotFoundError, UnsafePathError
from tinyclaw.core.fsutil import atomic_write
from tinyclaw.core.home import Home
from tinyclaw.schedule.models import Job
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool
from tinyclaw.teams.roster import teammates, teams_of


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"invalid actor name {name!r}: use a-z, 0-9, '-' and '_', start with a letter "
            "or digit, at most 32 characters"
        )
    return name


def _read(path: Path) -> str:
    """The file as :func:`load_config` reads it: bounded, a regular file, no BOM."""
    return read_config_text(path)


def _files(home: Home) -> list[Path]:
    """The configuration files in force: tinyclaw.toml, then the local one over it."""
    local = home.local_config_file
    return [home.config_file, local] if local.exists() else [home.config_file]


def _parse_with(home: Home, path: Path, text: str) -> Config:
    """The configuration as it would be with ``path`` holding ``text``."""
    try:
        edited = parse_toml(text, str(path))
    except ConfigError as exc:
        raise ConfigError(f"the edited file would not be valid: {exc}") from None
    data: dict[str, object] = {}
    for source in _files(home):
        data = merge_tables(data, edited if source == path else read_toml(source))
    return parse_config(data, str(path))


def _replace_config(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    atomic_write(path, text.encode("utf-8"))
    os.chmod(path, mode)


# What a new actor may do unless told otherwise: write in its workspace, as the
# template's first actor does. Without it claude denies every edit and codex runs in
# its read-only sandbox, so an added actor would silently differ from the first one.
WRITE_MODES: dict[str, str] = {"claude": "acceptEdits", "codex": "workspace-write"}


def add_actor(
    home: Home,
    name: str,
    *,
    runner: RunnerKind = "claude",
    model: str | None = None,
    description: str = "",
    persona: str = "",
    permission_mode: str | None = None,
) -> Config:
    """Append ``[actors.NAME]``, create its folders and persona file; the new config."""
    check_name(name)
    # The owner's own file when there is one, so a checkout's tracked file stays clean.
    target = _files(home)[-1]
    text = _read(target)
    config = load_config(home)
    if name in config.actors:
        raise ConfigError(f"there is already an actor called {name!r}")
    if name in config.teams:
        raise ConfigError(f"{name!r} is the name of a team; actors and teams share names")
    given: dict[str, FieldValue | None] = {
        "runner": runner,
        "model": model,
        "description": description,
        "persona": persona,
        "permission_mode": permission_mode or WRITE_MODES[runner],
    }
    fields = {key: value for key, value in given.items() if value}
    updated = add_table(text, ("actors", name), fields, str(target))
    new_config = _parse_with(home, target, updated)
    if set(new_config.actors) != {*config.actors, name}:
        raise ConfigError(f"{target}: appending [actors.{name}] did not add it cleanly")
    _replace_config(target, updated)
    Spool(home).inbox(name).mkdir(parents=True, exist_ok=True)
    new_config.workspace_for(home, name).mkdir(parents=True, exist_ok=True)
    write_persona(home, new_config, name)
    return new_config


@dataclass(frozen=True)
class Removal:
    """What removing an actor would touch, for the CLI to show and ask about."""

    name: str
    folder: Path  # actors/<name>/
    workspace: Path
    workspace_inside: bool  # the workspace is in the folder (deleting it deletes both)
    queued: int  # messages waiting in its inbox or claimed for it
    used_by: list[str] = field(default_factory=list)  # others working inside the folder
    jobs: list[Job] = field(default_factory=list)  # its scheduled jobs, removed with it


def _inside(path: Path, folder: Path) -> bool:
    resolved, root = path.resolve(), folder.resolve()
    return resolved == root or root in resolved.parents


def workspaces_inside(home: Home, config: Config, name: str) -> list[str]:
    """The other actors whose workspace (symlinks resolved) lies in ``actors/<name>/``:
    deleting that folder would delete the place they work in."""
    folder = home.actor_dir(name)
    return [
        other
        for other in config.actors
        if other != name and _inside(config.workspace_for(home, other), folder)
    ]


def plan_removal(home: Home, name: str, *, force: bool = False) -> Removal:
    """Check that ``name`` can go; raise ConfigError saying why not."""
    check_name(name)
    config = load_config(home)
    if name not in config.actors:
        raise ConfigError(f"no actor called {name!r}; actors: {', '.join(config.actors)}")
    teams = teams_of(config, name)
    if teams:
        listed = ", ".join(f"[teams.{t}]" for t in teams)
        raise ConfigError(f"@{name} is in {listed}; take it out of the team first")
    if config.default_actor == name:
        why = (
            "worker.default_actor"
            if config.worker.default_actor == name
            else "the default actor (the first one defined, as worker.default_actor is not set)"
        )
        raise ConfigError(
            f"@{name} is {why}: messages without an @name go to it; set "
            "worker.default_actor to another actor first"
        )
    spool = Spool(home)
    queued = len(spool.list_box(spool.inbox(name))) + len(spool.list_box(spool.processing(name)))
    if queued and not force:
        raise ConfigError(
            f"@{name} still has {queued} message(s) waiting; let the worker finish them, "
            "or pass --force to remove it anyway"
        )
    folder = home.actor_dir(name)
    workspace = config.workspace_for(home, name)
    jobs = [job for job in JobStore.for_home(home).list() if job.actor == name]
    return Removal(
        name,
        folder,
        workspace,
        _inside(workspace, folder),
        queued,
        used_by=workspaces_inside(home, config, name),
        jobs=jobs,
    )


def remove_jobs(home: Home, removal: Removal) -> list[str]:
    """Delete the actor's scheduled jobs (a job of an actor that is gone could only
    fail at every run); the ids removed. A job already gone is skipped."""
    store = JobStore.for_home(home)
    removed = []
    for job in removal.jobs:
        try:
            store.remove(job.id)
        except JobNotFoundError:
            continue
        removed.append(job.id)
    return removed


def remove_from_config(home: Home, name: str) -> list[Path]:
    """Cut ``[actors.NAME]`` out of each configuration file defining it, changing
    nothing else; the files edited."""
    before = load_config(home)
    edited = []
    for path in _files(home):
        text = _read(path)
        updated = remove_table(text, ("actors", name), str(path))
        if updated == text:
            continue
        after = _parse_with(home, path, updated)
        if after.model_dump(exclude={"actors"}) != before.model_dump(exclude={"actors"}) or any(
            after.actors.get(k) != v for k, v in before.actors.items() if k != name
        ):
            raise ConfigError(f"{path}: cannot remove @{name} cleanly; edit the file by hand")
        _replace_config(path, updated)
        edited.append(path)
        before = load_config(home)
    return edited


def delete_folder(home: Home, name: str) -> bool:
    """Delete ``actors/<name>/`` and nothing else; False if there was none. Refused
    (ConfigError, naming them) while another configured actor works inside it."""
    check_name(name)
    if home.config_file.exists():
        users = workspaces_inside(home, load_config(home), name)
        if users:
            raise ConfigError(
                f"not deleting {home.actor_dir(name)}: the workspace of "
                + ", ".join(f"@{u}" for u in users)
                + " is inside it"
            )
    root = home.actors.resolve()
    folder = home.actor_dir(name)
    if folder.is_symlink():
        raise UnsafePathError(f"{folder} is a symlink; not following it")
    if not folder.exists():
        return False
    if folder.resolve().parent != root:
        raise UnsafePathError(f"{folder} is not inside {root}")
    shutil.rmtree(folder)  # rmtree never follows symlinks inside the tree
    return True


# -- reading -------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorInfo:
    name: str
    runner: str
    model: str
    description: str
    teams: list[str]
    teammates: list[str]
    workspace: Path
    persona_file: Path
    queued: int


def info(home: Home, config: Config, name: str) -> ActorInfo:
    if name not in config.actors:
        raise ConfigError(f"no actor called {name!r}; actors: {', '.join(config.actors)}")
    actor = config.actors[name]
    spool = Spool(home)
    roles = [
        f"{team} (leader)" if config.teams[team].leader == name else team
        for team in teams_of(config, name)
    ]
    return ActorInfo(
        name=name,
        runner=actor.runner,
        model=actor.model or "(default)",
        description=actor.description,
        teams=roles,
        teammates=teammates(config, name),
        workspace=config.workspace_for(home, name),
        persona_file=persona_path(home, config, name),
        queued=len(spool.list_box(spool.inbox(name))),
    )
