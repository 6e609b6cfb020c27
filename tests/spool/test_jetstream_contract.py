"""The spool contract, run against the JetStream backend: on one server, and on a
cluster of three whose streams keep three copies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.spool.contract import Clock, SpoolContract
from tests.spool.nats_backend import NatsHome
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.spool.jetstream import Handle, JetStreamSpool


class TestJetStreamSpool(SpoolContract):
    @pytest.fixture(autouse=True, params=["single", "cluster"])
    def nats_home(self, request: pytest.FixtureRequest) -> Iterator[NatsHome]:
        if request.param == "single":
            home = NatsHome([request.getfixturevalue("nats_single")])
        else:
            home = NatsHome(request.getfixturevalue("nats_cluster"), replicas=3)
        self.nats = home
        yield home
        home.close()

    def make_backend(self, home: Home, clock: Clock) -> JetStreamSpool:
        return self.nats.open(clock)

    def plant(self, backend: JetStreamSpool, actor: str, data: bytes) -> Handle:
        subject = backend.layout.inbox_subject(actor)
        ack = backend._publish(subject, data)
        return Handle("inbox", backend.layout.queue, int(ack.seq), subject, actor=actor)

    def plant_reply(self, backend: JetStreamSpool, channel: str, data: bytes) -> Handle:
        reply_id = unique_name()
        subject = backend.layout.outgoing_subject(channel, reply_id)
        ack = backend._publish(subject, data)
        return Handle(
            "outgoing",
            backend.layout.replies,
            int(ack.seq),
            subject,
            channel=channel,
            reply_id=reply_id,
        )

    def failures(self, backend: JetStreamSpool) -> dict[str, str]:
        return {key: reason for key, reason, _ in backend.failures()}
