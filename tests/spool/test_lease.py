"""Leases on the shared key-value store: one bot's listener, one schedule's firing,
whichever machines contend for them. Real NATS; a clock moved by hand decides when
a lease expires."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.spool.contract import Clock
from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import NatsServer
from tinyclaw.spool.jetstream import JetStreamKeyValue
from tinyclaw.spool.lease import Lease, once


@pytest.fixture
def buckets(nats_single: NatsServer) -> Iterator[tuple[JetStreamKeyValue, JetStreamKeyValue]]:
    """One bucket as two machines see it."""
    home = NatsHome([nats_single])
    yield home.open().kv("leases"), home.open().kv("leases")
    home.close()


def test_one_machine_holds_a_bots_listener_and_another_takes_over_when_it_dies(
    buckets: tuple[JetStreamKeyValue, JetStreamKeyValue],
) -> None:
    clock = Clock()
    a = Lease(buckets[0], "listener.telegram", "box-a", ttl=30, clock=clock)
    b = Lease(buckets[1], "listener.telegram", "box-b", ttl=30, clock=clock)
    assert a.acquire()
    assert not b.acquire()  # box-a holds it
    clock.now += 20
    assert a.renew()  # box-a is alive: 30 s more
    clock.now += 20
    assert not b.acquire()
    assert b.current() is not None and b.current().holder == "box-a"  # type: ignore[union-attr]
    clock.now += 11  # box-a died and stopped renewing: its lease ran out
    assert b.current() is None
    assert b.acquire()
    assert not a.renew()  # box-a comes back: it lost the lease and must stand down
    assert not a.held
    b.release()
    assert a.acquire()  # given back: free at once


def test_two_machines_racing_for_a_free_lease_never_both_win(
    buckets: tuple[JetStreamKeyValue, JetStreamKeyValue],
) -> None:
    clock = Clock()
    for round_ in range(10):
        key = f"race.{round_}"
        a = Lease(buckets[0], key, "box-a", ttl=30, clock=clock)
        b = Lease(buckets[1], key, "box-b", ttl=30, clock=clock)
        assert [a.acquire(), b.acquire()].count(True) == 1


def test_a_schedule_fires_once_across_nodes(
    buckets: tuple[JetStreamKeyValue, JetStreamKeyValue],
) -> None:
    key = "fired.daily-report.2026-12-07T09:00"
    assert once(buckets[0], key, "box-a")
    assert not once(buckets[1], key, "box-b")
    assert not once(buckets[0], key, "box-a")
