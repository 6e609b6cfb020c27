"""The spool: tinyclaw's queue between listeners, the worker and the CLIs.

:class:`SpoolBackend` (``backend.py``) is the interface every caller needs;
:class:`Spool` (``maildir.py``) is its embedded implementation, files in the home;
``recovery.py`` holds the Maildir backend's sweeps. ``from tinyclaw.spool import
Spool`` is the front door.
"""

from tinyclaw.core.errors import SpoolError
from tinyclaw.core.fsutil import unique_name
from tinyclaw.spool.backend import KeyValue, Recovered, SpoolBackend
from tinyclaw.spool.maildir import REASON_SUFFIX, STALE_TMP_SECONDS, SUFFIX, Spool

__all__ = [
    "REASON_SUFFIX",
    "STALE_TMP_SECONDS",
    "SUFFIX",
    "KeyValue",
    "Recovered",
    "Spool",
    "SpoolBackend",
    "SpoolError",
    "unique_name",
]
