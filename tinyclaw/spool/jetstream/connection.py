"""One connection to NATS with a synchronous face, for tinyclaw's threads.

nats-py is asyncio; the worker, the listeners' delivery threads and the command line
are threads that call the spool and wait for the answer. A :class:`NatsConnection`
runs one event loop on a daemon thread of its own and hands each call to it, waiting
at most ``timeout`` seconds. Every failure comes back as :class:`SpoolError` (or a
subclass the caller can act on), so a server that is down is one clear line and never
a hang, and no nats-py type leaks above this module.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tinyclaw.core import SpoolError, SpoolUnavailableError

log = logging.getLogger("tinyclaw.spool.nats")

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class NatsSettings:
    """How to reach the servers: their URLs and the credentials read from the
    environment (the values, never the names of variables)."""

    servers: Sequence[str]
    token: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    creds_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    name: str = "tinyclaw"

    def describe(self) -> str:
        return ", ".join(self.servers)


def _require_nats() -> Any:
    try:
        import nats
    except ImportError:
        raise SpoolError(
            '[spool] backend = "nats" needs the NATS client: pip install "tinyclaw[nats]"'
        ) from None
    return nats


class NatsConnection:
    """A connected client on its own loop thread. ``call`` runs a coroutine there."""

    def __init__(self, settings: NatsSettings) -> None:
        self.settings = settings
        self.timeout = settings.timeout
        self._nats = _require_nats()
        import nats.js.errors

        # No stream leader yet, no route to one, or no connection: worth trying again.
        self._unavailable: tuple[type[BaseException], ...] = (
            nats.errors.NoRespondersError,
            nats.errors.ConnectionReconnectingError,
            nats.errors.StaleConnectionError,
            nats.js.errors.NoStreamResponseError,
            nats.js.errors.ServiceUnavailableError,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tinyclaw-nats", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()
        try:
            self.nc: Any = self.call(self._connect(), "connect", self.timeout * 2)
        except BaseException:
            self._stop_loop()
            raise
        self.js: Any = self.nc.jetstream(timeout=self.timeout)

    async def _connect(self) -> Any:
        s = self.settings

        async def quiet(exc: Exception) -> None:
            log.debug("nats: %s", exc)

        options: dict[str, Any] = {
            "servers": list(s.servers),
            "name": s.name,
            "connect_timeout": min(s.timeout, 2.0),
            "allow_reconnect": True,
            "max_reconnect_attempts": 2,  # the first connect gives up; see below
            "reconnect_time_wait": 0.2,
            "error_cb": quiet,
        }
        if s.token:
            options["token"] = s.token
        if s.user:
            options["user"] = s.user
            options["password"] = s.password or ""
        if s.creds_file:
            options["user_credentials"] = s.creds_file
        try:
            nc = await self._nats.connect(**options)
        except Exception as exc:
            raise SpoolUnavailableError(
                f"cannot reach NATS at {s.describe()}: {exc or type(exc).__name__}"
            ) from None
        # Once connected, a lost server is waited for (calls fail by their timeout
        # meanwhile) rather than given up on: the client reconnects for ever.
        nc.options["max_reconnect_attempts"] = -1
        return nc

    def call(self, coro: Awaitable[T], what: str, timeout: float | None = None) -> T:
        """Run ``coro`` on the loop thread and wait for it; nats-py's errors become
        :class:`SpoolError`, a missing answer :class:`SpoolUnavailableError`."""
        if self._closed:
            raise SpoolError(f"the NATS connection is closed ({what})")
        wait = self.timeout if timeout is None else timeout
        future = asyncio.run_coroutine_threadsafe(_awaited(coro), self._loop)
        try:
            return future.result(wait + 1.0)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise SpoolUnavailableError(
                f"NATS at {self.settings.describe()} did not answer ({what}) within {wait:g}s"
            ) from None
        except SpoolError:
            raise
        except TimeoutError:
            raise SpoolUnavailableError(
                f"NATS at {self.settings.describe()} did not answer ({what}) within {wait:g}s"
            ) from None
        except self._nats.errors.Error as exc:
            if isinstance(exc, self._unavailable):
                raise SpoolUnavailableError(
                    f"NATS at {self.settings.describe()} cannot serve {what} now "
                    f"({_describe(exc)}); a cluster may be electing a new leader"
                ) from exc
            raise SpoolError(f"NATS refused {what}: {_describe(exc)}") from exc

    def submit(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Start a background coroutine on the loop (the claim lease keeper); it is
        cancelled when the connection closes."""

        async def tracked() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._background.add(task)
            try:
                await fn()
            finally:
                self._background.discard(task)

        asyncio.run_coroutine_threadsafe(tracked(), self._loop)

    def close(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(SpoolError):
            self.call(self._shutdown(), "close", 2.0)
        self._closed = True
        self._stop_loop()

    async def _shutdown(self) -> None:
        """Cancel the background coroutines (lease keepers), then close the client."""
        background = list(self._background)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        try:
            await self.nc.close()
        except OSError:
            # The server is gone and the client gave up half-way: cancel what it left
            # running (its subscriptions' readers), or they die with the loop, noisily.
            current = asyncio.current_task()
            rest = [task for task in asyncio.all_tasks() if task is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _describe(exc: BaseException) -> str:
    description = getattr(exc, "description", None)
    return str(description or exc or type(exc).__name__)
