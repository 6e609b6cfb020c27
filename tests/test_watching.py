"""The wake-up behind tinyclaw's latency: a file renamed into a watched folder wakes
the waiter at once, through inotify on Linux (watchdog's Observer holds a rename up
to half a second)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from tinyclaw.core.watching import Watcher


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_a_rename_into_a_watched_folder_wakes_the_waiter_through_inotify(tmp_path: Path) -> None:
    box, tmp = tmp_path / "incoming", tmp_path / "tmp"
    tmp.mkdir()
    woken = threading.Event()
    watcher = Watcher([box, box], woken)  # the same folder twice is watched once
    watcher.start()
    try:
        assert watcher.backend == "inotify", "fell back to the observer"
        (tmp / "m.json").write_text("{}")
        os.rename(tmp / "m.json", box / "m.json")
        assert woken.wait(5)
    finally:
        watcher.stop()
