"""Write a consistent archive of a home that may be serving right now.

What goes in (paths relative to the home, as in the home): ``tinyclaw.toml`` and
``tinyclaw.local.toml``; ``pairing/``; ``schedules/``; each actor's folder
(``sessions.json``, persona, ``inbox/``), without its ``workspace/`` unless asked;
``state/`` (team conversations, heartbeats, saved run results); and ``queue/``.
``.env`` holds the tokens, so it goes in only when asked. Left out: ``logs/``, lock
files, ``queue/tmp/`` (half-written files) and ``state/runs/`` (process ids of CLIs
running on this machine now).

Consistency while the worker and listeners run:

* each store is copied under the lock its writers take: the pairing store under
  ``pairing/store.lock``, the job store under ``schedules/.lock``, each actor's
  sessions under its ``sessions.lock``; so no copy sees half of a transaction;
* every other file is replaced only by rename (tmp → fsync → rename), so reading it
  gives one whole version; each file is read once into the archive, never twice;
* a queued message moves between boxes while the copy runs (incoming → inbox →
  processing → done). The boxes are copied in that order, so a message that moves is
  seen again further on, never missed; a message seen in two boxes is kept only in
  the later one, so a restore never runs it twice. A message copied while its CLI ran
  is in ``processing/``, and the restored worker's start-up puts it back in its inbox,
  as after any crash (a reply already written counts as done).

A manifest (``tinyclaw-backup.json``) comes first: the format version, when, which
tinyclaw, and what the archive holds.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from tinyclaw import __version__
from tinyclaw.config import Config, load_config
from tinyclaw.config.reload import LOCAL_CONFIG_NAME
from tinyclaw.core.errors import BackupError, ConfigError
from tinyclaw.core.home import CONFIG_NAME, Home
from tinyclaw.pairing.store import LOCK_FILE as PAIRING_LOCK
from tinyclaw.runners.sessions import FILE_NAME as SESSIONS_FILE

MANIFEST = "tinyclaw-backup.json"
FORMAT = 1
LOCK_TIMEOUT = 30.0
# The boxes a queued message passes through, in order (see the module docstring).
MESSAGE_BOXES = ("queue/incoming", "actors/*/inbox", "queue/processing/*", "queue/failed")
REPLY_BOXES = ("queue/outgoing/*", "queue/sent/*")


@dataclass
class _Collected:
    """What goes into the archive: bytes read once, keyed by their archive name."""

    files: dict[str, tuple[bytes, int, float]] = field(default_factory=dict)
    trees: list[tuple[Path, str]] = field(default_factory=list)  # copied as they are
    left_out: list[str] = field(default_factory=list)


def create_backup(home: Home, target: Path, *, workspaces: bool, with_env: bool) -> str:
    """Write the archive to ``target`` (tmp + rename) and return a one-paragraph summary."""
    if not home.config_file.exists():
        raise BackupError(f"{home.root} is not a tinyclaw home (no {CONFIG_NAME})")
    try:
        config: Config | None = load_config(home)
    except ConfigError:
        config = None  # archive it anyway: a backup is how one recovers from a bad edit
    got = _Collected()
    for name in (CONFIG_NAME, LOCAL_CONFIG_NAME, *((".env",) if with_env else ())):
        _read_file(home, home.root / name, got)
    _read_tree(home, home.pairing, got, _lock(home.pairing / PAIRING_LOCK))
    _read_tree(home, home.schedules, got, _lock(home.schedules / ".lock"))
    _read_actors(home, got, skip_workspace=not workspaces)
    _read_tree(home, home.state, got, skip=("runs",))
    _read_queue(home, got)
    if workspaces and config is not None:
        _add_workspaces(home, config, got)
    manifest = {
        "format": FORMAT,
        "created": time.time(),
        "tinyclaw": __version__,
        "home": str(home.root),
        "env": with_env,
        "workspaces": workspaces,
        "files": len(got.files),
    }
    _write_archive(target, manifest, got)
    lines = [f"wrote {target}: {len(got.files)} files"]
    lines.append(
        ".env included (it holds your tokens: keep the archive private)"
        if with_env
        else ".env not included (add --with-env to archive your tokens too)"
    )
    lines.append("workspaces included" if workspaces else "workspaces not included (--workspaces)")
    lines += [f"left out: {item}" for item in got.left_out]
    return "\n".join(lines)


def _lock(path: Path) -> AbstractContextManager[object]:
    if not path.parent.is_dir():
        return nullcontext()
    return FileLock(str(path), timeout=LOCK_TIMEOUT)


def _skipped(name: str) -> bool:
    return name.endswith(".lock") or (name.startswith(".") and name.endswith(".tmp"))


def _read_file(home: Home, path: Path, got: _Collected, arcname: str | None = None) -> bool:
    """Read ``path`` whole into ``got``; False if it vanished (moved on, or never was)."""
    try:
        st = path.lstat()
        if not path.is_file() or path.is_symlink():
            return False
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None
    got.files[arcname or path.relative_to(home.root).as_posix()] = (
        data,
        st.st_mode & 0o777,
        st.st_mtime,
    )
    return True


def _walk(root: Path, skip: tuple[str, ...] = ()) -> Iterator[Path]:
    """Regular files under ``root`` (no symlinks followed), minus lock/temp files."""
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not (here == root and d in skip))
        for name in sorted(files):
            if not _skipped(name):
                yield here / name


def _read_tree(
    home: Home,
    root: Path,
    got: _Collected,
    lock: AbstractContextManager[object] | None = None,
    skip: tuple[str, ...] = (),
) -> None:
    try:
        with lock or nullcontext():
            for path in _walk(root, skip):
                _read_file(home, path, got)
    except Timeout:
        raise BackupError(f"{root}: locked by another process for too long; try again") from None


def _read_actors(home: Home, got: _Collected, *, skip_workspace: bool) -> None:
    """Each actor's folder but its inbox (the queue's part) and, unless asked, its
    workspace; sessions under their lock."""
    if not home.actors.is_dir():
        return
    for actor in sorted(p for p in home.actors.iterdir() if p.is_dir() and not p.is_symlink()):
        skip = ("inbox", "workspace") if skip_workspace else ("inbox",)
        sessions_lock = (actor / SESSIONS_FILE).with_suffix(".lock")  # as SessionStore's
        _read_tree(home, actor, got, _lock(sessions_lock), skip=skip)


def _read_queue(home: Home, got: _Collected) -> None:
    _read_boxes(home, MESSAGE_BOXES, got)
    _read_boxes(home, REPLY_BOXES, got)
    for box in ("queue/seen", "queue/files"):
        _read_tree(home, home.root / box, got)


def _read_boxes(home: Home, patterns: tuple[str, ...], got: _Collected) -> None:
    """Copy the boxes in pipeline order; keep each message only in the last box it
    was seen in (a message that moved during the copy is seen twice)."""
    where: dict[str, str] = {}
    for pattern in patterns:
        for box in sorted(home.root.glob(pattern)):
            if not box.is_dir() or box.is_symlink():
                continue
            for path in sorted(box.iterdir()):
                if _skipped(path.name) or not _read_file(home, path, got):
                    continue
                arcname = path.relative_to(home.root).as_posix()
                earlier = where.get(path.name)
                if earlier is not None and earlier != arcname:
                    got.files.pop(earlier, None)
                where[path.name] = arcname


def _add_workspaces(home: Home, config: Config, got: _Collected) -> None:
    root = home.root.resolve()
    for name in config.actors:
        workspace = config.workspace_for(home, name).resolve()
        if not workspace.is_dir():
            continue
        if not workspace.is_relative_to(root):
            got.left_out.append(f"@{name}'s workspace {workspace} (outside the home)")
            continue
        arcname = workspace.relative_to(root).as_posix()
        if arcname.startswith("actors/"):
            continue  # collected with the actor's folder
        got.trees.append((workspace, arcname))


def _write_archive(target: Path, manifest: dict[str, object], got: _Collected) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode(), 0o600, time.time())
            for arcname, (data, mode, mtime) in sorted(got.files.items()):
                _add_bytes(tar, arcname, data, mode, mtime)
            for path, arcname in got.trees:
                tar.add(path, arcname=arcname, filter=_plain)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"cannot write {target}: {exc}") from None
    target.chmod(0o600)  # it holds the pairing key and conversations


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(mtime)
    tar.addfile(info, io.BytesIO(data))


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Workspaces: files, folders and links that stay inside; no devices or owners."""
    if not (info.isfile() or info.isdir() or info.issym()):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
