"""Prometheus metrics of one worker process.

Each ``WorkerMetrics`` owns its own ``CollectorRegistry`` (no module-level global), so a test can run
several workers in one process and read each one's numbers. Exposed names (stable):

    pava_jobs_total{analyzer, outcome}        counter; outcome: done, skipped, retried, failed, rejected
    pava_job_duration_seconds{analyzer}       histogram; a job's whole handling in the worker thread
    pava_job_analyze_seconds{analyzer}        histogram; time inside ``Analyzer.analyze`` only
    pava_job_commit_seconds{analyzer}         histogram; the transaction that stores results
    pava_jobs_in_flight{analyzer}             gauge; jobs handed to worker threads and not yet settled
    pava_broker_reconnects_total{analyzer}    counter; connections to the broker after the first

``sum(pava_job_analyze_seconds_sum) / sum(pava_job_duration_seconds_sum)`` is the share of a worker's
time spent in the model call; the rest is the runtime's overhead (database, decoding, storage).
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

OUTCOMES = ("done", "skipped", "retried", "failed", "rejected")

# Analyses range from milliseconds (dHash) to many minutes (speech on a long video).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class WorkerMetrics:
    """The metrics of one worker, labelled with its analyzer's name."""

    def __init__(self, analyzer: str) -> None:
        self.analyzer = analyzer
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Counter("pava_jobs", "Jobs handled, by outcome", ["analyzer", "outcome"],
                            registry=self.registry)
        self.duration = Histogram("pava_job_duration_seconds", "Whole handling of one job in a worker thread",
                                  ["analyzer"], buckets=_BUCKETS, registry=self.registry)
        self.analyze = Histogram("pava_job_analyze_seconds", "Time inside the analyzer's analyze call",
                                 ["analyzer"], buckets=_BUCKETS, registry=self.registry)
        self.commit = Histogram("pava_job_commit_seconds", "The transaction that stores a job's results",
                                ["analyzer"], buckets=_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("pava_jobs_in_flight", "Jobs handed to worker threads, not yet settled",
                               ["analyzer"], registry=self.registry)
        self.reconnects = Counter("pava_broker_reconnects", "Broker connections after the first",
                                  ["analyzer"], registry=self.registry)
        # Pre-create every series, so a scrape shows zeros instead of missing lines.
        for outcome in OUTCOMES:
            self.jobs.labels(analyzer, outcome)
        for metric in (self.duration, self.analyze, self.commit, self.in_flight, self.reconnects):
            metric.labels(analyzer)

    def outcome(self, outcome: str) -> None:
        self.jobs.labels(self.analyzer, outcome).inc()

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 (scraped from other hosts)
        """Expose ``/metrics`` on ``port`` (a daemon thread of prometheus_client)."""
        start_http_server(port, addr=addr, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", addr, port)
