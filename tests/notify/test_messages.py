"""What each topic's notice says, and where its link goes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lamina.core.notices import Notice, Topic
from lamina.core.states import NoticeStatus
from lamina.notify import messages

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
REQUEST = {"kind": "promotion", "source": "staging", "revision": "0123456789abcdef", "emergency": False}


def notice(topic: Topic, subject: str, facts: dict[str, Any]) -> Notice:
    return Notice(1, "k", topic, "production", subject, "ann", facts, T0, NoticeStatus.PENDING, 0, T0)


@pytest.mark.parametrize(
    ("topic", "subject", "facts", "summary", "path"),
    [
        pytest.param(
            Topic.AWAITING_APPROVAL,
            "PR-3",
            REQUEST,
            "production: PR-3 awaits approval: promotion of 0123456789ab from staging",
            "/promotions#PR-3",
            id="awaiting-approval",
        ),
        pytest.param(
            Topic.GATE_FAILED,
            "PR-3",
            {**REQUEST, "emergency": True},
            "production: PR-3's gates failed: emergency promotion of 0123456789ab from staging",
            "/promotions#PR-3",
            id="gate-failed",
        ),
        pytest.param(
            Topic.APPROVED,
            "PR-3",
            REQUEST,
            "production: PR-3 is approved and may be applied",
            "/promotions#PR-3",
            id="approved",
        ),
        pytest.param(
            Topic.PROMOTED,
            "PR-3",
            REQUEST,
            "production: PR-3 promoted 0123456789ab",
            "/promotions#PR-3",
            id="promoted",
        ),
        pytest.param(
            Topic.VERIFIED,
            "PR-3",
            REQUEST,
            "production: PR-3 verified (0123456789ab)",
            "/promotions#PR-3",
            id="verified",
        ),
        pytest.param(
            Topic.VERIFICATION_FAILED,
            "PR-3",
            REQUEST,
            "production: PR-3 failed verification (0123456789ab); a rollback is requested",
            "/promotions#PR-3",
            id="verification-failed",
        ),
        pytest.param(
            Topic.APPLY_FAILED,
            "production/prod-us-1",
            {"cluster": "prod-us-1", "result": "unreachable", "detail": "connection refused"},
            "production/prod-us-1: apply unreachable: connection refused",
            "/targets/production/prod-us-1",
            id="apply-failed",
        ),
        pytest.param(
            Topic.ROLLOUT_PAUSED,
            "rollout 4",
            {"reason": "no data from prometheus"},
            "production: rollout 4 paused: no data from prometheus",
            "/rollouts/4",
            id="rollout-paused",
        ),
        pytest.param(
            Topic.ROLLOUT_FAILED,
            "rollout 4",
            {},
            "production: rollout 4 failed",
            "/rollouts/4",
            id="rollout-failed",
        ),
        pytest.param(
            Topic.DRIFT,
            "prod-us-1",
            {
                "status": "firing",
                "condition": "unreachable",
                "summary": "production: 1 cluster unreachable (prod-us-1)",
                "clusters": [{"cluster": "prod-us-1", "detail": "timed out", "fields": []}],
            },
            "production: 1 cluster unreachable (prod-us-1)",
            "/targets/production/prod-us-1",
            id="drift-one-cluster",
        ),
        pytest.param(
            Topic.VALIDATION_FAILED,
            "0123456789ab",
            {"revision": "0123456789abcdef", "branch": "main", "count": 1, "problems": ["x"]},
            "production: 1 validation problem in 0123456789ab on main",
            "/?env=production",
            id="validation-failed",
        ),
    ],
)
def test_wording_and_link(topic: Topic, subject: str, facts: dict[str, Any], summary: str, path: str) -> None:
    message = messages.word(notice(topic, subject, facts), "https://lamina.example.com/")
    assert message.summary == summary
    assert message.link == "https://lamina.example.com" + path
    assert messages.word(notice(topic, subject, facts), None).link is None


def test_every_topic_has_a_title_and_a_severity() -> None:
    for topic in Topic:
        message = messages.word(notice(topic, "PR-1", REQUEST), None)
        assert message.title.endswith(": production")
        assert message.severity in ("info", "warning", "error")


def test_a_validation_notice_lists_its_problems_and_counts_the_rest() -> None:
    facts = {
        "revision": "0123456789abcdef",
        "count": 3,
        "problems": [
            "overlays/production/agent-patch.toml:2: production/prod-us-1: agent.max_tokens: -1 is less "
            "than the minimum of 1 (schema/agent.schema.json)",
            "overlays/production/agent-patch.toml:5: overlays/production: agent.api_key: a literal "
            "that looks like a credential",
        ],
    }
    message = messages.word(notice(Topic.VALIDATION_FAILED, "0123456789ab", facts), None)
    assert message.title == "Validation problems: production"
    assert message.severity == "warning"
    assert message.summary == "production: 3 validation problems in 0123456789ab"
    assert message.lines == (*facts["problems"], "and 1 more", "by ann")
