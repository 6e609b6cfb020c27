"""Which spool a component may run on, while only the files are wired everywhere.

The JetStream backend exists and is tested, but the worker and the listeners still
take and queue their messages through the files. Rather than serve the files
silently while the configuration says NATS (messages would wait where nobody looks),
they refuse to start, in one line, until they are wired."""

from __future__ import annotations

from tinyclaw.config import Config
from tinyclaw.core import ConfigError


def require_file_spool(config: Config, component: str) -> None:
    """ConfigError unless the home's queue is on files."""
    if config.spool.backend != "file":
        raise ConfigError(
            f'[spool] backend = "{config.spool.backend}": {component} does not run on the '
            'NATS spool yet; use backend = "file" until it does (see docs/several-machines.md)'
        )
