"""The queue a worker serves: the home's files, or its node's share of NATS JetStream.

On files one worker serves the whole home. On NATS each worker is a node: it opens
the spool limited to the actors ``[nodes.NAME]`` gives it (all actors when the home
defines no nodes), returns its own dead claims at start (``recover``, done by the
loop's upkeep) and is woken by a subscription on the queue's subjects. While no
server answers at start it waits and tries again rather than exit, so a worker
started before its servers comes up with them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tinyclaw.config import Config
from tinyclaw.core import ConfigError, Home, SpoolUnavailableError
from tinyclaw.spool import Spool, open_spool

log = logging.getLogger("tinyclaw.worker")

# Seconds between attempts to reach the servers at start, doubling up to the last.
CONNECT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)


def node_actors(config: Config, node: str | None) -> frozenset[str] | None:
    """The actors this worker runs: its node's; every actor (None) when the home has
    no ``[nodes]``. ConfigError for an unknown node, or none named where nodes are
    defined (the worker would not know whose messages to take)."""
    if node is not None:
        return frozenset(config.node_actors(node))
    if config.nodes and config.spool.backend != "file":
        raise ConfigError(
            "tinyclaw.toml defines [nodes]: start the worker as one of them "
            f"(tinyclaw worker --node NAME; nodes: {', '.join(config.nodes)})"
        )
    return None


def served_actors(config: Config, node: str | None) -> frozenset[str]:
    """The actors worker node ``node`` runs under ``config`` (every actor without
    nodes), as a reload sees them: ConfigError if the node is no longer defined."""
    actors = node_actors(config, node)
    return actors if actors is not None else frozenset(config.actors)


def open_worker_queue(
    home: Home,
    config: Config,
    node: str | None,
    stop: threading.Event,
    redact: Callable[[str], str] | None = None,
) -> Spool | None:
    """The spool the worker serves (None: ``stop`` was set while waiting for the
    servers). On NATS it is a :class:`~tinyclaw.worker.node_spool.NodeSpool`, which
    answers the calls the loop makes of the file spool; the caller closes it."""
    actors = node_actors(config, node)
    if config.spool.backend == "file":
        return Spool(home, redact=redact)
    from tinyclaw.worker.node_spool import NodeSpool

    attempt = 0
    while not stop.is_set():
        try:
            inner = open_spool(home, config, redact=redact, actors=actors)
        except SpoolUnavailableError as exc:
            delay = CONNECT_DELAYS[min(attempt, len(CONNECT_DELAYS) - 1)]
            attempt += 1
            log.warning("cannot open the NATS spool yet (%s); trying again in %gs", exc, delay)
            stop.wait(delay)
            continue
        served = actors if actors is not None else frozenset(config.actors)
        # The loop and its parts are typed for the file spool; NodeSpool answers them.
        spool: Spool = NodeSpool(inner, home, served, node)  # type: ignore[assignment]
        return spool
    return None
