"""Prometheus metrics of a worker: queue depths, runs, failures, latency, cost and
listener health. Off by default; ``[metrics] enabled = true`` turns it on, and only
then is ``prometheus_client`` imported (see :mod:`tinyclaw.metrics.exporter`)."""

from tinyclaw.metrics.exporter import MetricsExporter, start_metrics
from tinyclaw.metrics.stats import RunStats, TappedEventLog

__all__ = ["MetricsExporter", "RunStats", "TappedEventLog", "start_metrics"]
