"""Each sink against a real receiver on 127.0.0.1: its payload, its headers, retries, no leaks."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from lamina.core.notices import Notice, Topic
from lamina.core.states import NoticeStatus
from lamina.notify import alerts, messages, sinks
from lamina.notify.alerts import Condition
from lamina.notify.settings import SinkConfig
from port_support import refusing_port

from .conftest import Receiver

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
SECRET_PATH = "/services/T0000/B0000/s3cr3tWebhookToken"
KEY = "k3y-that-must-never-be-logged"
ROUTING_KEY = "R0UT1NGK3Y-that-must-never-be-logged"
FAST = sinks.RetryPolicy(attempts=4, backoff=0.01, timeout=2.0)
PUBLIC = "https://lamina.example.com"


def stored(
    topic: Topic, facts: Mapping[str, Any], subject: str = "PR-7", actor: str | None = "ann"
) -> Notice:
    return Notice(
        id=1,
        key=f"audit-{topic.value}-1",
        topic=topic,
        environment="production",
        subject=subject,
        actor=actor,
        facts=facts,
        created_at=T0,
        status=NoticeStatus.PENDING,
        attempts=0,
        next_attempt_at=T0,
    )


def drift_message(kind: alerts.NoticeKind = alerts.NoticeKind.FIRING) -> messages.Message:
    notes = (
        alerts.ClusterNote("prod-us-1", "changed outside lamina", ("guardrails.max_tool_calls",)),
        alerts.ClusterNote("prod-us-2", "changed outside lamina", ("guardrails.max_tool_calls",)),
    )
    notice = alerts.Notice("production", Condition.DRIFTED, kind, notes, T0)
    return messages.word(stored(Topic.DRIFT, notice.to_json(), "prod-us-1, prod-us-2", None), PUBLIC)


def gate_message() -> messages.Message:
    facts = {
        "kind": "promotion",
        "source": "staging",
        "target": "production",
        "revision": "0123456789abcdef0123",
        "emergency": False,
        "gates": [
            {"name": "validate", "status": "passed", "detail": ""},
            {"name": "command:smoke", "status": "failed", "detail": "exit 1"},
        ],
        "action": "promotion.gates-failed",
    }
    return messages.word(stored(Topic.GATE_FAILED, facts), PUBLIC)


def sink(kind: str, receiver: Receiver, secret: str | None = None) -> sinks.Sink:
    config = SinkConfig("alerts.production.sinks[0]", kind, receiver.url + SECRET_PATH, secret)
    return sinks.build(config, FAST)


def test_webhook_body_is_the_message_signed_with_its_idempotency_key(receiver: Receiver) -> None:
    sink("webhook", receiver, KEY).deliver(gate_message())
    [got] = receiver.accepted()
    expected = "sha256=" + hmac.new(KEY.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["X-Lamina-Signature"], expected)
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Idempotency-Key"] == "audit-gate-failed-1"
    assert got.path == SECRET_PATH
    assert got.json == {
        "version": 2,
        "key": "audit-gate-failed-1",
        "topic": "gate-failed",
        "status": "firing",
        "environment": "production",
        "subject": "PR-7",
        "summary": "production: PR-7's gates failed: promotion of 0123456789ab from staging",
        "link": "https://lamina.example.com/promotions#PR-7",
        "at": "2025-01-01T12:00:00+00:00",
        "facts": {
            "kind": "promotion",
            "source": "staging",
            "target": "production",
            "revision": "0123456789abcdef0123",
            "emergency": False,
            "gates": [
                {"name": "validate", "status": "passed", "detail": ""},
                {"name": "command:smoke", "status": "failed", "detail": "exit 1"},
            ],
            "action": "promotion.gates-failed",
        },
    }
    tampered = got.body.replace(b"PR-7", b"PR-8")
    assert sinks.signature(KEY, tampered) != got.headers["X-Lamina-Signature"]


def test_webhook_without_a_key_is_unsigned(receiver: Receiver) -> None:
    sink("webhook", receiver).deliver(gate_message())
    [got] = receiver.accepted()
    assert "X-Lamina-Signature" not in got.headers


def test_slack_payload_is_text_blocks_and_a_link_button(receiver: Receiver) -> None:
    sink("slack", receiver).deliver(drift_message())
    [got] = receiver.accepted()
    payload = got.json
    assert got.headers["Idempotency-Key"] == "audit-drift-1"
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == (
        ":large_orange_circle: production: 2 clusters drifted from git (prod-us-1, prod-us-2)"
    )
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "section", "actions", "context"]
    assert payload["blocks"][0]["text"] == {"type": "plain_text", "text": "Drift alert: production"}
    assert payload["blocks"][2]["text"]["text"] == (
        "• prod-us-1: changed outside lamina (guardrails.max_tool_calls)\n"
        "• prod-us-2: changed outside lamina (guardrails.max_tool_calls)"
    )
    button = payload["blocks"][3]["elements"][0]
    assert button["url"] == "https://lamina.example.com/?env=production"
    assert payload["blocks"][4]["elements"][0]["text"] == "lamina · drift · 2025-01-01T12:00:00+00:00"


def test_slack_resolved_notice(receiver: Receiver) -> None:
    sink("slack", receiver).deliver(drift_message(alerts.NoticeKind.RESOLVED))
    payload = receiver.accepted()[0].json
    assert payload["text"] == (
        ":large_green_circle: production: resolved: 2 clusters back in sync with git (prod-us-1, prod-us-2)"
    )
    assert payload["blocks"][0]["text"]["text"] == "Resolved: production"


def test_teams_payload_is_one_adaptive_card_with_an_open_url_action(receiver: Receiver) -> None:
    sink("msteams", receiver).deliver(gate_message())
    payload = receiver.accepted()[0].json
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert [block["text"] for block in card["body"]] == [
        "Gates failed: production",
        "production: PR-7's gates failed: promotion of 0123456789ab from staging",
        "- command:smoke: failed (exit 1)\n- by ann",
        "lamina · gate-failed · 2025-01-01T12:00:00+00:00",
    ]
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open in lamina",
            "url": "https://lamina.example.com/promotions#PR-7",
        }
    ]


def test_discord_payload_is_content_and_one_embed_mentioning_nobody(receiver: Receiver) -> None:
    sink("discord", receiver).deliver(gate_message())
    payload = receiver.accepted()[0].json
    assert payload == {
        "content": "production: PR-7's gates failed: promotion of 0123456789ab from staging",
        "embeds": [
            {
                "title": "Gates failed: production",
                "description": "production: PR-7's gates failed: promotion of 0123456789ab from staging\n"
                "command:smoke: failed (exit 1)\nby ann",
                "color": 0xF9A825,
                "timestamp": "2025-01-01T12:00:00+00:00",
                "footer": {"text": "lamina · gate-failed"},
                "url": "https://lamina.example.com/promotions#PR-7",
            }
        ],
        "allowed_mentions": {"parse": []},
    }


def test_pagerduty_triggers_one_event_per_drifted_cluster_and_resolves_each(receiver: Receiver) -> None:
    pagerduty = sink("pagerduty", receiver, ROUTING_KEY)
    pagerduty.deliver(drift_message())
    pagerduty.deliver(drift_message(alerts.NoticeKind.RESOLVED))
    got = [r.json for r in receiver.accepted()]
    assert [(e["event_action"], e["dedup_key"]) for e in got] == [
        ("trigger", "lamina/production/prod-us-1/drifted"),
        ("trigger", "lamina/production/prod-us-2/drifted"),
        ("resolve", "lamina/production/prod-us-1/drifted"),
        ("resolve", "lamina/production/prod-us-2/drifted"),
    ]
    assert {e["routing_key"] for e in got} == {ROUTING_KEY}
    assert got[0]["payload"] == {
        "summary": "production/prod-us-1: production: 2 clusters drifted from git (prod-us-1, prod-us-2)",
        "source": "lamina/production/prod-us-1",
        "severity": "warning",
        "timestamp": "2025-01-01T12:00:00+00:00",
        "component": "prod-us-1",
        "group": "production",
        "class": "drift",
        "custom_details": {
            "subject": "prod-us-1, prod-us-2",
            "details": [
                "prod-us-1: changed outside lamina (guardrails.max_tool_calls)",
                "prod-us-2: changed outside lamina (guardrails.max_tool_calls)",
            ],
        },
    }
    assert got[0]["links"] == [
        {"href": "https://lamina.example.com/?env=production", "text": "Open in lamina"}
    ]
    assert "payload" not in got[2]


def test_pagerduty_dedups_other_notices_by_their_idempotency_key(receiver: Receiver) -> None:
    sink("pagerduty", receiver, ROUTING_KEY).deliver(gate_message())
    [event] = [r.json for r in receiver.accepted()]
    assert (event["event_action"], event["dedup_key"], event["payload"]["severity"]) == (
        "trigger",
        "audit-gate-failed-1",
        "warning",
    )


@pytest.mark.parametrize(
    ("kind", "topic", "hears"),
    [
        pytest.param("pagerduty", Topic.AWAITING_APPROVAL, False, id="pagerduty-not-approvals"),
        pytest.param("pagerduty", Topic.APPLY_FAILED, True, id="pagerduty-problems"),
        pytest.param("slack", Topic.AWAITING_APPROVAL, True, id="slack-everything"),
    ],
)
def test_which_topics_a_sink_hears_by_default(kind: str, topic: Topic, hears: bool) -> None:
    assert SinkConfig("k", kind, "https://x", "s").hears(topic) is hears


def test_events_narrow_what_a_sink_hears() -> None:
    config = SinkConfig("k", "slack", "https://x", None, (Topic.APPLY_FAILED,))
    assert (config.hears(Topic.APPLY_FAILED), config.hears(Topic.DRIFT)) == (True, False)


def test_a_500_is_retried_with_backoff_then_delivered(receiver: Receiver) -> None:
    receiver.fail_first = 2
    sink("webhook", receiver, KEY).deliver(gate_message())
    assert receiver.attempts == 3
    assert len(receiver.accepted()) == 1


def test_retries_end_in_a_delivery_error_naming_the_sink_not_the_url(receiver: Receiver) -> None:
    receiver.fail_first = 100
    with pytest.raises(sinks.DeliveryError) as caught:
        sink("webhook", receiver, KEY).deliver(gate_message())
    assert str(caught.value) == "alerts.production.sinks[0] (webhook) failed after 4 attempts: HTTP 500"
    assert receiver.attempts == 4


def test_a_refusal_is_not_retried(receiver: Receiver) -> None:
    receiver.fail_first = 100
    receiver.status_when_failing = 403
    with pytest.raises(sinks.DeliveryError) as caught:
        sink("slack", receiver).deliver(gate_message())
    assert str(caught.value) == "alerts.production.sinks[0] (slack) refused the notice: HTTP 403"
    assert receiver.attempts == 1


def test_an_unreachable_receiver_never_shows_its_url_or_keys(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{refusing_port()}{SECRET_PATH}"
    made = [
        sinks.build(SinkConfig("alerts.production.sinks[0]", kind, url, secret), FAST)
        for kind, secret in (("webhook", KEY), ("pagerduty", ROUTING_KEY), ("slack", None))
    ]
    text = caplog.text
    for one in made:
        with pytest.raises(sinks.DeliveryError) as caught:
            one.deliver(gate_message())
        text += caplog.text + str(caught.value) + repr(one) + one.name
        assert str(caught.value).endswith("failed after 4 attempts: ConnectError")
    for secret in ("s3cr3tWebhookToken", KEY, ROUTING_KEY):
        assert secret not in text
