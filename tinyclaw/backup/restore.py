"""Bring an archive of ``tinyclaw backup`` back into an empty home, safely.

The archive is checked whole before anything is written: a manifest of a format this
version reads; only regular files, folders and symbolic links; no absolute name, no
``..``, and no link that points outside the home (a hand-made or damaged archive
must not write anywhere else). Then it is unpacked into a hidden folder inside the
home and each top-level entry is renamed into place, so an interrupted restore leaves
the temporary folder, never half a home that looks whole.

A home that already holds any file is refused: a restore mixing two homes' queues and
pairing stores would be neither of them. Empty folders (what ``Home.ensure`` makes)
do not count.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path

from tinyclaw.backup.archive import FORMAT, MANIFEST
from tinyclaw.core.errors import BackupError
from tinyclaw.core.home import Home


def restore_backup(home: Home, archive: Path) -> str:
    _refuse_non_empty(home)
    with _open(archive) as tar:
        members = tar.getmembers()
        manifest = _manifest(tar, archive)
        for member in members:
            _check(member, archive)
        home.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=home.root))
        try:
            wanted = [m for m in members if m.name != MANIFEST]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, members=wanted, filter="data")
            else:  # Python before 3.11.4: the checks above are the filter
                tar.extractall(staging, members=wanted)
            for entry in sorted(staging.iterdir()):
                os.replace(entry, home.root / entry.name)
        except (OSError, tarfile.TarError) as exc:
            raise BackupError(f"cannot restore {archive}: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    home.ensure()  # the folders every process expects, and pairing/ private again
    count = sum(1 for m in members if m.isfile() and m.name != MANIFEST)
    lines = [f"restored {count} files into {home.root} (backup of {manifest.get('home')})"]
    if not manifest.get("env"):
        lines.append(f"no .env in the backup: put your tokens in {home.env_file}")
    lines.append("start it: tinyclaw start   (or tinyclaw worker)")
    return "\n".join(lines)


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive}: not a tinyclaw backup: {exc}") from None


def _refuse_non_empty(home: Home) -> None:
    if not home.root.exists():
        return
    for _folder, _dirs, files in os.walk(home.root):
        if files:
            raise BackupError(
                f"{home.root} is not empty; restore into a new home "
                "(--home NEW_FOLDER, or TINYCLAW_HOME) so nothing is mixed or overwritten"
            )


def _manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, object]:
    try:
        handle = tar.extractfile(MANIFEST)
        data = json.loads(handle.read()) if handle is not None else None
    except (KeyError, ValueError, tarfile.TarError):
        data = None
    if not isinstance(data, dict):
        raise BackupError(f"{archive}: not a tinyclaw backup (no {MANIFEST})")
    if data.get("format") != FORMAT:
        raise BackupError(
            f"{archive}: backup format {data.get('format')!r}; this tinyclaw reads {FORMAT}"
        )
    return data


def _check(member: tarfile.TarInfo, archive: Path) -> None:
    """Refuse anything that would land outside the home or is not plain data."""
    name = member.name
    where = f"{archive}: {name!r}"
    if not (member.isfile() or member.isdir() or member.issym()):
        raise BackupError(f"{where} is not a file, folder or link; refusing the archive")
    normal = posixpath.normpath(name)
    if name.startswith("/") or normal == ".." or normal.startswith("../"):
        raise BackupError(f"{where} points outside the home; refusing the archive")
    if member.issym():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(normal), member.linkname))
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            raise BackupError(f"{where} links outside the home; refusing the archive")
