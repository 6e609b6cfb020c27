"""Scripted replies and a threaded loopback HTTP server shared by the provider fakes.

The fakes of the Anthropic Messages API and the OpenAI Responses API differ only in
the wire format of a reply; *which* reply a request gets is decided here, once:

1. a reply scripted for a **marker** the request's user text contains (the marker that
   appears latest wins), so parallel runs each get their own script;
2. else the next reply of the **FIFO**;
3. else the **default**: the text ``echo: <last user text>`` (or ``done`` after a tool
   result), which makes resume checks trivial.

Every request is recorded (path, headers, JSON body) so a test can assert what the CLI
actually sent: the resent history on resume, the tool result of ``env``.

The server is a ``ThreadingHTTPServer`` on 127.0.0.1 with an ephemeral port, run in a
daemon thread; a ``hang`` reply holds its connection open until the fake is stopped,
and a reply made with :meth:`Reply.held` waits for a test's gate before it is sent
(a turn held open, so a steering line or an interrupt can land in the middle of it).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

ReplyKind = Literal["text", "tool", "error", "stream_error", "hang"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer of a fake provider; build it with the class methods."""

    kind: ReplyKind
    text: str = ""
    tool_name: str = ""
    tool_input: Mapping[str, Any] | str = field(default_factory=dict)
    status: int = 200
    gate: threading.Event | None = field(default=None, compare=False)

    @classmethod
    def say(cls, text: str) -> Reply:
        """A plain assistant text that ends the turn."""
        return cls("text", text=text)

    @classmethod
    def tool(cls, name: str, tool_input: Mapping[str, Any] | str, text: str = "") -> Reply:
        """A tool call (optionally preceded by some text); the CLI runs it and comes back.

        A ``str`` input makes a freeform ("custom") tool call, as codex's ``apply_patch``.
        """
        payload = tool_input if isinstance(tool_input, str) else dict(tool_input)
        return cls("tool", text=text, tool_name=name, tool_input=payload)

    @classmethod
    def error(cls, status: int, message: str = "scripted failure") -> Reply:
        """An HTTP error status with the provider's JSON error body."""
        return cls("error", text=message, status=status)

    @classmethod
    def stream_error(cls, message: str = "scripted stream failure") -> Reply:
        """HTTP 200, then an error event inside the stream."""
        return cls("stream_error", text=message)

    def held(self, gate: threading.Event) -> Reply:
        """This reply, sent only once ``gate`` is set; the request is recorded (and
        ``requested`` can be waited on) before that."""
        return replace(self, gate=gate)

    @classmethod
    def hang(cls) -> Reply:
        """Never answer: the connection stays open until the fake stops."""
        return cls("hang")


@dataclass(frozen=True)
class RecordedRequest:
    """What the CLI sent: enough to assert on history, tools and credentials."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def text(self) -> str:
        """The whole body as JSON text, for substring assertions."""
        return json.dumps(self.body, ensure_ascii=False)


class Script:
    """The reply book of one fake: FIFO, per-marker queues, and the request log.

    Thread-safe: the server answers each connection in its own thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fifo: deque[Reply] = deque()
        self._markers: dict[str, deque[Reply]] = {}
        self.requests: list[RecordedRequest] = []

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the FIFO, served to requests in arrival order."""
        with self._lock:
            self._fifo.extend(replies)

    def on_marker(self, marker: str, *replies: Reply) -> None:
        """Serve these replies, in order, to requests whose user text contains ``marker``."""
        with self._lock:
            self._markers.setdefault(marker, deque()).extend(replies)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def choose(self, user_text: str) -> Reply | None:
        """The scripted reply for a request with this user text, or None for the default."""
        with self._lock:
            best: tuple[int, str] | None = None
            for marker, queue in self._markers.items():
                position = user_text.rfind(marker)
                if queue and position >= 0 and (best is None or position > best[0]):
                    best = (position, marker)
            if best is not None:
                return self._markers[best[1]].popleft()
            if self._fifo:
                return self._fifo.popleft()
            return None

    @property
    def pending(self) -> int:
        """Scripted replies not served yet (FIFO and markers)."""
        with self._lock:
            return len(self._fifo) + sum(len(q) for q in self._markers.values())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeProvider


class Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        return

    def do_GET(self) -> None:
        self._record(None)
        self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {"_raw": raw.decode("utf-8", "replace")}
        self._record(body)
        self.server.fake.handle(self, body)

    def _record(self, body: Any) -> None:
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.fake.script.record(RecordedRequest(self.command, self.path, headers, body))

    # -- helpers the provider fakes use ------------------------------------------------

    def send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def send_sse(self, events: Iterable[tuple[str, Any]]) -> None:
        """Stream server-sent events; the end of the body is the end of the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for name, data in events:
                chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


class FakeProvider:
    """Base of the loopback provider fakes: lifecycle, script, hang handling.

    Subclasses implement :meth:`user_text` (what markers and echo look at) and
    :meth:`respond` (the wire format).
    """

    def __init__(self) -> None:
        self.script = Script()
        self._stopping = threading.Event()
        self.held = threading.Event()  # set when a held reply starts waiting for its gate
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll interval
            name=type(self).__name__,
            daemon=True,
        )

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging requests, stop serving, free the port."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting (delegates, so tests read `fake.enqueue(...)`) -------------------------

    def enqueue(self, *replies: Reply) -> None:
        self.script.enqueue(*replies)

    def on_marker(self, marker: str, *replies: Reply) -> None:
        self.script.on_marker(marker, *replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self.script.requests)

    def model_requests(self) -> list[RecordedRequest]:
        """The requests that asked the model for a turn (the ones scripts answer)."""
        return [r for r in self.requests if self.is_model_request(r)]

    # -- request handling ----------------------------------------------------------------

    def handle(self, handler: Handler, body: Any) -> None:
        if not self.is_model_request(RecordedRequest(handler.command, handler.path, {}, body)):
            handler.send_json(404, {"error": {"message": f"no route {handler.path}"}})
            return
        reply = self.script.choose(self.user_text(body))
        if reply is None:
            reply = self.default_reply(body)
        if reply.kind == "hang":
            self._stopping.wait(timeout=600)
            handler.close_connection = True
            return
        if reply.gate is not None:
            self.held.set()
            while not reply.gate.wait(0.05):
                if self._stopping.is_set():
                    handler.close_connection = True
                    return
        self.respond(handler, body, reply)

    def default_reply(self, body: Any) -> Reply:
        if self.last_turn_is_tool_result(body):
            return Reply.say("done")
        return Reply.say(f"echo: {self.last_user_text(body)}")

    def is_model_request(self, request: RecordedRequest) -> bool:
        raise NotImplementedError

    def user_text(self, body: Any) -> str:
        """All user-side text of the request, in order (markers are searched here)."""
        raise NotImplementedError

    def last_user_text(self, body: Any) -> str:
        raise NotImplementedError

    def last_turn_is_tool_result(self, body: Any) -> bool:
        raise NotImplementedError

    def respond(self, handler: Handler, body: Any, reply: Reply) -> None:
        raise NotImplementedError


def iter_strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value, depth first (tool results nest them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from iter_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_strings(item)
