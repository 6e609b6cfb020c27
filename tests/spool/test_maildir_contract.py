"""The spool contract, run against the Maildir backend (files in the home)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.spool.contract import Clock, SpoolContract
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.spool import REASON_SUFFIX, SUFFIX, Spool


class TestMaildirSpool(SpoolContract):
    def make_backend(self, home: Home, clock: Clock) -> Spool:
        return Spool(home, clock=clock, durable=False)

    def plant(self, backend: Spool, actor: str, data: bytes) -> Path:
        box = backend.ensure_box(backend.inbox(actor))
        path = box / (unique_name() + SUFFIX)
        path.write_bytes(data)
        return path

    def plant_reply(self, backend: Spool, channel: str, data: bytes) -> Path:
        box = backend.ensure_box(backend.outgoing(channel))
        path = box / (unique_name() + SUFFIX)
        path.write_bytes(data)
        return path

    def failures(self, backend: Spool) -> dict[str, str]:
        return {
            path.stem: json.loads((path.parent / (path.name + REASON_SUFFIX)).read_text())["reason"]
            for path in backend.list_box(backend.failed)
        }
