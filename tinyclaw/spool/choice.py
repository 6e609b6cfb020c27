"""Which spool a component runs on: the files in the home, or NATS JetStream.

The listeners, the worker and ``tinyclaw send``/``chat`` run on either
(:func:`open_spool`). A part that still works on the files only refuses, in one line,
while the configuration says NATS, rather than queue where no worker looks
(:func:`require_file_spool`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinyclaw.config import Config
from tinyclaw.core import ConfigError, Home
from tinyclaw.spool.backend import KeyValue, SpoolBackend
from tinyclaw.spool.maildir import Spool


def require_file_spool(config: Config, component: str) -> None:
    """ConfigError unless the home's queue is on files."""
    if config.spool.backend != "file":
        raise ConfigError(
            f'[spool] backend = "{config.spool.backend}": {component} do not run on the '
            "NATS spool yet (see docs/several-machines.md)"
        )


def open_spool(
    home: Home,
    config: Config,
    *,
    redact: Callable[[str], str] | None = None,
    actors: frozenset[str] | None = None,
) -> SpoolBackend[Any]:
    """The home's queue as ``[spool]`` says: the files, or a connection to the NATS
    servers (credentials from the environment; SpoolUnavailableError when no server
    answers, ConfigError when a named variable is not set). The caller closes a NATS
    spool (``close()``) when it is done. ``actors`` limits a NATS spool's recovery
    to a worker node's actors (None: all)."""
    if config.spool.backend == "file":
        return Spool(home, redact=redact)
    from tinyclaw.spool.jetstream import open_jetstream

    return open_jetstream(config.spool, redact=redact, actors=actors)


def open_store_bucket(config: Config, name: str, spool: object = None) -> KeyValue | None:
    """The key-value bucket ``name`` (``pairing``, ``sessions``) of a home whose
    ``[spool]`` is on NATS: ``spool``'s own when it is given and has buckets (the
    listener's or the worker's connection), else one on a connection of its own.
    None on files, where each store keeps its own files."""
    if config.spool.backend == "file":
        return None
    kv = getattr(spool, "kv", None)
    if kv is not None:
        found: KeyValue = kv(name)
        return found
    from tinyclaw.spool.jetstream import open_bucket

    return open_bucket(config.spool, name)
