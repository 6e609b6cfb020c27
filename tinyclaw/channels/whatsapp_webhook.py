"""The webhook endpoint Meta POSTs to: a Starlette app served by uvicorn in the
listener's own event loop.

The routes are ours, not the ones pywa can register, for one reason: pywa answers 200
first and runs handlers afterwards in a background task, so a crash in between loses
the message (Meta does not resend what it saw acknowledged). Here the message is in
``queue/incoming`` *before* the 200; if queueing fails the answer is 500 and Meta
retries, and the spool's dedupe key makes that retry harmless. pywa still does the
WhatsApp work: signature check (``webhook_update_validator``) and parsing
(``webhook_update_handler``), both documented for custom servers.

* ``GET /``: Meta's subscription check; the verify token is compared in constant time.
* ``POST /``: body capped at :data:`MAX_BODY` before anything else; no or a bad
  ``X-Hub-Signature-256`` is 401 / 403 and nothing is parsed.

Starlette rather than FastAPI (which is Starlette plus validation we do not need):
FastAPI's import alone adds ~6 MB, and a listener must stay under 70 MB idle.

uvicorn normally takes over SIGINT/SIGTERM while it serves; :class:`_Server` leaves
signals to the ``tinyclaw listen`` command, which stops the whole channel cleanly.
A server task that ends on its own after start-up (uvicorn crashed or gave up) is
reported through ``on_exit``: the listener aborts with a clear error instead of
running on deaf while Meta's webhooks go unanswered.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tinyclaw.core.errors import ConfigError, TinyclawError

MAX_BODY = 4 * 1024 * 1024
SIGNATURE_HEADER = "X-Hub-Signature-256"

Validate = Callable[[bytes, str | None], Awaitable[tuple[str, int] | None]]
Handle = Callable[[bytes], Awaitable[tuple[str, int]]]


def _text(content: str, status: int) -> Response:
    return Response(
        content=content,
        status_code=status,
        media_type="text/plain",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def build_app(
    *, verify_token: str, validate: Validate, handle: Handle, path: str = "/"
) -> Starlette:
    """The two routes Meta talks to; ``validate`` and ``handle`` come from the channel."""

    async def challenge(request: Request) -> Response:
        params = request.query_params
        given = params.get("hub.verify_token", "")
        if params.get("hub.mode", "subscribe") == "subscribe" and hmac.compare_digest(
            given.encode(), verify_token.encode()
        ):
            return _text(params.get("hub.challenge", ""), 200)
        return _text("Forbidden", 403)

    async def webhook(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY:
                return _text("Payload Too Large", 413)
        error = await validate(bytes(body), request.headers.get(SIGNATURE_HEADER))
        if error is not None:
            return _text(*error)
        return _text(*await handle(bytes(body)))

    return Starlette(
        routes=[
            Route(path, challenge, methods=["GET"]),
            Route(path, webhook, methods=["POST"]),
        ]
    )


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the listener owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port); a clear ConfigError
    when the address is taken or not ours, instead of uvicorn's exit."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"channels.whatsapp.host: cannot resolve {host!r}: {exc}") from None
    family, kind, proto, _canon, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        message = f"channels.whatsapp: cannot listen on {host}:{port}: {exc.strerror or exc}"
        if exc.errno == errno.EADDRINUSE:
            # Maybe the previous listener is still shutting down: a restart may help,
            # so not a ConfigError (which tells the supervisor to stop trying).
            raise TinyclawError(message) from None
        raise ConfigError(message) from None
    sock.set_inheritable(True)
    return sock


class WebhookServer:
    """uvicorn serving ``app`` as a task of the current loop."""

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        log: logging.Logger,
        *,
        on_exit: Callable[[TinyclawError], None] | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.log = log
        self.on_exit = on_exit
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Bind, serve, and return the bound port once uvicorn accepts connections."""
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=3,
        )
        server = _Server(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="whatsapp-webhook")
        while not server.started:
            if self._task.done():
                sock.close()
                self._task.result()
                raise TinyclawError(
                    f"channels.whatsapp: the webhook server on port {self.port} "
                    "stopped during start-up"
                )
            await asyncio.sleep(0.01)
        self._task.add_done_callback(self._ended)
        self.log.info("webhook listening on http://%s:%d/", self.host, self.port)
        return self.port

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The serving task finished: fine during :meth:`stop`, fatal otherwise."""
        if self._task is not task or self.on_exit is None:
            return  # stop() cleared it: an orderly shutdown
        reason = "it stopped"
        if task.cancelled():
            reason = "it was cancelled"
        elif task.exception() is not None:
            reason = f"it failed: {task.exception()!r}"
        self.log.error("the webhook server on port %d stopped: %s", self.port, reason)
        self.on_exit(
            TinyclawError(
                f"whatsapp: the webhook server on port {self.port} stopped unexpectedly "
                f"({reason}); Meta's webhooks would go unanswered"
            )
        )

    async def stop(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=5)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
