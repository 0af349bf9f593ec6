"""What lamina tells people about, as types shared by the store (which writes notices with their
events) and ``notify`` (which says them).

A :class:`Draft` is one notice as it is written to the outbox, in the transaction of the event
it tells of: a topic, the environment it is routed by, an idempotency key, and the facts a sink
needs (names, revisions, statuses: never config values). Most events are audit records, and
:func:`topic_of` says which audit actions are worth a notice; the drift alerts and overdue
backfills are written by the server's scheduler, and the validation problems of a fetched
revision by the server's revision check (``server/validity.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from lamina.core.states import NoticeStatus


class Topic(enum.StrEnum):
    """What a notice is about."""

    AWAITING_APPROVAL = "awaiting-approval"
    """A request's gates passed: it waits for approvers."""
    GATE_FAILED = "gate-failed"
    """A request's gates failed or could not run."""
    APPROVED = "approved"
    """A request got the approvals it needs; it may be applied."""
    PROMOTED = "promoted"
    """A request was applied: its pin is committed."""
    VERIFIED = "verified"
    """A promotion's verification passed on its environment."""
    VERIFICATION_FAILED = "verification-failed"
    """A promotion's verification failed; a rollback request is open."""
    APPLY_FAILED = "apply-failed"
    """Shipping a target to a cluster failed or could not reach it."""
    ROLLOUT_PAUSED = "rollout-paused"
    """A rollout stopped until a person resumes or aborts it."""
    ROLLOUT_FAILED = "rollout-failed"
    """A rollout failed and sent its clusters back."""
    BACKFILL_OVERDUE = "backfill-overdue"
    """An emergency's skipped environments did not catch up by the deadline."""
    DRIFT = "drift"
    """Clusters drifted, went missing or unreachable, or came back (``status`` says which)."""
    VALIDATION_FAILED = "validation-failed"
    """A revision of the tracked branch has problems ``lamina validate`` reports."""

    @property
    def problem(self) -> bool:
        """True for what someone must act on (PagerDuty hears only these)."""
        return self in _PROBLEMS


_PROBLEMS = frozenset(
    {
        Topic.GATE_FAILED,
        Topic.VERIFICATION_FAILED,
        Topic.APPLY_FAILED,
        Topic.ROLLOUT_PAUSED,
        Topic.ROLLOUT_FAILED,
        Topic.BACKFILL_OVERDUE,
        Topic.DRIFT,
        Topic.VALIDATION_FAILED,
    }
)

_FAMILIES = ("promotion", "rollback", "change", "emergency")
_BY_SUFFIX = {
    "gates-passed": Topic.AWAITING_APPROVAL,
    "gates-failed": Topic.GATE_FAILED,
    "approved": Topic.APPROVED,
    "promoted": Topic.PROMOTED,
    "verified": Topic.VERIFIED,
    "verification-failed": Topic.VERIFICATION_FAILED,
}
_FAILED_APPLIES = ("failed", "unreachable")

FACT_KEYS = (
    "kind",
    "source",
    "target",
    "revision",
    "from_revision",
    "emergency",
    "gates",
    "cluster",
    "result",
    "detail",
    "reason",
    "approvals",
    "to",
)
"""The audit detail a notice keeps (never hashes of configs, identities or plans)."""


def topic_of(action: str, detail: Mapping[str, Any]) -> Topic | None:
    """The topic of an audit record, or None when it is not worth a notice."""
    family, _, suffix = action.partition(".")
    if family in _FAMILIES and suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if action == "apply" and detail.get("result") in _FAILED_APPLIES:
        return Topic.APPLY_FAILED
    if action == "rollout.paused":
        return Topic.ROLLOUT_PAUSED
    if action == "rollout.failed":
        return Topic.ROLLOUT_FAILED
    return None


class Draft(msgspec.Struct, frozen=True):
    """One notice to write to the outbox.

    Attributes:
        key: the idempotency key: the same event always has the same key, and the outbox keeps
            one notice per key (a receiver may drop a key it saw).
        environment: the environment whose ``[alerts.<env>]`` sinks hear it.
        subject: what it is about (``PR-12``, ``rollout 3``, ``production/prod-us-1``).
        actor: who caused it.
        facts: what sinks say (names, revisions, statuses; JSON).
    """

    key: str
    topic: Topic
    environment: str | None
    subject: str | None = None
    actor: str | None = None
    facts: Mapping[str, Any] = msgspec.field(default_factory=dict)


class Notice(msgspec.Struct, frozen=True):
    """One notice as the outbox keeps it."""

    id: int
    key: str
    topic: Topic
    environment: str | None
    subject: str | None
    actor: str | None
    facts: Mapping[str, Any]
    created_at: datetime
    status: NoticeStatus
    attempts: int
    next_attempt_at: datetime
    delivered: tuple[str, ...] = ()
    last_error: str | None = None
    sent_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The shape of ``lamina notices --json``."""
        return {
            "id": self.id,
            "key": self.key,
            "topic": self.topic.value,
            "environment": self.environment,
            "subject": self.subject,
            "status": self.status.value,
            "attempts": self.attempts,
            "delivered": list(self.delivered),
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


class Outcome(msgspec.Struct, frozen=True):
    """What one delivery attempt of a claimed notice came to.

    Attributes:
        delivered: every sink that has taken the notice so far (by its configured key).
        done: True when every sink took it; otherwise it is tried again at ``retry_at``.
        retry_at: when to try again (ignored when done).
        give_up: with not done: mark it ``failed`` instead of trying again.
        error: why the attempt failed (a sink's name and an HTTP status: never a URL).
    """

    id: int
    delivered: tuple[str, ...]
    done: bool
    retry_at: datetime | None = None
    give_up: bool = False
    error: str | None = None
