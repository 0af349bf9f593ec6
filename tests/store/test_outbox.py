"""The outbox: notices written with their events, one per key, claimed by one sender at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lamina.core.notices import Draft, Outcome, Topic
from lamina.core.states import NoticeStatus
from lamina.store import audit, outbox
from lamina.store.database import Database
from lamina.store.outbox_models import OutboxNotice

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
GATES = [{"name": "command:smoke", "status": "failed", "detail": "exit 1"}]


def append(db: Database, action: str, detail: dict[str, Any], subject: str = "PR-1") -> None:
    db.run(
        lambda s: audit.append(
            s, actor="ann", action=action, at=T0, environment="production", subject=subject, detail=detail
        )
    )


@pytest.mark.parametrize(
    ("action", "detail", "topic"),
    [
        pytest.param(
            "promotion.gates-passed", {"gates": []}, Topic.AWAITING_APPROVAL, id="awaiting-approval"
        ),
        pytest.param("emergency.gates-failed", {"gates": GATES}, Topic.GATE_FAILED, id="gate-failed"),
        pytest.param("rollback.approved", {}, Topic.APPROVED, id="approved"),
        pytest.param("change.promoted", {}, Topic.PROMOTED, id="promoted"),
        pytest.param(
            "promotion.verification-failed", {}, Topic.VERIFICATION_FAILED, id="verification-failed"
        ),
        pytest.param(
            "apply", {"cluster": "c1", "result": "unreachable"}, Topic.APPLY_FAILED, id="apply-failed"
        ),
        pytest.param("rollout.paused", {"reason": "no data"}, Topic.ROLLOUT_PAUSED, id="rollout-paused"),
        pytest.param("rollout.failed", {"reason": "error rate"}, Topic.ROLLOUT_FAILED, id="rollout-failed"),
        pytest.param("apply", {"cluster": "c1", "result": "applied"}, None, id="apply-ok-is-quiet"),
        pytest.param("promotion.request", {}, None, id="request-is-quiet"),
        pytest.param("freeze", {}, None, id="freeze-is-quiet"),
    ],
)
def test_an_audited_event_writes_its_notice_with_it(
    database_url: str, action: str, detail: dict[str, Any], topic: Topic | None
) -> None:
    db = Database(database_url)
    append(db, action, {**detail, "config_hashes": {"a": "b"}, "identity": {"sub": "x"}})
    found = outbox.notices_in(db)
    assert [n.topic for n in found] == ([topic] if topic else [])
    if topic:
        [notice] = found
        assert notice.key.startswith("audit-") and len(notice.key) == 70
        assert (notice.environment, notice.subject, notice.actor) == ("production", "PR-1", "ann")
        assert notice.facts == {**detail, "action": action}  # no hashes, no identity
        assert (notice.status, notice.attempts, notice.delivered) == (NoticeStatus.PENDING, 0, ())


def test_an_event_that_rolls_back_leaves_no_notice(database_url: str) -> None:
    db = Database(database_url)

    def fail(session: Any) -> None:
        audit.append(session, actor="ann", action="rollout.failed", at=T0, environment="production")
        raise RuntimeError("the event's own write failed")

    with pytest.raises(RuntimeError):
        db.run(fail)
    assert outbox.notices_in(db) == []
    assert db.read(audit.verify).rows == 0


def test_one_notice_per_key(database_url: str) -> None:
    db = Database(database_url)
    draft = Draft("backfill-overdue/PR-3", Topic.BACKFILL_OVERDUE, "production", "PR-3")
    assert db.run(lambda s: outbox.add(s, draft, T0)) is True
    assert db.run(lambda s: outbox.add(s, draft, T0 + timedelta(hours=1))) is False
    assert [n.key for n in outbox.notices_in(db)] == ["backfill-overdue/PR-3"]


def fill(db: Database, count: int) -> None:
    for index in range(count):
        draft = Draft(f"k{index}", Topic.DRIFT, "production", facts={"summary": f"s{index}"})
        db.run(lambda s, d=draft: outbox.add(s, d, T0))


def test_a_claim_holds_until_it_runs_out(database_url: str) -> None:
    db = Database(database_url)
    fill(db, 5)
    until = T0 + timedelta(minutes=5)
    first = outbox.claim(db, "a", T0, until, limit=3)
    second = outbox.claim(db, "b", T0, until, limit=10)
    assert [n.key for n in first] == ["k0", "k1", "k2"]
    assert [n.key for n in second] == ["k3", "k4"]
    assert outbox.claim(db, "c", T0 + timedelta(minutes=1), until, limit=10) == []
    later = until + timedelta(seconds=1)  # "a" died: its claims ran out
    assert [n.key for n in outbox.claim(db, "c", later, later + timedelta(minutes=5), 2)] == ["k0", "k1"]


def test_settle_records_sent_retry_and_failed(database_url: str) -> None:
    db = Database(database_url)
    fill(db, 3)
    ids = [n.id for n in outbox.claim(db, "a", T0, T0 + timedelta(minutes=5), 10)]
    retry_at = T0 + timedelta(seconds=30)
    outcomes = [
        Outcome(ids[0], ("alerts.production.sinks[0]",), done=True),
        Outcome(ids[1], ("alerts.production.sinks[0]",), done=False, retry_at=retry_at, error="HTTP 500"),
        Outcome(ids[2], (), done=False, give_up=True, error="x" * 400),
    ]
    assert outbox.settle(db, "someone-else", outcomes, T0) == 0  # not their claims
    assert outbox.settle(db, "a", outcomes, T0) == 3
    by_key = {n.key: n for n in outbox.notices_in(db)}
    assert (by_key["k0"].status, by_key["k0"].sent_at, by_key["k0"].attempts) == (NoticeStatus.SENT, T0, 1)
    retried = by_key["k1"]
    assert (retried.status, retried.next_attempt_at, retried.last_error) == (
        NoticeStatus.PENDING,
        retry_at,
        "HTTP 500",
    )
    assert retried.delivered == ("alerts.production.sinks[0]",)
    assert by_key["k2"].status is NoticeStatus.FAILED and by_key["k2"].last_error == "x" * 255
    assert outbox.claim(db, "b", T0 + timedelta(seconds=29), T0 + timedelta(minutes=5), 10) == []
    [again] = outbox.claim(db, "b", retry_at, retry_at + timedelta(minutes=5), 10)
    assert again.key == "k1" and again.attempts == 1
    counts = outbox.counts(db)
    assert (counts[NoticeStatus.SENT], counts[NoticeStatus.PENDING], counts[NoticeStatus.FAILED]) == (1, 1, 1)


def test_release_gives_claims_back(database_url: str) -> None:
    db = Database(database_url)
    fill(db, 2)
    claimed = outbox.claim(db, "a", T0, T0 + timedelta(minutes=5), 10)
    outbox.release(db, "a", [n.id for n in claimed])
    assert len(outbox.claim(db, "b", T0, T0 + timedelta(minutes=5), 10)) == 2
    rows = db.read(lambda s: list(s.execute(select(OutboxNotice.claimed_by)).scalars()))
    assert rows == ["b", "b"]
