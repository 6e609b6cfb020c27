"""A run whose CLI was killed from outside gets one more try, not an error reply.

The OOM killer (or an operator's ``kill -9``) ending the CLI says nothing about the
message: the same prompt usually succeeds a moment later. So a run judged
``killed`` (see the runner: a death by a signal tinyclaw did not send, before any
successful result line) goes back to its actor's inbox once, counted as an attempt
within ``worker.max_attempts``. A second kill, or no attempt left, is answered with
the error as before: a prompt that reliably exhausts memory must not loop.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tinyclaw.config import WorkerConfig
from tinyclaw.core.messages import Inbound
from tinyclaw.runners import RunResult
from tinyclaw.runners.base import ERROR_KILLED
from tinyclaw.spool import Spool

log = logging.getLogger("tinyclaw.worker")

RETRIED_KEY = "killed_retry"  # in Inbound.meta: this message was retried after a kill


def retry_if_killed(
    spool: Spool,
    path: Path,
    message: Inbound,
    actor: str,
    result: RunResult,
    settings: WorkerConfig,
    now: float,
) -> bool:
    """Put ``message`` back into ``actor``'s inbox if its run was killed from outside
    and this is its first such kill with an attempt left; True if it was."""
    if not (result.error or "").startswith(ERROR_KILLED):
        return False
    attempts = message.attempts + 1
    if message.meta.get(RETRIED_KEY) or attempts >= settings.max_attempts:
        return False
    retried = message.model_copy(
        update={
            "attempts": attempts,
            "not_before": now + settings.retry_backoff,
            "meta": {**message.meta, RETRIED_KEY: True},
        }
    )
    spool.rewrite(path, retried, spool.inbox(actor))
    log.warning(
        "%s: the CLI of @%s was %s; trying once more (attempt %d of %d)",
        message.id,
        actor,
        result.error,
        attempts + 1,
        settings.max_attempts,
    )
    return True
