"""Serve the metrics on a loopback port, or write them as a node_exporter textfile.

``start_metrics`` is what the worker calls: with ``[metrics] enabled = false`` (the
default) it returns None without importing ``prometheus_client``, so a worker without
metrics starts as light as before. A port that is taken or a textfile folder that
cannot be written is logged and reported as an event, and the worker serves on:
metrics describe the assistant and must never stop it (``tinyclaw doctor`` reports
an endpoint that does not answer or a textfile that went stale).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinyclaw.config import Config, MetricsConfig
from tinyclaw.core.home import Home
from tinyclaw.metrics.stats import RunStats

if TYPE_CHECKING:
    from tinyclaw.spool import Spool

log = logging.getLogger("tinyclaw.metrics")


class MetricsExporter:
    """A running exporter (HTTP server or textfile writer); :meth:`stop` ends it."""

    def __init__(self, metrics: MetricsConfig, home: Home, registry: Any) -> None:
        self.metrics = metrics
        self.home = home
        self.registry = registry
        self._stop = threading.Event()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from prometheus_client import start_http_server

        if self.metrics.exporter == "http":
            self._server, self._thread = start_http_server(
                self.metrics.port, addr=self.metrics.host, registry=self.registry
            )
            log.info("metrics at http://%s:%d/metrics", self.metrics.host, self.metrics.port)
            return
        self.write()  # the first file is there before the worker reports ready
        self._thread = threading.Thread(target=self._write_loop, name="tinyclaw-metrics")
        self._thread.daemon = True
        self._thread.start()
        log.info("metrics written to %s", self.metrics.textfile_path(self.home))

    def write(self) -> None:
        """Write the textfile (``write_to_textfile`` writes a temporary file and renames
        it, so node_exporter never reads half of one)."""
        from prometheus_client import write_to_textfile

        path = self.metrics.textfile_path(self.home)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), self.registry)

    def _write_loop(self) -> None:
        while not self._stop.wait(self.metrics.interval):
            try:
                self.write()
            except OSError as exc:
                log.error("cannot write the metrics textfile: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


def start_metrics(
    home: Home,
    config: Config,
    spool: Spool,
    stats: RunStats | None,
    current: Callable[[], Config],
    in_flight: Callable[[], int],
) -> MetricsExporter | None:
    """Start the configured exporter; None when metrics are off or could not start."""
    if not config.metrics.enabled or stats is None:
        return None
    from prometheus_client import CollectorRegistry

    from tinyclaw.metrics.collector import HomeCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(HomeCollector(spool, stats, current, in_flight))
    exporter = MetricsExporter(config.metrics, home, registry)
    try:
        exporter.start()
    except OSError as exc:
        where = (
            f"{config.metrics.host}:{config.metrics.port}"
            if config.metrics.exporter == "http"
            else str(config.metrics.textfile_path(home))
        )
        log.error("metrics are off: cannot export at %s: %s", where, exc)
        return None
    return exporter
