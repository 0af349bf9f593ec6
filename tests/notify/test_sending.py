"""The sender over a real outbox (SQLite and PostgreSQL) and real receivers on 127.0.0.1:
at least once, never twice, after a killed sender too; retries; secrets stay out."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from lamina.core.states import NoticeStatus
from lamina.notify import sending, sinks
from lamina.notify.settings import SinkConfig
from lamina.store import audit, outbox
from lamina.store.database import Database

from .conftest import Receiver

FAST = sinks.RetryPolicy(attempts=2, backoff=0.01, timeout=5.0)
POLICY = sending.SendPolicy(batch=10, workers=2, attempts=3, backoff=timedelta(seconds=30), poll=0.05)
CANARY_URL_PART = "/hook/CANARY-url-token-71f3"
CANARY_KEY = "CANARY-signing-key-9b2e"
CANARY_ROUTING = "CANARY-routing-key-c0d4"
SINK = "alerts.production.sinks[0]"


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


class Clock:
    """A clock the test moves (so retries and claim expiries need no sleeping)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def event(db: Database, index: int, action: str = "rollout.failed", env: str = "production") -> None:
    db.run(
        lambda s: audit.append(
            s,
            actor="ann",
            action=action,
            at=datetime.now(UTC),
            environment=env,
            subject=f"rollout {index}",
            detail={"reason": f"error rate above bound ({index})"},
        )
    )


def webhook(receiver: Receiver, key: str = SINK, secret: str | None = CANARY_KEY) -> sinks.Sink:
    return sinks.build(SinkConfig(key, "webhook", receiver.url + CANARY_URL_PART, secret), FAST)


def sender(
    db: Database, routes: dict[str, Sequence[sinks.Sink]], clock: Clock, holder: str = "s1"
) -> sending.Sender:
    return sending.Sender(
        outbox.Mailbox(db),
        routes,
        public_url="https://lamina.example.com",
        policy=POLICY,
        holder=holder,
        clock=clock,
    )


def keys(receiver: Receiver) -> list[str]:
    return [r.headers["Idempotency-Key"] for r in receiver.accepted()]


def test_every_notice_reaches_its_environments_sinks_once(
    database_url: str, receiver: Receiver, other_receiver: Receiver
) -> None:
    db = Database(database_url)
    for index in range(25):
        event(db, index)
    event(db, 99, env="staging")  # staging has no sink: sent to nobody, marked sent
    routes = {"production": [webhook(receiver), webhook(other_receiver, "alerts.production.sinks[1]", None)]}
    made = sender(db, routes, Clock())
    report = made.send_due()
    assert (report.sent, report.retrying, report.failed, report.deliveries) == (26, 0, 0, 50)
    assert made.send_due().sent == 0  # nothing is sent twice
    made.stop()
    stored = {n.key for n in outbox.notices_in(db)}
    assert (
        sorted(keys(receiver))
        == sorted(keys(other_receiver))
        == sorted(n.key for n in outbox.notices_in(db) if n.environment == "production")
    )
    assert len(set(keys(receiver))) == 25 and set(keys(receiver)) < stored
    [first] = [r.json for r in receiver.accepted() if r.json["subject"] == "rollout 0"]
    assert first["summary"] == "production: rollout 0 failed: error rate above bound (0)"
    assert first["link"] == "https://lamina.example.com/rollouts/0"
    assert outbox.counts(db)[NoticeStatus.SENT] == 26


def test_a_500_is_retried_then_delivered_once(database_url: str, receiver: Receiver) -> None:
    db = Database(database_url)
    event(db, 1)
    receiver.fail_first = 3  # the first try (2 attempts) fails, the second try's first attempt too
    clock = Clock()
    made = sender(db, {"production": [webhook(receiver)]}, clock)
    report = made.send_due()
    assert (report.sent, report.retrying) == (0, 1)
    assert report.errors == [f"{SINK} (webhook) failed after 2 attempts: HTTP 500"]
    [waiting] = outbox.notices_in(db)
    assert (waiting.status, waiting.attempts, waiting.last_error) == (
        NoticeStatus.PENDING,
        1,
        report.errors[0],
    )
    assert timedelta(seconds=30) <= waiting.next_attempt_at - clock.now <= timedelta(seconds=36)
    assert made.send_due().sent == 0  # not due yet
    clock.now = waiting.next_attempt_at
    assert made.send_due().sent == 1
    made.stop()
    assert receiver.attempts == 4
    assert keys(receiver) == [waiting.key]
    assert outbox.notices_in(db)[0].status is NoticeStatus.SENT


def test_a_retry_skips_the_sinks_that_took_the_notice(
    database_url: str, receiver: Receiver, other_receiver: Receiver
) -> None:
    db = Database(database_url)
    event(db, 1)
    other_receiver.fail_first = 2
    clock = Clock()
    routes = {"production": [webhook(receiver), webhook(other_receiver, "alerts.production.sinks[1]")]}
    made = sender(db, routes, clock)
    assert made.send_due().retrying == 1
    [waiting] = outbox.notices_in(db)
    assert waiting.delivered == (SINK,)
    clock.now = waiting.next_attempt_at
    assert made.send_due().sent == 1
    made.stop()
    assert keys(receiver) == keys(other_receiver) == [waiting.key]


def test_a_notice_is_given_up_after_its_attempts(database_url: str, receiver: Receiver) -> None:
    db = Database(database_url)
    event(db, 1)
    receiver.fail_first = 100
    receiver.status_when_failing = 404
    clock = Clock()
    made = sender(db, {"production": [webhook(receiver)]}, clock)
    for _ in range(POLICY.attempts):
        made.send_due()
        clock.now += POLICY.max_backoff * 2
    made.stop()
    [given_up] = outbox.notices_in(db)
    assert (given_up.status, given_up.attempts) == (NoticeStatus.FAILED, 3)
    assert given_up.last_error == f"{SINK} (webhook) refused the notice: HTTP 404"
    assert receiver.attempts == 3


def test_the_background_sender_delivers_when_woken(database_url: str, receiver: Receiver) -> None:
    db = Database(database_url)
    made = sender(db, {"production": [webhook(receiver)]}, Clock())
    made.clock = lambda: datetime.now(UTC)  # the event comes after the sender started
    made.start()
    event(db, 1)
    made.wake()
    _wait(lambda: len(receiver.accepted()) == 1)
    made.stop()
    assert outbox.notices_in(db)[0].status is NoticeStatus.SENT


CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from lamina.notify import sending, sinks
    from lamina.notify.settings import SinkConfig
    from lamina.store import audit, outbox
    from lamina.store.database import Database

    url, hook, mode = sys.argv[1:]
    db = Database(url)
    db.run(lambda s: audit.append(s, actor="ann", action="rollout.failed", at=datetime.now(UTC),
                                  environment="production", subject="rollout 7", detail={"reason": "x"}))
    print("written", flush=True)
    if mode == "before-send":
        time.sleep(60)  # killed here: written, never sent
    config = SinkConfig("alerts.production.sinks[0]", "webhook", hook, None)
    routes = {"production": [sinks.build(config, sinks.RetryPolicy(attempts=1, timeout=60))]}
    sending.Sender(outbox.Mailbox(db), routes, holder="doomed").send_due()
    """
)


@pytest.mark.parametrize("mode", [pytest.param("before-send", id="killed-before-send"), "mid-send"])
def test_a_notice_of_a_killed_process_is_sent_once_after_restart(
    database_url: str, receiver: Receiver, tmp_path: Path, mode: str
) -> None:
    if mode == "mid-send":
        receiver.hold_first = 1  # the receiver has the request when the sender dies
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, receiver.url + "/hook", mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "written\n"
        if mode == "mid-send":
            _wait(lambda: receiver.attempts == 1)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        receiver.released.set()
    db = Database(database_url)
    [pending] = outbox.notices_in(db)
    assert pending.status is NoticeStatus.PENDING
    clock = Clock()
    restarted = sender(db, {"production": [webhook(receiver, secret=None)]}, clock, holder="restarted")
    if mode == "mid-send":
        assert restarted.send_due().sent == 0  # the dead sender's claim still holds
        clock.now += POLICY.claim + timedelta(seconds=1)
    assert restarted.send_due().sent == 1
    assert restarted.send_due().sent == 0
    restarted.stop()
    assert keys(receiver) == [pending.key]
    assert receiver.accepted()[0].json["subject"] == "rollout 7"


def test_sink_secrets_never_reach_the_outbox_or_the_logs(
    database_url: str, receiver: Receiver, other_receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    db = Database(database_url)
    event(db, 1)
    event(db, 2, action="apply")  # not a failure: no notice
    pagerduty = sinks.build(
        SinkConfig(
            "alerts.production.sinks[1]", "pagerduty", other_receiver.url + CANARY_URL_PART, CANARY_ROUTING
        ),
        FAST,
    )
    receiver.fail_first = 2  # failures are logged too
    clock = Clock()
    made = sender(db, {"production": [webhook(receiver), pagerduty]}, clock)
    made.send_due()
    clock.now += timedelta(hours=2)
    made.send_due()
    made.stop()
    assert len(receiver.accepted()) == len(other_receiver.accepted()) == 1
    dump = db.read(lambda s: str(list(s.execute(text("SELECT * FROM outbox")))))
    seen = dump + caplog.text + receiver.accepted()[0].body.decode()
    pd_event = other_receiver.accepted()[0].json
    assert pd_event.pop("routing_key") == CANARY_ROUTING  # PagerDuty's API needs it, nobody else sees it
    seen += str(pd_event) + str(other_receiver.accepted()[0].headers)
    for canary in (CANARY_URL_PART, CANARY_KEY, CANARY_ROUTING):
        assert canary not in seen
    assert "alerts.production.sinks[0] (webhook)" in caplog.text  # sinks are named by their place
