"""The listener lease against a real ``nats-server``: a holder cut off from the servers
stops delivering before its lease can have run out, and gives up serving."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import single_server
from tests.support.waiting import until
from tinyclaw.channels.standby import ListenerLease, lease_key
from tinyclaw.core.errors import SpoolError
from tinyclaw.spool import Lease

TTL = 3.0


async def test_a_holder_cut_off_from_nats_stops_before_its_lease_runs_out(tmp_path: Path) -> None:
    log = logging.getLogger("tinyclaw.test.lease")
    with single_server(tmp_path / "nats") as server:
        home = NatsHome([server], timeout=0.5)
        try:
            kv = home.open().kv("leases")
            holder = ListenerLease(
                Lease(kv, lease_key("telegram"), "box-a:1", TTL), "telegram", log=log
            )
            assert await holder.acquire(asyncio.Event())
            assert holder.fresh()
            lost: list[SpoolError] = []
            keeper = asyncio.create_task(holder.keep(lost.append))
            await asyncio.sleep(TTL / 2)
            assert holder.fresh() and not lost  # renewed meanwhile

            server.kill()
            await until(lambda: not holder.fresh(), what="delivery held back", timeout=TTL)
            await until(lambda: lost, what="the listener giving up", timeout=TTL * 2)
            await asyncio.wait_for(keeper, 5)
            assert "could not renew the lease listener.telegram" in str(lost[0])
            assert holder.lost is lost[0]
        finally:
            home.close()
