"""Opening the JetStream spool against the test servers, one prefix per test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.spool.nats_servers import NatsServer
from tinyclaw.spool.jetstream import JetStreamSpool, NatsConnection, NatsSettings


@dataclass
class NatsHome:
    """One home's streams on some servers; ``open`` is one more process's view of it.
    Every connection opened is closed by ``close``."""

    servers: list[NatsServer]
    replicas: int = 1
    timeout: float = 5.0
    prefix: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:12])
    opened: list[JetStreamSpool] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def toml(self) -> str:
        """The ``[spool]`` section of a home whose queue is these streams."""
        return (
            "[spool]\n"
            'backend = "nats"\n'
            f"servers = {json.dumps(self.urls)}\n"
            f'stream_prefix = "{self.prefix}"\n'
        )

    def connect(self) -> NatsConnection:
        return NatsConnection(NatsSettings(servers=self.urls, timeout=self.timeout))

    def open(self, clock: Callable[[], float] | None = None, **options: object) -> JetStreamSpool:
        extra: dict[str, object] = {"clock": clock} if clock is not None else {}
        spool = JetStreamSpool(
            self.connect(),
            prefix=self.prefix,
            replicas=self.replicas,
            **extra,
            **options,  # type: ignore[arg-type]
        )
        self.opened.append(spool)
        return spool

    def close(self) -> None:
        for spool in self.opened:
            spool.close()
            spool.conn.close()
