"""The spool on NATS JetStream, for homes whose workers run on several machines.

Nothing here is imported by the file backend: ``nats-py`` is an optional dependency
(``pip install "tinyclaw[nats]"``) loaded only when a home's ``[spool] backend`` is
``"nats"``. :func:`open_jetstream` is the front door.
"""

from __future__ import annotations

from tinyclaw.core import SpoolUnavailableError
from tinyclaw.spool.jetstream.census import Census, census
from tinyclaw.spool.jetstream.connection import NatsConnection, NatsSettings
from tinyclaw.spool.jetstream.kv import JetStreamKeyValue
from tinyclaw.spool.jetstream.settings import nats_settings, open_bucket, open_jetstream, probe
from tinyclaw.spool.jetstream.spool import JetStreamSpool
from tinyclaw.spool.jetstream.streams import Handle

__all__ = [
    "Census",
    "Handle",
    "JetStreamKeyValue",
    "JetStreamSpool",
    "NatsConnection",
    "NatsSettings",
    "SpoolUnavailableError",
    "census",
    "nats_settings",
    "open_bucket",
    "open_jetstream",
    "probe",
]
