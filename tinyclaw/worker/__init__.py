"""The worker: routes incoming messages to actors and runs each actor's inbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.worker.assembly import PACKAGE_ROOT, cli_search_dirs
    from tinyclaw.worker.commands import resolve_actor
    from tinyclaw.worker.entry import exit_code, serve_worker
    from tinyclaw.worker.spending import owner_check
else:
    # Imported on first use, so that a process loads only the modules it needs.
    __getattr__ = lazy_exports(
        __name__,
        {
            "assembly": (
                "PACKAGE_ROOT",
                "cli_search_dirs",
            ),
            "commands": ("resolve_actor",),
            "entry": (
                "exit_code",
                "serve_worker",
            ),
            "spending": ("owner_check",),
        },
    )

__all__ = [
    "PACKAGE_ROOT",
    "cli_search_dirs",
    "exit_code",
    "owner_check",
    "resolve_actor",
    "serve_worker",
]
