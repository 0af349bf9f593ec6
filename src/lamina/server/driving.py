"""The server drives rollouts: every running rollout nobody drives moves on from the server.

A rollout is running and undriven when it was resumed or aborted from the API or the
dashboard, or when the ``lamina apply --rollout`` that started it died (its lease expires, or
its process is gone). Every ``interval`` seconds a :class:`RolloutRunner` looks for running
rollouts whose lease nobody holds and starts a :class:`lamina.rollout.engine.Driver` for each
in a thread of its own (a driver that stopped on an error, such as a freeze refusing a step,
is tried again after a wait that doubles each time). The lease (``rollout:ID`` in the state
database) is what makes one replica drive a rollout: a driver that does not get it gives up
at once, so several replicas on one PostgreSQL database never apply a step twice. Stopping
the server stops its drivers at their next wait; each lets go of its lease, and the next
replica (or a restarted server, or ``lamina rollout resume ID``) carries on where it was.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable

from lamina.clusters import connection, secrets
from lamina.errors import LaminaError
from lamina.guard.actors import Actor
from lamina.rollout import engine
from lamina.server.context import Context
from lamina.store import rollouts

log = logging.getLogger("lamina.server.driving")

ACTOR = "lamina-server"
"""Who the audit log names for the steps the server drives (the moves people make carry their names)."""
INTERVAL = 2.0
"""Seconds between looks for rollouts to drive."""
RETRY = (30.0, 900.0)
"""After a driver stopped on an error (a freeze refusing a step, a cluster down), seconds before
the rollout is tried again: the first wait, doubled each time up to the last."""


class Stopped(Exception):
    """The server is stopping: a driver lets go of its rollout."""


class StoppableClock:
    """The wall clock, whose waits end (raising :class:`Stopped`) when the server stops."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def now(self) -> datetime.datetime:
        """The current time (UTC)."""
        return datetime.datetime.now(datetime.UTC)

    def sleep(self, seconds: float) -> None:
        """Wait seconds, unless the server stops first.

        Raises:
            Stopped: the server is stopping.
        """
        if self._stop.wait(max(seconds, 0.0)):
            raise Stopped


class RolloutRunner:
    """The rollout drivers of one server replica.

    Args:
        context: the server's context (repository, database, environment).
        interval: seconds between looks for rollouts to drive; zero: drive none.
        on_end: called with a rollout's id when a driver of this replica stops driving it.
    """

    def __init__(
        self, context: Context, interval: float = INTERVAL, on_end: Callable[[int], None] | None = None
    ) -> None:
        self.context = context
        self.interval = interval
        self.on_end = on_end
        self._stop = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._drivers: dict[int, threading.Thread] = {}
        self._retry: dict[int, tuple[float, float]] = {}
        """rollout id -> (monotonic time before which it is not tried again, the last wait)."""
        self._lock = threading.Lock()

    def run_once(self) -> list[int]:
        """Start a driver for each running rollout that nobody drives; their ids."""
        db = self.context.database
        started = []
        now = datetime.datetime.now(datetime.UTC)
        for rollout_id in rollouts.active(db):
            with self._lock:
                current = self._drivers.get(rollout_id)
                if current is not None and current.is_alive():
                    continue
                if self._retry.get(rollout_id, (0.0, 0.0))[0] > time.monotonic():
                    continue
            if rollouts.lease_holder(db, rollout_id, now) is not None:
                continue  # a driver elsewhere holds it (one that died on this host is taken over)
            thread = threading.Thread(
                target=self._drive, args=(rollout_id,), name=f"lamina-rollout-{rollout_id}", daemon=True
            )
            with self._lock:
                self._drivers[rollout_id] = thread
            thread.start()
            started.append(rollout_id)
        return started

    def _drive(self, rollout_id: int) -> None:
        environ = self.context.settings.environ
        failed = False
        try:
            with self.context.repository() as repo:
                kube = connection.KubeSettings.from_environment(environ, repo.root, repo.fleet.settings.apply)
                with secrets.Lookups.from_environment(environ, kube) as lookups:
                    driver = engine.Driver(
                        repo=repo,
                        db=self.context.database,
                        kube=kube,
                        lookups=lookups,
                        actor=Actor(ACTOR),
                        environ=environ,
                        clock=StoppableClock(self._stop),
                        events=lambda event: log.info(
                            "rollout %d: step %d: %s", event.rollout, event.step + 1, event.text
                        ),
                    )
                    final = driver.drive(rollout_id)
            log.info("rollout %d is %s", rollout_id, final.status.value)
        except Stopped:
            log.info("rollout %d: the server stops; the next driver carries on", rollout_id)
        except engine.LeaseHeld as exc:
            log.info("rollout %d: %s", rollout_id, exc)
        except LaminaError as exc:
            failed = True
            log.error("rollout %d: %s", rollout_id, exc)
        except Exception as exc:  # a driver's thread must end with a line in the log, not a traceback
            failed = True
            log.error("rollout %d: %s: %s", rollout_id, type(exc).__name__, exc)
        finally:
            with self._lock:
                if failed:
                    last = self._retry.get(rollout_id, (0.0, 0.0))[1]
                    wait = min(RETRY[1], last * 2) if last else RETRY[0]
                    self._retry[rollout_id] = (time.monotonic() + wait, wait)
                    log.info("rollout %d: tried again in %gs", rollout_id, wait)
                else:
                    self._retry.pop(rollout_id, None)
            if self.on_end is not None:
                self.on_end(rollout_id)

    def _loop(self) -> None:
        last = ""  # a failure is logged when it starts or changes, not every interval
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
                problem = ""
            except LaminaError as exc:
                problem = str(exc)
            except Exception as exc:  # the loop must outlive any one look
                problem = f"{type(exc).__name__}: {exc}"
            if problem and problem != last:
                log.error("looking for rollouts to drive failed: %s", problem)
            last = problem

    def start(self) -> None:
        """Look for rollouts to drive every interval, in a background thread (none when zero)."""
        if self.interval <= 0 or self._loop_thread is not None:
            return
        self._stop.clear()
        self._loop_thread = threading.Thread(target=self._loop, name="lamina-rollouts", daemon=True)
        self._loop_thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop looking, and stop every driver at its next wait (each lets go of its lease)."""
        self._stop.set()
        if self._loop_thread is not None:
            self._loop_thread.join(timeout)
            self._loop_thread = None
        with self._lock:
            drivers = list(self._drivers.values())
        for thread in drivers:
            thread.join(timeout)
