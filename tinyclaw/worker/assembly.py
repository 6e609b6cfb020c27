"""Assemble the long-lived objects of a worker from a home and its configuration."""

from __future__ import annotations

from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.core.home import Home
from tinyclaw.core.redaction import Redactor
from tinyclaw.runners import ProcessRunner, Runner, make_runner
from tinyclaw.runners.groups import GroupLedger
from tinyclaw.runners.redacting import RedactingRunner
from tinyclaw.runners.sandbox import Sandbox, probe_bwrap

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


def build_runners(
    home: Home, config: Config, redactor: Redactor | None = None
) -> dict[str, Runner]:
    """One runner per kind in use; each records its CLIs' process groups in
    ``state/runs/`` so the next worker can stop what a dead one left running.
    With ``redactor``, every result and progress event of theirs is redacted. Each CLI
    runs in the sandbox ``[sandbox]`` describes; a ConfigError if it is demanded
    (``mode = "bwrap"``) and does not work here."""
    kinds = {actor.runner for actor in config.actors.values()}
    process = ProcessRunner(ledger=GroupLedger(home.runs))
    probe_bwrap.cache_clear()  # bwrap may have been installed since: try it again
    sandbox = Sandbox(home, config)
    sandbox.check()
    runners: dict[str, Runner] = {}
    for kind in sorted(kinds):
        runner = make_runner(
            kind,
            config.runners.for_kind(kind),
            search_dirs=cli_search_dirs(home),
            process=process,
            sandbox=sandbox,
        )
        runners[kind] = RedactingRunner(runner, redactor) if redactor else runner
    return runners
