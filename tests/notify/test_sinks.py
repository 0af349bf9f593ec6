"""Sinks against a real webhook receiver on 127.0.0.1: payloads, signatures, retries, no leaks."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from lamina.notify import alerts, sinks
from lamina.notify.alerts import ClusterState, Condition, Notice, Observation
from lamina.notify.settings import SinkConfig
from port_support import refusing_port

from .conftest import Receiver

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
SECRET_PATH = "/services/T0000/B0000/s3cr3tWebhookToken"
KEY = "k3y-that-must-never-be-logged"
FAST = sinks.RetryPolicy(attempts=4, backoff=0.01, timeout=2.0)


def drifted_notice() -> Notice:
    return Notice(
        "production",
        Condition.DRIFTED,
        alerts.NoticeKind.FIRING,
        (
            alerts.ClusterNote("prod-us-1", "changed outside lamina", ("guardrails.max_tool_calls",)),
            alerts.ClusterNote("prod-us-2", "changed outside lamina", ("guardrails.max_tool_calls",)),
        ),
        T0,
    )


def webhook(receiver: Receiver, secret: str | None = KEY) -> sinks.WebhookSink:
    config = SinkConfig("alerts.production.sinks[1]", "webhook", receiver.url + SECRET_PATH, secret)
    return sinks.WebhookSink(config, FAST)


def slack(receiver: Receiver) -> sinks.SlackSink:
    return sinks.SlackSink(
        SinkConfig("alerts.production.sinks[0]", "slack", receiver.url + SECRET_PATH), FAST
    )


def test_webhook_body_is_the_notice_and_its_signature_verifies(receiver: Receiver) -> None:
    webhook(receiver).send(drifted_notice())
    [got] = receiver.accepted()
    expected = "sha256=" + hmac.new(KEY.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["X-Lamina-Signature"], expected)
    assert got.headers["Content-Type"] == "application/json"
    assert got.path == SECRET_PATH
    assert got.json == {
        "version": 1,
        "status": "firing",
        "environment": "production",
        "condition": "drifted",
        "summary": "production: 2 clusters drifted from git (prod-us-1, prod-us-2)",
        "clusters": [
            {
                "cluster": "prod-us-1",
                "detail": "changed outside lamina",
                "fields": ["guardrails.max_tool_calls"],
            },
            {
                "cluster": "prod-us-2",
                "detail": "changed outside lamina",
                "fields": ["guardrails.max_tool_calls"],
            },
        ],
        "at": "2025-01-01T12:00:00+00:00",
    }


def test_a_tampered_body_does_not_verify(receiver: Receiver) -> None:
    webhook(receiver).send(drifted_notice())
    [got] = receiver.accepted()
    tampered = got.body.replace(b"prod-us-1", b"prod-us-9")
    assert sinks.signature(KEY, tampered) != got.headers["X-Lamina-Signature"]


def test_webhook_without_a_key_is_unsigned(receiver: Receiver) -> None:
    webhook(receiver, secret=None).send(drifted_notice())
    [got] = receiver.accepted()
    assert "X-Lamina-Signature" not in got.headers


def test_slack_payload_is_text_and_blocks(receiver: Receiver) -> None:
    slack(receiver).send(drifted_notice())
    [got] = receiver.accepted()
    payload = got.json
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == ":red_circle: production: 2 clusters drifted from git (prod-us-1, prod-us-2)"
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "section", "context"]
    header = payload["blocks"][0]["text"]
    assert header == {"type": "plain_text", "text": "Drift alert: production"}
    assert payload["blocks"][1]["text"]["type"] == "mrkdwn"
    assert payload["blocks"][2]["text"]["text"] == (
        "• *prod-us-1*: changed outside lamina (`guardrails.max_tool_calls`)\n"
        "• *prod-us-2*: changed outside lamina (`guardrails.max_tool_calls`)"
    )
    assert payload["blocks"][3]["elements"][0]["text"].startswith("lamina · drifted · firing · ")


def test_slack_resolved_notice(receiver: Receiver) -> None:
    notice = Notice(
        "production", Condition.DRIFTED, alerts.NoticeKind.RESOLVED, (alerts.ClusterNote("a"),), T0
    )
    slack(receiver).send(notice)
    payload = receiver.accepted()[0].json
    assert payload["text"] == ":large_green_circle: production: resolved: 1 cluster back in sync with git (a)"
    assert payload["blocks"][0]["text"]["text"] == "Resolved: production"


def test_a_failing_receiver_is_retried_with_backoff(receiver: Receiver) -> None:
    receiver.fail_first = 2
    waits: list[float] = []
    sink = sinks.WebhookSink(
        SinkConfig("alerts.production.sinks[1]", "webhook", receiver.url, KEY), FAST, sleep=waits.append
    )
    sink.send(drifted_notice())
    assert receiver.attempts == 3
    assert len(receiver.accepted()) == 1
    assert waits == [0.01, 0.02]


def test_retries_end_in_a_delivery_error_naming_the_sink_not_the_url(receiver: Receiver) -> None:
    receiver.fail_first = 100
    with pytest.raises(sinks.DeliveryError) as caught:
        webhook(receiver).send(drifted_notice())
    assert str(caught.value) == "alerts.production.sinks[1] (webhook) failed after 4 attempts: HTTP 500"
    assert receiver.attempts == 4


def test_a_refusal_is_not_retried(receiver: Receiver) -> None:
    receiver.fail_first = 100
    receiver.status_when_failing = 403
    with pytest.raises(sinks.DeliveryError, match=r"refused the alert: HTTP 403"):
        webhook(receiver).send(drifted_notice())
    assert receiver.attempts == 1


class StuckSink:
    """A sink whose delivery hangs until the test lets it go: a dead receiver, without a clock."""

    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def send(self, notice: Notice) -> None:
        self.entered.set()
        self.release.wait()


def test_a_failing_sink_never_blocks_the_sender() -> None:
    stuck = StuckSink()
    background = sinks.BackgroundSink(stuck, capacity=2)
    background.send(drifted_notice())
    assert stuck.entered.wait(10)  # one notice is in flight, and stays there
    sender = threading.Thread(target=lambda: [background.send(drifted_notice()) for _ in range(9)])
    sender.start()
    sender.join(10)
    assert not sender.is_alive(), "send() waited for a sink that never finishes"
    assert background.dropped == 7  # two wait in the queue, the rest are dropped
    stuck.release.set()
    background.close(timeout=5)


def test_background_sink_delivers_in_order(receiver: Receiver) -> None:
    background = sinks.BackgroundSink(webhook(receiver))
    notices = [
        Notice("production", Condition.DRIFTED, alerts.NoticeKind.FIRING, (alerts.ClusterNote(f"c{i}"),), T0)
        for i in range(5)
    ]
    for notice in notices:
        background.send(notice)
    assert background.drain()
    assert [r.json["clusters"][0]["cluster"] for r in receiver.accepted()] == [f"c{i}" for i in range(5)]
    background.close()


def test_state_changes_end_to_end_one_message_each(receiver: Receiver) -> None:
    """Checks every minute with a 10 minute hold: drift, hold, fire once, clear, resolve once."""
    background = sinks.BackgroundSink(webhook(receiver))
    states: dict[str, ClusterState] = {}
    timeline = (
        [(0, Condition.OK)]
        + [(m, Condition.DRIFTED) for m in range(1, 30)]
        + [(m, Condition.OK) for m in range(30, 60)]
    )
    for minute, condition in timeline:
        seen = [Observation("production", c, condition) for c in ("prod-us-1", "prod-us-2")]
        result = alerts.evaluate(states, seen, T0 + timedelta(minutes=minute), timedelta(minutes=10))
        states.update(result.states)
        for notice in result.notices:
            background.send(notice)
    assert background.drain()
    got = [r.json for r in receiver.accepted()]
    assert [(g["status"], g["at"]) for g in got] == [
        ("firing", "2025-01-01T12:11:00+00:00"),
        ("resolved", "2025-01-01T12:40:00+00:00"),
    ]
    assert [c["cluster"] for c in got[0]["clusters"]] == ["prod-us-1", "prod-us-2"]
    background.close()


def test_no_url_or_key_in_any_log(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.fail_first = 2
    webhook(receiver).send(drifted_notice())
    receiver.fail_first = 100
    receiver.attempts = 0
    background = sinks.BackgroundSink(slack(receiver))
    background.send(drifted_notice())
    assert background.drain()
    background.close()
    unreachable = SinkConfig(
        "alerts.production.sinks[2]", "webhook", f"http://127.0.0.1:{refusing_port()}{SECRET_PATH}", KEY
    )
    with pytest.raises(sinks.DeliveryError) as caught:
        sinks.WebhookSink(unreachable, FAST).send(drifted_notice())
    text = caplog.text + str(caught.value) + repr(unreachable) + repr(sinks.WebhookSink(unreachable))
    assert "retrying" in caplog.text
    assert "alert not delivered" in caplog.text
    for secret in (SECRET_PATH, "s3cr3tWebhookToken", KEY, receiver.url):
        assert secret not in text
