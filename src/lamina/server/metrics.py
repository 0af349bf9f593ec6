"""/metrics for Prometheus: read from the state database at scrape time, so every replica
reports the same figures and nothing is kept in memory but request timings.

No metric carries a config value; labels are environment, cluster and status names only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from lamina.store import outbox, summary
from lamina.store.database import Database

DRIFT_STATUSES = ("in-sync", "out-of-sync", "drifted", "missing", "unreachable", "suspended")


class _StateCollector(Collector):
    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Any]:
        drift = GaugeMetricFamily(
            "lamina_drift_status",
            "1 for the drift status a cluster is in (one series per status)",
            labels=["environment", "cluster", "status"],
        )
        fields = GaugeMetricFamily(
            "lamina_drift_differing_fields", "Fields that differ from git", labels=["environment", "cluster"]
        )
        up = GaugeMetricFamily(
            "lamina_cluster_up",
            "1 when the last check reached the cluster",
            labels=["environment", "cluster"],
        )
        checked = GaugeMetricFamily(
            "lamina_drift_last_check_timestamp_seconds",
            "When the cluster was last checked",
            labels=["environment", "cluster"],
        )
        promotions = GaugeMetricFamily("lamina_promotions", "Promotion requests by status", labels=["status"])
        applies = GaugeMetricFamily("lamina_applies", "Applies by result", labels=["result"])
        notices = GaugeMetricFamily(
            "lamina_notices", "Notices of the outbox by status (pending, sent, failed)", labels=["status"]
        )
        waiting = GaugeMetricFamily(
            "lamina_notices_oldest_pending_timestamp_seconds",
            "When the oldest notice not yet delivered was written (0: none is pending)",
        )
        try:
            rows, by_status, by_result, by_notice, oldest = self.database.read(
                lambda s: (
                    summary.drift_rows(s),
                    summary.promotion_counts(s),
                    summary.apply_counts(s),
                    outbox.status_counts(s),
                    outbox.oldest_pending(s),
                )
            )
        except Exception:
            rows, by_status, by_result, by_notice, oldest = [], {}, {}, {}, None
        for row in rows:
            for status in DRIFT_STATUSES:
                drift.add_metric([row.environment, row.cluster, status], 1.0 if row.status == status else 0.0)
            fields.add_metric([row.environment, row.cluster], float(row.fields))
            up.add_metric([row.environment, row.cluster], 0.0 if row.status == "unreachable" else 1.0)
            moment = row.checked_at if row.checked_at.tzinfo else row.checked_at.replace(tzinfo=UTC)
            checked.add_metric([row.environment, row.cluster], moment.timestamp())
        for status, count in sorted(by_status.items()):
            promotions.add_metric([status], float(count))
        for result, count in sorted(by_result.items()):
            applies.add_metric([result], float(count))
        for status in ("pending", "sent", "failed"):
            notices.add_metric([status], float(by_notice.get(status, 0)))
        waiting.add_metric([], oldest.timestamp() if oldest is not None else 0.0)
        yield from (drift, fields, up, checked, promotions, applies, notices, waiting)


class _GitCollector(Collector):
    def __init__(self, sync: Any) -> None:
        self.sync = sync

    def collect(self) -> Iterator[Any]:
        last = GaugeMetricFamily(
            "lamina_git_last_fetch_timestamp_seconds", "When the served branch was last fetched (0: never)"
        )
        last.add_metric([], float(self.sync.last_fetch or 0.0))
        failed = CounterMetricFamily("lamina_git_fetch_failures", "Fetches of the served branch that failed")
        failed.add_metric([], float(self.sync.failures))
        yield from (last, failed)


class _ValidityCollector(Collector):
    def __init__(self, check: Any) -> None:
        self.check = check

    def collect(self) -> Iterator[Any]:
        runs = CounterMetricFamily("lamina_validation_runs", "Fetched revisions this replica validated")
        runs.add_metric([], float(self.check.runs))
        yield runs
        if self.check.problems is not None:
            problems = GaugeMetricFamily(
                "lamina_validation_problems",
                "Validation problems of the last fetched revision this replica validated",
            )
            problems.add_metric([], float(self.check.problems))
            yield problems


class Metrics:
    """The server's registry: state from the database, request timings from the middleware."""

    def __init__(self, database: Database) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StateCollector(database))
        self.requests = Histogram(
            "lamina_http_request_duration_seconds",
            "HTTP request durations",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.check_duration = Histogram(
            "lamina_drift_check_duration_seconds",
            "Duration of scheduled drift checks",
            registry=self.registry,
        )

    def watch_git(self, sync: Any) -> None:
        """Export the git fetches of sync (a :class:`lamina.server.revisions.GitSync`)."""
        self.registry.register(_GitCollector(sync))

    def watch_validity(self, check: Any) -> None:
        """Export the validation of fetched revisions (a :class:`lamina.server.validity.RevisionCheck`)."""
        self.registry.register(_ValidityCollector(check))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one HTTP request."""
        self.requests.labels(method, route, str(status)).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text format body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
