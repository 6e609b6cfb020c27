"""``tinyclaw actor add|list|show|remove``, as functions the CLI calls.

Adding or removing an actor edits ``tinyclaw.toml`` as text (see ``toml_edit``), and
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
from tinyclaw.actors.toml_edit import FieldValue, append_section, remove_section, section_text
from tinyclaw.config import (
    NAME_RE,
    Config,
    RunnerKind,
    load_config,
    parse_config,
    parse_toml,
    read_config_text,
)
from tinyclaw.errors import ConfigError, JobNotFoundError, UnsafePathError
from tinyclaw.fsutil import atomic_write
from tinyclaw.home import Home
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


def _read(home: Home) -> str:
    """The file as :func:`load_config` reads it: bounded, a regular file, no BOM."""
    return read_config_text(home.config_file)


def _parse(text: str, source: str) -> Config:
    try:
        data = parse_toml(text, source)
    except ConfigError as exc:
        raise ConfigError(f"the edited file would not be valid: {exc}") from None
    return parse_config(data, source)


def _replace_config(home: Home, text: str) -> None:
    path = home.config_file
    mode = path.stat().st_mode & 0o777
    atomic_write(path, text.encode("utf-8"))
    os.chmod(path, mode)


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
    text = _read(home)
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
        "permission_mode": permission_mode,
    }
    fields = {key: value for key, value in given.items() if value}
    updated = append_section(text, section_text(("actors", name), fields))
    new_config = _parse(updated, str(home.config_file))
    if set(new_config.actors) != {*config.actors, name}:
        raise ConfigError(f"{home.config_file}: appending [actors.{name}] did not add it cleanly")
    _replace_config(home, updated)
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


def remove_from_config(home: Home, name: str) -> None:
    """Cut ``[actors.NAME]`` out of tinyclaw.toml, changing nothing else."""
    text = _read(home)
    before = load_config(home)
    updated = remove_section(text, ("actors", name))
    after = _parse(updated, str(home.config_file))
    expected = {k: v for k, v in before.actors.items() if k != name}
    if after.actors != expected or after.model_dump(exclude={"actors"}) != before.model_dump(
        exclude={"actors"}
    ):
        raise ConfigError(
            f"{home.config_file}: cannot remove @{name} cleanly (is it defined inline?); "
            "edit the file by hand"
        )
    _replace_config(home, updated)


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
