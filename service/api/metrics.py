"""Prometheus metrics of one app, in its own ``CollectorRegistry`` (two apps in one process never collide).

Exposed at ``/metrics`` in the text format:
- ``smematch_http_requests_total{method,route,status}`` and ``smematch_http_request_duration_seconds{method,route}``
  by route *template* (``/v1/enterprises/{enterprise_id}``), never the raw path, so ids do not explode labels;
- ``smematch_recommendations_served_total`` (problems answered) and ``smematch_escalations_total``;
- ``smematch_recommendation_batch_size`` (problems per engine call of the micro-batcher);
- ``smematch_model_info{version,ranker}`` = 1 for the served model, and ``smematch_model_reloads_total{result}``;
- ``smematch_recommendation_log_spooled_batches_total`` and ``..._drained_batches_total``: log batches the
  store did not take at once, kept in the local spool, and moved into the store since (``service.api.logbook``);
- ``smematch_sqlite_checkpoints_total`` and ``smematch_sqlite_wal_frames`` (SQLite store: the background
  checkpoints of its write-ahead log, see ``service.store.make_engine``);
- ``python_gc_collections_total{generation}`` (and objects collected, uncollectable) and
  ``smematch_gc_frozen_objects`` (objects left out of collections since start-up).

With several uvicorn workers (``smematch serve --workers N``) the serve command gives the run a fresh
``PROMETHEUS_MULTIPROC_DIR`` and every worker writes its values there (prometheus_client's multiprocess mode):
a scrape, whichever worker answers it, sums counters and histograms over every worker, and
``smematch_model_info`` and ``smematch_sqlite_wal_frames`` carry a ``pid`` label per live worker. The
garbage-collection figures stay per process (those of the worker that answered).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

__all__ = ["Metrics", "CONTENT_TYPE_LATEST"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _FrozenObjects(Collector):
    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("smematch_gc_frozen_objects", "Objects frozen out of garbage collection at start-up",
                                value=gc.get_freeze_count())


class Metrics:
    def __init__(self) -> None:
        # prometheus_client picks its value store when imported: files in this folder when it is set then.
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_DIR) or None
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "smematch_http_requests", "HTTP requests by route template and status",
            ("method", "route", "status"), registry=self.registry,
        )
        self.latency = Histogram(
            "smematch_http_request_duration_seconds", "HTTP request latency by route template",
            ("method", "route"), buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.recommendations = Counter(
            "smematch_recommendations_served", "Problems answered with a recommendation (escalations included)",
            registry=self.registry,
        )
        self.escalations = Counter(
            "smematch_escalations", "Problems escalated to the working group", registry=self.registry
        )
        self.batch_size = Histogram(
            "smematch_recommendation_batch_size", "Problems per engine call of the micro-batcher",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=self.registry,
        )
        self.model = Gauge(
            "smematch_model_info", "The model being served (value 1)", ("version", "ranker"),
            registry=self.registry, multiprocess_mode="liveall",
        )
        self._model_labels: tuple[str, str] | None = None
        self.reloads = Counter(
            "smematch_model_reloads", "Model reload attempts by result", ("result",), registry=self.registry
        )
        self.refits = Counter(
            "smematch_catalogue_refits", "Refits of the matcher's catalogue (edits, new outcomes, districts)",
            registry=self.registry,
        )
        self.log_spooled = Counter(
            "smematch_recommendation_log_spooled_batches",
            "Batches of the recommendation log written to the local spool because the store did not take them",
            registry=self.registry,
        )
        self.log_drained = Counter(
            "smematch_recommendation_log_drained_batches", "Spooled batches of the log moved into the store",
            registry=self.registry,
        )
        self.checkpoints = Counter(
            "smematch_sqlite_checkpoints", "Background checkpoints of the SQLite write-ahead log",
            registry=self.registry,
        )
        self.wal_frames = Gauge(
            "smematch_sqlite_wal_frames", "Frames in the SQLite write-ahead log at the last checkpoint",
            registry=self.registry, multiprocess_mode="liveall",
        )
        # Garbage collection: collections and objects collected per generation, and how many objects were
        # frozen at start-up (left out of every collection: see ``create_app``). Collected on each scrape from
        # this process, never through the multiprocess files.
        self.process_registry = self.registry if self.multiprocess_dir is None else CollectorRegistry()
        GCCollector(registry=self.process_registry)
        self.process_registry.register(_FrozenObjects())

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def served(self, problems: int, escalated: int) -> None:
        self.recommendations.inc(problems)
        if escalated:
            self.escalations.inc(escalated)

    def set_model(self, version: str, ranker: str) -> None:
        if self.multiprocess_dir is None:
            self.model.clear()
        elif self._model_labels is not None and self._model_labels != (version, ranker):
            self.model.labels(*self._model_labels).set(0)  # the files keep every label set: 0 marks a past one
        self._model_labels = (version, ranker)
        self.model.labels(version, ranker).set(1)

    def render(self) -> bytes:
        """The text format: this app's metrics, or in multiprocess mode every worker's, summed."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, path=self.multiprocess_dir)
        return generate_latest(every_worker) + generate_latest(self.process_registry)

    def close(self) -> None:
        """A stopping worker: its live gauges leave the multiprocess files (its counters stay in the sums)."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)
