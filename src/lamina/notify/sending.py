"""The sender: delivers the outbox's notices, at least once, to each environment's sinks.

A :class:`Sender` takes due notices from a :class:`Mailbox` (the state database's outbox,
``store/outbox.Mailbox``) in batches, each claimed for a while so no other sender (another
replica, a CLI run) sends them meanwhile; words each one, posts it to every sink of its
environment that hears its topic and has not taken it yet (one environment's notices in the
order of their events, environments in parallel threads), and records in
one transaction per batch which sinks took each notice. A notice every sink took is ``sent``;
one that a sink still refuses is tried again later, waiting twice as long each time (with
jitter) up to ``max_backoff``, and ``failed`` after ``attempts`` tries.

The server runs a sender in a thread of its own (:meth:`Sender.start`) that looks for due
notices every ``poll`` seconds and at once when woken (:meth:`Sender.wake`); ``lamina notices
--send`` runs :meth:`Sender.send_due` once. A sender stopped or killed mid-batch sends nothing
twice that was recorded: what it had claimed is released (or its claim runs out) and the next
sender sends it, with the same idempotency key.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from lamina.core.notices import Notice, Outcome, Topic
from lamina.errors import LaminaError
from lamina.notify import messages
from lamina.notify.sinks import DeliveryError

log = logging.getLogger("lamina.notify")


class Mailbox(Protocol):
    """Where notices wait (``store/outbox.Mailbox``)."""

    def claim(self, holder: str, now: datetime, until: datetime, limit: int) -> list[Notice]:
        """Take up to limit due notices for holder until until."""
        ...

    def settle(self, holder: str, outcomes: Sequence[Outcome], now: datetime) -> int:
        """Record what holder's deliveries came to."""
        ...

    def release(self, holder: str, ids: Collection[int]) -> None:
        """Give claimed notices back untouched."""
        ...


class Deliverer(Protocol):
    """A sink as the sender sees it (``notify/sinks.Sink``)."""

    @property
    def key(self) -> str:
        """Where it is configured: what the outbox records as having taken a notice."""
        ...

    @property
    def name(self) -> str:
        """A name safe to log."""
        ...

    def hears(self, topic: Topic) -> bool:
        """True when notices on topic go to it."""
        ...

    def deliver(self, message: messages.Message) -> None:
        """Deliver message or raise DeliveryError."""
        ...


@dataclass(frozen=True)
class SendPolicy:
    """How the sender works through the outbox.

    Attributes:
        batch: notices claimed (and settled) at once.
        workers: deliveries in flight at once.
        claim: how long a claim holds (longer than one batch can take).
        attempts: tries of a notice before it is marked failed.
        backoff: the wait after the first failed try (then doubling, with jitter).
        max_backoff: the longest wait between tries.
        poll: seconds between looks at the outbox when nobody wakes the sender.
    """

    batch: int = 50
    workers: int = 4
    claim: timedelta = timedelta(minutes=5)
    attempts: int = 12
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    poll: float = 2.0

    def wait(self, attempt: int, draw: Callable[[], float] = random.random) -> timedelta:
        """The wait after the given failed try (1-based): doubling, capped, with up to 20% jitter."""
        base: timedelta = min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 30))
        return base * (1 + 0.2 * draw())


@dataclass
class SendReport:
    """What one :meth:`Sender.send_due` did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    deliveries: int = 0
    errors: list[str] = field(default_factory=list)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Sender:
    """Delivers due notices from a mailbox to the sinks of each environment.

    Args:
        mailbox: the outbox.
        routes: each environment's sinks.
        public_url: the dashboard's address (``[server] public_url``) for links, or None.
        holder: this sender's name in claims (default: host, pid and a random part).
        clock: the current time (UTC).
    """

    def __init__(
        self,
        mailbox: Mailbox,
        routes: Mapping[str, Sequence[Deliverer]],
        *,
        public_url: str | None = None,
        policy: SendPolicy | None = None,
        holder: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.mailbox = mailbox
        self.routes = routes
        self.public_url = public_url
        self.policy = policy or SendPolicy()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def send_due(self, limit: int | None = None) -> SendReport:
        """Deliver the notices due now, batch after batch, until none is left (or limit)."""
        report = SendReport()
        handled = 0
        while not self._stop.is_set() and (limit is None or handled < limit):
            size = self.policy.batch if limit is None else min(self.policy.batch, limit - handled)
            now = self.clock()
            batch = self.mailbox.claim(self.holder, now, now + self.policy.claim, size)
            if not batch:
                break
            handled += len(batch)
            outcomes = list(self._pool_map(batch))
            self.mailbox.settle(self.holder, outcomes, self.clock())
            for outcome in outcomes:
                if outcome.done:
                    report.sent += 1
                elif outcome.give_up:
                    report.failed += 1
                else:
                    report.retrying += 1
                if outcome.error:
                    report.errors.append(outcome.error)
            report.deliveries += sum(len(o.delivered) for o in outcomes)
        return report

    def _pool_map(self, batch: Sequence[Notice]) -> list[Outcome]:
        # one environment's notices go out in the order of their events; environments in parallel
        groups: dict[str | None, list[Notice]] = {}
        for notice in batch:
            groups.setdefault(notice.environment, []).append(notice)
        if self.policy.workers <= 1 or len(groups) == 1:
            return [self._deliver(notice) for notice in batch]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.policy.workers, thread_name_prefix="lamina-notify")
        done = self._pool.map(lambda group: [self._deliver(n) for n in group], groups.values())
        return [outcome for outcomes in done for outcome in outcomes]

    def _deliver(self, notice: Notice) -> Outcome:
        delivered = list(notice.delivered)
        errors = []
        try:
            message = messages.word(notice, self.public_url)
        except Exception as exc:  # a notice that cannot be worded must not stop the others
            errors.append(f"notice {notice.key} cannot be worded: {type(exc).__name__}")
            message = None
        if message is not None:
            for sink in self.routes.get(notice.environment or "", ()):
                if sink.key in delivered or not sink.hears(notice.topic):
                    continue
                try:
                    sink.deliver(message)
                except DeliveryError as exc:
                    errors.append(str(exc))
                    continue
                except Exception as exc:  # a bug in one sink must not stop the others
                    errors.append(f"{sink.name} failed: {type(exc).__name__}")
                    continue
                delivered.append(sink.key)
        if not errors:
            return Outcome(notice.id, tuple(delivered), done=True)
        tries = notice.attempts + 1
        give_up = tries >= self.policy.attempts
        error = "; ".join(errors)
        if give_up:
            log.error("notice %s (%s) given up after %d tries: %s", notice.key, notice.topic, tries, error)
        else:
            log.warning("notice %s (%s) not delivered (try %d): %s", notice.key, notice.topic, tries, error)
        return Outcome(
            notice.id,
            tuple(delivered),
            done=False,
            retry_at=self.clock() + self.policy.wait(tries),
            give_up=give_up,
            error=error,
        )

    def wake(self) -> None:
        """Look at the outbox now (after an event was written)."""
        self._wake.set()

    def start(self) -> None:
        """Deliver in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lamina-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (a batch in flight is finished and recorded first) and the sinks."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for sinks in self.routes.values():
            for sink in sinks:
                closer = getattr(sink, "close", None)
                if callable(closer):
                    closer()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_due()
            except LaminaError as exc:
                log.error("sending notices failed: %s", exc)
            except Exception as exc:  # the loop must outlive any one batch
                log.error("sending notices failed: %s", type(exc).__name__)
            self._wake.wait(self.policy.poll)
            self._wake.clear()
