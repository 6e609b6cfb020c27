"""The spool: tinyclaw's queue between listeners, the worker and the CLIs.

:class:`SpoolBackend` (``backend.py``) is the interface every caller needs;
:class:`Spool` (``maildir.py``) is its embedded implementation, files in the home;
``recovery.py`` holds the Maildir backend's sweeps. ``from tinyclaw.spool import
Spool`` is the front door.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import SpoolError, lazy_exports, unique_name
from tinyclaw.spool.backend import KeyValue, Location, Recovered, SpoolBackend, Whereabouts
from tinyclaw.spool.maildir import REASON_SUFFIX, STALE_TMP_SECONDS, SUFFIX, Spool

if TYPE_CHECKING:
    from tinyclaw.spool.choice import open_spool, open_store_bucket, require_file_spool
    from tinyclaw.spool.jetstream import Census as QueueCensus
    from tinyclaw.spool.jetstream import census as nats_census
    from tinyclaw.spool.jetstream import probe as probe_nats
    from tinyclaw.spool.kv_change import ChangedMeanwhile, change_key
    from tinyclaw.spool.lease import Lease, LeaseState, Standby, once
    from tinyclaw.spool.move import MoveReport, move_home, unfinished_move
    from tinyclaw.spool.recovery import prune, recover_tmp, strays
    from tinyclaw.spool.transfer import End, QueueToMove, ThingToMove
    from tinyclaw.spool.wakeup import stop_on_the_side, watch_replies
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "REASON_SUFFIX",
    "STALE_TMP_SECONDS",
    "SUFFIX",
    "ChangedMeanwhile",
    "End",
    "KeyValue",
    "Lease",
    "LeaseState",
    "Location",
    "MoveReport",
    "QueueCensus",
    "QueueToMove",
    "Recovered",
    "Spool",
    "SpoolBackend",
    "SpoolError",
    "Standby",
    "ThingToMove",
    "Whereabouts",
    "change_key",
    "move_home",
    "nats_census",
    "once",
    "open_spool",
    "open_store_bucket",
    "probe_nats",
    "prune",
    "recover_tmp",
    "require_file_spool",
    "stop_on_the_side",
    "strays",
    "unfinished_move",
    "unique_name",
    "watch_replies",
]
