"""Drop folders: the files an actor's CLI writes into its workspace (``outbox/``,
``schedules/``) and the rules every such folder follows: a half-written file waits
(``shared``), a file leaves only when its actor is idle (``keeper``), and a second
identical request within a short window is a no-op (``recent``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.drops.keeper import Busy, DropKeeper, never_busy, unchanged, version_id
    from tinyclaw.drops.recent import RecentRequests
    from tinyclaw.drops.shared import SETTLE_SECONDS, Unclaimed, Unsettled, parse_settled
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "SETTLE_SECONDS",
    "Busy",
    "DropKeeper",
    "RecentRequests",
    "Unclaimed",
    "Unsettled",
    "never_busy",
    "parse_settled",
    "unchanged",
    "version_id",
]
