"""Actors speak first: a message file an actor writes is delivered to a chat.

Every actor's workspace has an ``outbox/`` folder (``outbox/<actor>/`` when actors
share a workspace). The CLI (with its ordinary Write tool, no tool of ours) writes one
JSON file per message there::

    {"to": "telegram:123", "text": "The nightly build failed.", "files": ["logs/build.txt"]}

The worker picks the file up when it lands (or at its next scan), checks it, and turns
it into a reply in ``queue/outgoing/<channel>/``, which the listener delivers like any
answer. A file that cannot go out (not JSON, wrong keys, a chat the actor may not
write to, an attachment outside the workspace or too big) moves to the home's
``queue/failed/`` with a ``.reason`` beside it. Either way the file leaves the outbox.

Modules (other packages import the names below from ``tinyclaw.outbox``):

* ``request``  the file format and its validation (pure: bytes in, request out)
* ``scanner``  OutboxService: the worker service that scans, delivers and refuses
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.outbox.request import FOLDER, MAX_ATTACHMENT_BYTES, MAX_FILES
    from tinyclaw.outbox.scanner import OutboxService
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = ["FOLDER", "MAX_ATTACHMENT_BYTES", "MAX_FILES", "OutboxService"]
