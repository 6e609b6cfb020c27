"""The worker: routes incoming messages to actors and runs each actor's inbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.worker.assembly import PACKAGE_ROOT, cli_search_dirs
    from tinyclaw.worker.commands import resolve_actor
    from tinyclaw.worker.entry import exit_code, serve_worker
    from tinyclaw.worker.queue_choice import node_actors
    from tinyclaw.worker.spending import owner_check
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "PACKAGE_ROOT",
    "cli_search_dirs",
    "exit_code",
    "node_actors",
    "owner_check",
    "resolve_actor",
    "serve_worker",
]
