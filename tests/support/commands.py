"""The ``tinyclaw`` command as a user runs it, and the event log it leaves."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.support.paths import REPO
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home


def run_tinyclaw(
    *args: str, home: Home | None = None, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``tinyclaw ARGS`` as a user types it (a subprocess of this very Python), on
    ``home`` or, without one, on the test's isolated home; ``env`` adds variables."""
    variables = {**os.environ, **(env or {})}
    if home is not None:
        variables["TINYCLAW_HOME"] = str(home.root)
    return subprocess.run(
        [sys.executable, "-m", "tinyclaw", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=variables,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def events(home: Home, kind: str | None = None) -> list[dict[str, Any]]:
    """The home's event log (``logs/events.jsonl``), only ``kind`` events if given."""
    found = EventLog(home.logs / "events.jsonl").read()
    return [e for e in found if kind is None or e.get("event") == kind]
