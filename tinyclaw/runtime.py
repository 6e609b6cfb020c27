"""Assemble the long-lived objects of a worker from a home and its configuration."""

from __future__ import annotations

from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.home import Home
from tinyclaw.runners import ProcessRunner, Runner, make_runner
from tinyclaw.runners.groups import GroupLedger

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def cli_search_dirs(home: Home) -> list[Path]:
    """Where to look for ``claude``/``codex`` when no ``command`` is configured: PATH
    first, then the npm prefix the launcher installs into (the home's and the
    checkout's ``.tools/``)."""
    dirs = [
        home.root / ".tools" / "node_modules" / ".bin",
        PACKAGE_ROOT / ".tools" / "node_modules" / ".bin",
    ]
    return list(dict.fromkeys(dirs))


def build_runners(home: Home, config: Config) -> dict[str, Runner]:
    """One runner per kind in use; each records its CLIs' process groups in
    ``state/runs/`` so the next worker can stop what a dead one left running."""
    kinds = {actor.runner for actor in config.actors.values()}
    process = ProcessRunner(ledger=GroupLedger(home.runs))
    return {
        kind: make_runner(
            kind,
            config.runners.for_kind(kind),
            search_dirs=cli_search_dirs(home),
            process=process,
        )
        for kind in sorted(kinds)
    }
