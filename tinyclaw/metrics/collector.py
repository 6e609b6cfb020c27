"""The Prometheus view of one home, computed at each scrape.

Queue depths and listener health are read from the disk when Prometheus asks (a
listing of each box, a look at each listener's instance lock), so they are never
stale; runs, failures, latency and cost come from :class:`~tinyclaw.metrics.stats.RunStats`.
This module imports ``prometheus_client``; only the exporter imports it, and only
when metrics are enabled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tinyclaw import __version__
from tinyclaw.config import Config
from tinyclaw.core.instance import listener_lock_path, lock_holder
from tinyclaw.metrics.stats import DURATION_BUCKETS, RunStats
from tinyclaw.spool import Spool

CHANNELS = ("telegram", "discord", "whatsapp")


class HomeCollector(Collector):
    """Every ``tinyclaw_*`` metric (names and labels are documented in the manual)."""

    def __init__(
        self,
        spool: Spool,
        stats: RunStats,
        config: Callable[[], Config],
        in_flight: Callable[[], int],
    ) -> None:
        self.spool = spool
        self.stats = stats
        self._config = config
        self._in_flight = in_flight

    def collect(self) -> Iterator[Metric]:
        config = self._config()
        info = GaugeMetricFamily("tinyclaw_info", "tinyclaw's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily("tinyclaw_worker_up", "1 while the worker serves", value=1)
        yield self._queue_depths(config)
        yield GaugeMetricFamily(
            "tinyclaw_runs_in_flight", "CLI runs in progress now", value=self._in_flight()
        )
        yield from self._runs()
        yield self._listeners(config)
        reloads = CounterMetricFamily(
            "tinyclaw_config_reloads",
            "configuration reloads since the worker started, by outcome",
            labels=["outcome"],
        )
        for outcome, count in sorted(self.stats.reloads().items()):
            reloads.add_metric([outcome], count)
        yield reloads

    def _queue_depths(self, config: Config) -> GaugeMetricFamily:
        spool = self.spool
        depth = GaugeMetricFamily(
            "tinyclaw_queue_depth",
            "message files waiting in each box (box: incoming, inbox, processing, "
            "outgoing, failed; name: the actor or channel)",
            labels=["box", "name"],
        )
        depth.add_metric(["incoming", ""], _count(spool, spool.incoming))
        depth.add_metric(["failed", ""], _count(spool, spool.failed))
        for actor in sorted(set(config.actors) | set(spool.actors_with_inbox())):
            depth.add_metric(["inbox", actor], _count(spool, spool.inbox(actor)))
            depth.add_metric(["processing", actor], _count(spool, spool.processing(actor)))
        for channel in _subfolders(spool.outgoing_root):
            depth.add_metric(["outgoing", channel], _count(spool, spool.outgoing_root / channel))
        return depth

    def _runs(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("tinyclaw_runs", "CLI runs finished", labels=["actor"])
        failures = CounterMetricFamily(
            "tinyclaw_run_failures", "CLI runs that ended in an error", labels=["actor"]
        )
        cost = CounterMetricFamily(
            "tinyclaw_cost_usd", "cost the CLIs reported, in US dollars", labels=["actor"]
        )
        latency = HistogramMetricFamily(
            "tinyclaw_run_duration_seconds", "how long one CLI run took", labels=["actor"]
        )
        for actor, done in sorted(self.stats.actors().items()):
            runs.add_metric([actor], done.runs)
            failures.add_metric([actor], done.failures)
            cost.add_metric([actor], done.cost_usd)
            buckets = [(_le(b), n) for b, n in zip(DURATION_BUCKETS, done.buckets, strict=True)]
            latency.add_metric([actor], [*buckets, ("+Inf", done.runs)], done.seconds)
        yield from (runs, failures, cost, latency)

    def _listeners(self, config: Config) -> GaugeMetricFamily:
        up = GaugeMetricFamily(
            "tinyclaw_listener_up",
            "1 while the enabled channel's listener runs (holds its lock), else 0",
            labels=["channel"],
        )
        for name in CHANNELS:
            if config.channels.get(name).enabled:
                holder = lock_holder(listener_lock_path(self.spool.home.state, name))
                up.add_metric([name], 0 if holder is None else 1)
        return up


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"


def _count(spool: Spool, box: Path) -> int:
    return sum(1 for _ in spool.box_names(box))


def _subfolders(root: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(root) if e.is_dir())
    except FileNotFoundError:
        return []
