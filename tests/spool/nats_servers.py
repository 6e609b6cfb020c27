"""Real ``nats-server -js`` processes on loopback, for the JetStream spool's tests.

A test that needs a server gets one from these helpers and never a fake: a single
server, or a cluster of three joined by routes whose streams are replicated three
times. Each server listens on free loopback ports and keeps its store in the test's
temporary folder. A machine without ``nats-server`` fails the test with the command
that installs it: CI installs the package, so a silent skip would hide a broken run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.ports import free_port

INSTALL_HINT = "nats-server is not installed; `apt-get install nats-server` (CI's .ci/run does)"


def find_nats_server() -> str | None:
    """The server's path (Debian installs it in /usr/sbin), or None."""
    return shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if os.access("/usr/sbin/nats-server", os.X_OK) else None
    )


def nats_server_binary() -> str:
    """The server's path, or the test fails saying how to install it."""
    found = find_nats_server()
    if found is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found


class NatsServer:
    """One ``nats-server`` process with JetStream; ``kill`` and ``start`` again keep its
    ports and its store, as a machine that reboots would."""

    def __init__(
        self, root: Path, name: str, cluster_port: int | None = None, extra: str = ""
    ) -> None:
        self.name = name
        self.extra = extra
        self.root = root
        self.port = free_port()
        self.http_port = free_port()
        self.cluster_port = cluster_port
        self.routes: list[int] = []
        self.store = root / "store"
        self.store.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config(self) -> str:
        lines = [
            f"server_name: {self.name}",
            f"listen: 127.0.0.1:{self.port}",
            f"http: 127.0.0.1:{self.http_port}",
            f"jetstream {{ store_dir: {json.dumps(str(self.store))} }}",
        ]
        if self.cluster_port is not None:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
            lines.append(
                f"cluster {{ name: tinyclaw-test, listen: 127.0.0.1:{self.cluster_port}, "
                f"routes: [{routes}] }}"
            )
        return "\n".join([*lines, self.extra]) + "\n"

    def start(self) -> None:
        conf = self.root / "server.conf"
        conf.write_text(self.config())
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def healthy(self) -> bool:
        """The server answers its health check with JetStream ready."""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            url = f"http://127.0.0.1:{self.http_port}/healthz"
            with urllib.request.urlopen(url, timeout=1) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to tidy up."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def wait_healthy(servers: list[NatsServer], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(s.healthy() for s in servers):
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in servers if not s.healthy())
            raise AssertionError(f"nats-server did not become healthy:\n{tails}")
        time.sleep(0.05)


@contextmanager
def single_server(root: Path, extra: str = "") -> Iterator[NatsServer]:
    """One JetStream server (``extra``: more of its configuration, such as an
    ``authorization`` block); stopped when the block ends."""
    nats_server_binary()
    server = NatsServer(root / "n1", "n1", extra=extra)
    server.start()
    try:
        wait_healthy([server])
        yield server
    finally:
        server.stop()


@contextmanager
def cluster(root: Path, size: int = 3) -> Iterator[list[NatsServer]]:
    """``size`` JetStream servers joined by routes; stopped when the block ends."""
    nats_server_binary()
    servers = [NatsServer(root / f"n{i}", f"n{i}", free_port()) for i in range(1, size + 1)]
    for server in servers:
        server.routes = [s.cluster_port for s in servers if s is not server]  # type: ignore[misc]
    for server in servers:
        server.start()
    try:
        wait_healthy(servers, timeout=60.0)
        yield servers
    finally:
        for server in servers:
            server.stop()
