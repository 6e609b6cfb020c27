"""The launcher: all of tinyclaw in one tmux session, each part restarted when it dies.

::

    tinyclaw start
      └─ tmux session "tinyclaw"        (each window: python -m tinyclaw.launcher supervise …)
           ├─ status      -- python -m tinyclaw.launcher dashboard
           ├─ worker      -- python -m tinyclaw worker
           ├─ telegram    -- python -m tinyclaw listen telegram        (if enabled)
           └─ <actor>     -- python -m tinyclaw.launcher watch <actor>

Modules: ``components`` (what runs in which window), ``tmux`` (the session, through
libtmux), ``supervisor`` (run one child, restart it with backoff, say so in the
window), ``readiness`` (when a child counts as started), ``state`` (the status file
each supervisor keeps), ``control`` (start, stop, wait for readiness), ``status``
(what ``tinyclaw status`` and the dashboard show), ``watch`` and ``render`` (the
actor window), ``logs`` (``tinyclaw logs``), ``__main__`` (the small entry points the
windows run). The supervisor imports only the standard library and a few small
tinyclaw modules, so the process that sits in every window stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.launcher import logs
    from tinyclaw.launcher.components import actor_component
    from tinyclaw.launcher.control import Launcher
    from tinyclaw.launcher.dashboard import dashboard_main
    from tinyclaw.launcher.health import snapshot_json, status_code
    from tinyclaw.launcher.status import collect, format_status, running_node
    from tinyclaw.launcher.supervisor import supervise_main
    from tinyclaw.launcher.tmux import Tmux, session_name, socket_name
    from tinyclaw.launcher.watch import watch_main
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "Launcher",
    "Tmux",
    "actor_component",
    "collect",
    "dashboard_main",
    "format_status",
    "logs",
    "running_node",
    "session_name",
    "snapshot_json",
    "socket_name",
    "status_code",
    "supervise_main",
    "watch_main",
]
