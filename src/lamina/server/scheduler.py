"""Scheduled drift checks with alerts, once per interval across every replica.

Each server runs a :class:`Scheduler` thread that wakes every ``[drift] interval`` (plus a
random jitter of up to ``[drift] jitter``, a fraction of the interval, so replicas and
fleets of servers do not hit clusters in step). On waking it asks the database for the
``drift-check`` lease until one interval from now (``store/leases.py``); only the replica
that gets it checks the fleet, stores the results, feeds the alert state machine and writes
the notices to the outbox. The alert state and the notices it decides are written in one
transaction, so a notice is decided once even if two checks were to overlap, and lost never:
the replica's sender (``notify/sending.py``) delivers it at least once, after a crash too.
The lease holder also writes a notice for each emergency whose backfill is overdue (once each).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lamina.clusters import connection
from lamina.core.notices import Draft, Topic
from lamina.core.states import DriftStatus
from lamina.drift import checking
from lamina.drift.status import DriftReport
from lamina.errors import LaminaError
from lamina.fleet.model import Fleet
from lamina.notify import alerts, sending, sinks
from lamina.notify import settings as alert_settings
from lamina.promote import backfill
from lamina.server.context import Clock, Context, utc_now
from lamina.server.metrics import Metrics
from lamina.store import alerting, leases, outbox
from lamina.store.database import Database

log = logging.getLogger("lamina.server.scheduler")

LEASE = "drift-check"
DEFAULT_INTERVAL = datetime.timedelta(minutes=5)
DEFAULT_JITTER = 0.1

_CONDITIONS = {
    DriftStatus.IN_SYNC: alerts.Condition.OK,
    DriftStatus.OUT_OF_SYNC: alerts.Condition.OK,
    DriftStatus.DRIFTED: alerts.Condition.DRIFTED,
    DriftStatus.MISSING: alerts.Condition.MISSING,
    DriftStatus.UNREACHABLE: alerts.Condition.UNREACHABLE,
}


@dataclass(frozen=True)
class Schedule:
    """``[drift] interval`` and ``jitter``, and ``[alerts]``.

    Attributes:
        interval: time between checks; zero turns scheduled checks off.
        jitter: the most each wait is lengthened by, as a fraction of interval.
    """

    interval: datetime.timedelta = DEFAULT_INTERVAL
    jitter: float = DEFAULT_JITTER
    alerts: alert_settings.AlertSettings = field(default_factory=alert_settings.AlertSettings)

    @classmethod
    def from_fleet(cls, fleet: Fleet, environ: Mapping[str, str]) -> Schedule:
        """lamina.toml's ``[drift]`` and ``[alerts]``; sink values come from environ.

        Raises:
            InputError: a sink's environment variable is not set.
        """
        drift = fleet.settings.drift
        return cls(drift.interval, drift.jitter, alert_settings.load(fleet.settings.alerts, environ))


@dataclass(frozen=True)
class CheckOutcome:
    """One scheduled check this replica ran."""

    at: datetime.datetime
    holder: str
    reports: tuple[DriftReport, ...]
    notices: tuple[alerts.Notice, ...]
    seconds: float


def observations(reports: Sequence[DriftReport]) -> list[alerts.Observation]:
    """What the alerts see of each report (suspended clusters are left out)."""
    out = []
    for report in reports:
        condition = _CONDITIONS.get(report.status)
        if condition is None:
            continue
        out.append(
            alerts.Observation(
                environment=report.environment,
                cluster=report.cluster,
                condition=condition,
                detail=report.detail,
                fields=tuple(f.path for f in report.fields),
            )
        )
    return out


class Scheduler:
    """The drift check loop of one server replica.

    Args:
        context: the server's context (repository, database, environment).
        metrics: where check durations are recorded.
        schedule: interval, jitter and alert settings.
        sender: delivers the outbox's notices (started and stopped with the loop).
        holder: this replica's name in the lease table (default: host, pid and a random part).
        clock: the current time (UTC); tests pass their own.
        on_check: called after each check this replica ran.
    """

    def __init__(
        self,
        context: Context,
        metrics: Metrics,
        schedule: Schedule,
        sender: sending.Sender,
        *,
        holder: str | None = None,
        clock: Clock = utc_now,
        on_check: Callable[[CheckOutcome], None] | None = None,
    ) -> None:
        self.context = context
        self.metrics = metrics
        self.schedule = schedule
        self.sender = sender
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.on_check = on_check
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._random = random.Random()

    @classmethod
    def for_server(cls, context: Context, metrics: Metrics) -> Scheduler:
        """The scheduler lamina.toml describes, with its sender.

        Raises:
            InputError: ``[drift]`` or ``[alerts]`` is malformed, or a sink's environment
                variable is not set (the message names the key and the variable, not its value).
        """
        with context.repository() as repo:
            schedule = Schedule.from_fleet(repo.fleet, context.settings.environ)
            public_url = repo.fleet.settings.server.public_url
        sender = sending.Sender(
            outbox.Mailbox(context.database),
            sinks.build_routes(schedule.alerts.routes),
            public_url=public_url,
            clock=context.clock,
        )
        return cls(context, metrics, schedule, sender, clock=context.clock)

    @property
    def database(self) -> Database:
        """The shared state database."""
        return self.context.database

    def run_once(self) -> CheckOutcome | None:
        """Check the fleet if this replica gets the lease; None when another replica has it."""
        now = self.clock()
        until = now + self.schedule.interval
        if not self.database.run(lambda s: leases.acquire(s, LEASE, self.holder, now, until)):
            return None
        started = time.perf_counter()
        with self.context.repository() as repo:
            kube = connection.KubeSettings.from_environment(
                self.context.settings.environ, repo.root, repo.fleet.settings.apply
            )
            reports = checking.run(repo, self.database, repo.targets(), kube, now)
            seen = observations(reports)
            notices = self.database.run(lambda s: self._decide(s, seen, now))
            try:
                backfill.notify_overdue(repo, self.database, now)
            except LaminaError as exc:  # the drift check stands; the next check looks again
                log.error("overdue backfills not checked: %s", exc)
        seconds = time.perf_counter() - started
        self.metrics.check_duration.observe(seconds)
        for notice in notices:
            log.info("alert: %s", notice.summary)
        self.sender.wake()
        outcome = CheckOutcome(now, self.holder, tuple(reports), tuple(notices), seconds)
        if self.on_check is not None:
            self.on_check(outcome)
        return outcome

    def _decide(
        self, session: Any, seen: Sequence[alerts.Observation], now: datetime.datetime
    ) -> list[alerts.Notice]:
        stored = alerting.load(session)
        states = {name: _to_state(record) for name, record in stored.items()}
        evaluation = alerts.evaluate(states, seen, now, self.schedule.alerts.hold)
        alerting.save(session, (_to_record(s) for s in evaluation.states.values()), now)
        for notice in evaluation.notices:
            outbox.add(session, drift_draft(notice), now)
        return evaluation.notices

    def start(self) -> None:
        """Start the sender, and the loop in a background thread (none when the interval is zero)."""
        self.sender.start()
        if self.schedule.interval <= datetime.timedelta(0) or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lamina-drift-schedule", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (a running check finishes first) and the sender."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.sender.stop(timeout)

    def _pause(self) -> float:
        interval = self.schedule.interval.total_seconds()
        return interval + self._random.uniform(0, interval * self.schedule.jitter)

    def _loop(self) -> None:
        interval = self.schedule.interval.total_seconds()
        # the first check comes soon after start, spread so replicas started together differ
        due = time.monotonic() + self._random.uniform(0, interval * max(self.schedule.jitter, 0.01))
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            began = time.monotonic()
            try:
                self.run_once()
            except LaminaError as exc:
                log.error("scheduled drift check failed: %s", exc)
            except Exception as exc:  # the loop must outlive any one check
                log.error("scheduled drift check failed: %s: %s", type(exc).__name__, exc)
            due = began + self._pause()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        """An ASGI lifespan: the loop runs while the application does."""
        self.start()
        try:
            yield
        finally:
            await asyncio.to_thread(self.stop)


def drift_draft(notice: alerts.Notice) -> Draft:
    """The outbox notice of a drift alert (its key: a hash of what it says and when)."""
    facts = notice.to_json()
    body = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return Draft(
        key="drift-" + hashlib.sha256(body.encode()).hexdigest()[:48],
        topic=Topic.DRIFT,
        environment=notice.environment,
        subject=", ".join(note.cluster for note in notice.clusters),
        facts=facts,
    )


def _to_state(record: alerting.AlertRecord) -> alerts.ClusterState:
    return alerts.ClusterState(
        cluster=record.cluster,
        environment=record.environment,
        notified=_condition(record.notified),
        pending=_condition(record.pending),
        pending_since=record.pending_since,
    )


def _to_record(state: alerts.ClusterState) -> alerting.AlertRecord:
    return alerting.AlertRecord(
        cluster=state.cluster,
        environment=state.environment,
        notified=state.notified.value if state.notified else None,
        pending=state.pending.value if state.pending else None,
        pending_since=state.pending_since,
    )


def _condition(text: str | None) -> alerts.Condition | None:
    try:
        return alerts.Condition(text) if text else None
    except ValueError:  # a condition a newer lamina wrote: start over for that cluster
        return None
