"""``tinyclaw spool move --to nats|file``: a home's queue from one backend to the other.

The steps, each safe to run again after a crash at any point::

    check   nothing serves the queue: this machine's worker and listener locks are
            free (and are held by the move until it ends); on NATS no worker holds a
            live claim and no listener a live lease, on any machine
    copy    every thing to move (the queue, and what ``things_to_move()`` adds) is
            copied to the target, skipping what an earlier run copied; then the
            target is read again and must hold all of the source
    switch  ``[spool] backend`` is set in tinyclaw.toml (validated, written atomically)
    empty   the source is emptied, only now

A journal, ``state/spool-move.json``, says which move is under way and how far it
got, so a rerun picks it up (and refuses a move the other way until it is done).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinyclaw.config import Config, set_value
from tinyclaw.core import (
    ConfigError,
    Home,
    InstanceLock,
    SpoolError,
    atomic_write,
    failpoint,
    listener_lock_path,
    unique_name,
    worker_lock_path,
)
from tinyclaw.spool.maildir import Spool
from tinyclaw.spool.transfer import End, ThingToMove
from tinyclaw.spool.transfer_files import FileQueue

BACKENDS = ("file", "nats")
PLATFORMS = ("telegram", "discord", "whatsapp")
LABELS = {"file": "the files", "nats": "NATS"}


@dataclass
class MoveReport:
    source: str
    target: str
    copied: dict[str, int] = field(default_factory=dict)  # thing -> items copied
    removed: dict[str, int] = field(default_factory=dict)  # thing -> items removed
    held: dict[str, dict[str, int]] = field(default_factory=dict)  # thing -> kind -> n
    config: Path | None = None
    resumed: bool = False
    nothing_to_do: bool = False


def journal_path(home: Home) -> Path:
    return home.state / "spool-move.json"


def _read_journal(home: Home) -> dict[str, str] | None:
    path = journal_path(home)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SpoolError(f"{path}: unreadable ({exc}); remove it if no move is under way") from None
    if not isinstance(raw, dict) or raw.get("to") not in BACKENDS or not raw.get("id"):
        raise SpoolError(f"{path}: not a move journal; remove it if no move is under way")
    return {str(k): str(v) for k, v in raw.items()}


def unfinished_move(home: Home) -> str | None:
    """The backend an interrupted move was going to (for ``tinyclaw status``), or None."""
    try:
        journal = _read_journal(home)
    except SpoolError:
        return None
    return journal["to"] if journal is not None else None


def _write_journal(home: Home, journal: dict[str, str]) -> None:
    home.state.mkdir(parents=True, exist_ok=True)
    atomic_write(journal_path(home), json.dumps(journal, indent=1).encode())


@contextlib.contextmanager
def _nothing_running(home: Home) -> Iterator[None]:
    """Hold this machine's worker and listener locks for the whole move: one that is
    taken refuses the move in one line (AlreadyRunningError), and nothing can start
    meanwhile."""
    paths = {worker_lock_path(home.state): "worker"}
    for platform in PLATFORMS:
        paths[listener_lock_path(home.state, platform)] = f"{platform} listener"
    for path in home.state.glob("listen-*.lock"):
        paths.setdefault(path, f"{path.stem.removeprefix('listen-')} listener")
    with contextlib.ExitStack() as stack:
        for path, role in paths.items():
            stack.enter_context(InstanceLock(path, role))
        yield


def _open(home: Home, config: Config, backend: str) -> End:
    if backend == "file":
        spool = Spool(home)
        return End("file", LABELS["file"], spool, FileQueue(spool), home)
    from tinyclaw.spool.jetstream import open_jetstream
    from tinyclaw.spool.jetstream.transfer import NatsQueue

    nats = open_jetstream(config.spool)
    return End("nats", LABELS["nats"], nats, NatsQueue(nats), home)


def _close(end: End) -> None:
    close = getattr(end.spool, "close", None)
    if close is not None:
        close()


def move_home(
    home: Home,
    config: Config,
    to: str,
    things: Sequence[ThingToMove],
    say: Callable[[str], None] = lambda line: None,
) -> MoveReport:
    """Move everything in ``things`` from the home's current backend to ``to``."""
    if to not in BACKENDS:
        raise ConfigError(f"--to {to!r}: choose nats or file")
    journal = _read_journal(home)
    if journal is not None and journal["to"] != to:
        raise SpoolError(
            f"a move to {journal['to']} is not finished: run `tinyclaw spool move --to "
            f"{journal['to']}` again to finish it first"
        )
    current = config.spool.backend
    source = journal["from"] if journal is not None else current
    report = MoveReport(source, to, resumed=journal is not None)
    if journal is None and current == to:
        report.nothing_to_do = True
        return report
    switch = set_value(home, "spool", "backend", to)  # refused now if it cannot be valid
    with _nothing_running(home):
        ends: list[End] = []
        try:
            ends.append(_open(home, config, source))
            ends.append(_open(home, config, to))
            src, dst = ends
            for end in ends:
                busy = end.queue.busy()
                if busy is not None:
                    raise SpoolError(f"{busy}; stop them on every machine before moving the queue")
            if journal is None:
                _refuse_a_busy_target(things, dst)
                journal = {"id": unique_name(), "from": source, "to": to, "phase": "copy"}
                _write_journal(home, journal)
            if journal["phase"] == "copy":
                for thing in things:
                    report.held[thing.name] = thing.count(src)
                    report.copied[thing.name] = thing.copy(src, dst, journal["id"], say)
                for thing in things:
                    thing.confirm(src, dst)
                journal["phase"] = "switch"
                _write_journal(home, journal)
            switch = set_value(home, "spool", "backend", to)
            switch.write()
            failpoint("spool_move.switched")
            report.config = switch.path
            journal["phase"] = "empty"
            _write_journal(home, journal)
            for thing in things:
                report.removed[thing.name] = thing.empty(src)
            journal_path(home).unlink(missing_ok=True)
        finally:
            for end in ends:
                _close(end)
    return report


def _refuse_a_busy_target(things: Sequence[ThingToMove], target: End) -> None:
    """A move starts into an empty target: what is there would mix with what comes."""
    for thing in things:
        if thing.replaces:
            continue
        held = {k: n for k, n in thing.count(target).items() if n}
        if held:
            what = ", ".join(f"{k} {n}" for k, n in held.items())
            raise SpoolError(
                f"{target.label} already hold a {thing.name} ({what}); a move needs an "
                "empty target (empty it, or move the other way)"
            )
