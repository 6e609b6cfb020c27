"""Fixtures of the spool tests: real NATS servers for the JetStream backend.

The servers live for the whole session (a cluster takes seconds to elect its
leaders); each test keeps to streams of its own prefix, so tests never see each
other's messages. A test that kills a server starts a cluster of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.spool.nats_servers import NatsServer, cluster, single_server


@pytest.fixture(scope="session")
def nats_single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One ``nats-server -js`` on loopback."""
    with single_server(tmp_path_factory.mktemp("nats-single")) as server:
        yield server


@pytest.fixture(scope="session")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NatsServer]]:
    """Three ``nats-server -js`` joined by routes; streams on it keep three copies."""
    with cluster(tmp_path_factory.mktemp("nats-cluster")) as servers:
        yield servers
