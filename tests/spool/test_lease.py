"""Leases on the shared key-value store: one bot's listener, one schedule's firing,
whichever machines contend for them, and the compare-and-set change the stores kept
on NATS are written with. Real NATS; a clock moved by hand decides when a lease
expires."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.spool.contract import Clock
from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import NatsServer
from tinyclaw.spool import ChangedMeanwhile, change_key
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


def test_a_change_made_while_another_machine_writes_the_key_is_made_again_on_its_value(
    buckets: tuple[JetStreamKeyValue, JetStreamKeyValue],
) -> None:
    """What every store kept on NATS relies on: box-a's edit read the count before
    box-b wrote it; box-a's write is refused and its edit runs again on box-b's value,
    so neither increment is lost."""
    mine, theirs = buckets
    mine.put("count", b"1")
    seen: list[bytes | None] = []

    def add_one(raw: bytes | None) -> tuple[bytes | None, int]:
        seen.append(raw)
        if len(seen) == 1:
            theirs.put("count", b"5")  # box-b writes between box-a's read and write
        value = int(raw or b"0") + 1
        return str(value).encode(), value

    assert change_key(mine, "count", add_one, sleep=lambda _: None) == 6
    assert seen == [b"1", b"5"]
    assert mine.get("count") == b"6"
    assert change_key(mine, "count", lambda raw: (None, "nothing to write")) == ("nothing to write")

    def always_overtaken(raw: bytes | None) -> tuple[bytes | None, None]:
        theirs.put("count", b"99")  # box-b writes first, every time
        return b"7", None

    with pytest.raises(ChangedMeanwhile):
        change_key(mine, "count", always_overtaken, tries=3, sleep=lambda _: None)
    assert mine.get("count") == b"99"
