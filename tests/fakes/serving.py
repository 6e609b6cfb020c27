"""Run a real listener (any ``Channel``) for the length of a block, as
``tinyclaw listen`` does: ``run`` until ready, then a clean stop at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from tinyclaw.channels.base import Channel

C = TypeVar("C", bound=Channel)


@asynccontextmanager
async def serving_channel(channel: C, stop_timeout: float = 10.0) -> AsyncIterator[C]:
    """Yield ``channel`` once it is connected; a failure to start (a refused token)
    is raised here rather than hanging the test."""
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(channel.run(stop, on_ready=ready.set))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # raises what stopped it
    try:
        yield channel
    finally:
        stop.set()
        await asyncio.wait_for(task, stop_timeout)
