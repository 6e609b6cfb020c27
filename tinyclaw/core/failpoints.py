"""Named crash points, for proving that a SIGKILL between any two steps loses nothing.

Set ``TINYCLAW_FAILPOINT=<name>`` (comma-separated for several) in a process's
environment and it kills itself with SIGKILL when it reaches that point, the way a
power cut or the OOM killer would. Unset (always, in normal use) a failpoint is one
set lookup. The crash tests name every point; see tests/test_crash_points.py.
"""

from __future__ import annotations

import os
import signal

_ARMED = frozenset(p for p in os.environ.get("TINYCLAW_FAILPOINT", "").split(",") if p)


def failpoint(name: str) -> None:
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
