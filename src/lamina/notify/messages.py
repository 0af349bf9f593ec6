"""What a notice says: one :class:`Message` per outbox notice, which every sink lays out its way.

The text is made from the notice's facts (names, revisions, statuses, gate names: never
config values), with a link to the dashboard page about it when ``[server] public_url`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lamina.core.notices import Notice, Topic

SEVERITIES = {
    Topic.AWAITING_APPROVAL: "info",
    Topic.APPROVED: "info",
    Topic.PROMOTED: "info",
    Topic.VERIFIED: "info",
    Topic.GATE_FAILED: "warning",
    Topic.ROLLOUT_PAUSED: "warning",
    Topic.BACKFILL_OVERDUE: "warning",
    Topic.DRIFT: "warning",
    Topic.VALIDATION_FAILED: "warning",
    Topic.APPLY_FAILED: "error",
    Topic.ROLLOUT_FAILED: "error",
    Topic.VERIFICATION_FAILED: "error",
}
"""PagerDuty's severities (critical, error, warning, info), per topic."""

_TITLES = {
    Topic.AWAITING_APPROVAL: "Awaiting approval",
    Topic.GATE_FAILED: "Gates failed",
    Topic.APPROVED: "Approved",
    Topic.PROMOTED: "Promoted",
    Topic.VERIFIED: "Verified",
    Topic.VERIFICATION_FAILED: "Verification failed",
    Topic.APPLY_FAILED: "Apply failed",
    Topic.ROLLOUT_PAUSED: "Rollout paused",
    Topic.ROLLOUT_FAILED: "Rollout failed",
    Topic.BACKFILL_OVERDUE: "Backfill overdue",
    Topic.DRIFT: "Drift alert",
    Topic.VALIDATION_FAILED: "Validation problems",
}


@dataclass(frozen=True)
class Message:
    """One notice, worded.

    Attributes:
        key: the notice's idempotency key (sent as ``Idempotency-Key``).
        title: a short heading (``Gates failed: production``).
        summary: one line saying it all.
        lines: details, one per line (clusters, gates), may be empty.
        link: the dashboard page about it, or None without ``[server] public_url``.
        resolved: True when the notice ends a problem (a drift resolved).
        clusters: the clusters a drift notice is about (PagerDuty opens one incident each).
    """

    key: str
    topic: Topic
    environment: str | None
    subject: str | None
    title: str
    summary: str
    lines: tuple[str, ...]
    link: str | None
    at: datetime
    facts: Mapping[str, Any]
    resolved: bool = False
    clusters: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        """``info``, ``warning`` or ``error`` (PagerDuty's words)."""
        return "info" if self.resolved else SEVERITIES[self.topic]

    def to_json(self) -> dict[str, Any]:
        """The generic webhook's body."""
        return {
            "version": 2,
            "key": self.key,
            "topic": self.topic.value,
            "status": "resolved" if self.resolved else ("firing" if self.topic.problem else "info"),
            "environment": self.environment,
            "subject": self.subject,
            "summary": self.summary,
            "link": self.link,
            "at": self.at.isoformat(),
            "facts": dict(self.facts),
        }


def word(notice: Notice, public_url: str | None) -> Message:
    """The message of a stored notice."""
    facts = notice.facts
    env = notice.environment or "-"
    subject = notice.subject or ""
    lines: list[str] = []
    resolved = False
    clusters: tuple[str, ...] = ()
    revision = _short(facts.get("revision"))
    topic = notice.topic
    if topic is Topic.DRIFT:
        summary = str(facts.get("summary", f"{env}: drift"))
        resolved = facts.get("status") == "resolved"
        notes = [n for n in facts.get("clusters", ()) if isinstance(n, Mapping)]
        clusters = tuple(str(n.get("cluster")) for n in notes)
        lines = [_cluster_line(n) for n in notes]
        path = f"/targets/{env}/{clusters[0]}" if len(clusters) == 1 else f"/?env={env}"
    elif topic is Topic.APPLY_FAILED:
        cluster = str(facts.get("cluster", ""))
        summary = f"{env}/{cluster}: apply {facts.get('result', 'failed')}"
        if facts.get("detail"):
            summary += f": {facts['detail']}"
        path = f"/targets/{env}/{cluster}"
    elif topic in (Topic.ROLLOUT_PAUSED, Topic.ROLLOUT_FAILED):
        what = "paused" if topic is Topic.ROLLOUT_PAUSED else "failed"
        summary = f"{env}: {subject} {what}"
        if facts.get("reason"):
            summary += f": {facts['reason']}"
        number = re.search(r"\d+", subject)
        path = f"/rollouts/{number.group()}" if number else "/rollouts"
    elif topic is Topic.BACKFILL_OVERDUE:
        behind = ", ".join(str(e) for e in facts.get("behind", ()))
        summary = f"{env}: the backfill of emergency {subject} ({revision}) is overdue"
        if behind:
            summary += f"; still behind: {behind}"
        path = f"/promotions#{subject}"
    elif topic is Topic.VALIDATION_FAILED:
        count = int(facts.get("count") or 0)
        summary = f"{env}: {count} validation problem{'s' if count != 1 else ''} in {revision}"
        if facts.get("branch"):
            summary += f" on {facts['branch']}"
        problems = [str(p) for p in facts.get("problems", ())]
        lines = problems + ([f"and {count - len(problems)} more"] if count > len(problems) else [])
        path = f"/?env={env}"
    else:
        summary, lines = _request(topic, env, subject, facts, revision)
        path = f"/promotions#{subject}" if subject else "/promotions"
    if notice.actor and topic is not Topic.DRIFT:
        lines.append(f"by {notice.actor}")
    link = public_url.rstrip("/") + path if public_url else None
    return Message(
        key=notice.key,
        topic=topic,
        environment=notice.environment,
        subject=notice.subject,
        title=f"{'Resolved' if resolved else _TITLES[topic]}: {env}",
        summary=summary,
        lines=tuple(lines),
        link=link,
        at=notice.created_at,
        facts=facts,
        resolved=resolved,
        clusters=clusters,
    )


def _request(
    topic: Topic, env: str, subject: str, facts: Mapping[str, Any], revision: str
) -> tuple[str, list[str]]:
    kind = str(facts.get("kind") or "promotion")
    source = facts.get("source")
    what = f"{kind} of {revision}" + (f" from {source}" if source else "")
    if facts.get("emergency"):
        what = "emergency " + what
    phrases = {
        Topic.AWAITING_APPROVAL: f"{subject} awaits approval: {what}",
        Topic.GATE_FAILED: f"{subject}'s gates failed: {what}",
        Topic.APPROVED: f"{subject} is approved and may be applied",
        Topic.PROMOTED: f"{subject} promoted {revision}",
        Topic.VERIFIED: f"{subject} verified ({revision})",
        Topic.VERIFICATION_FAILED: f"{subject} failed verification ({revision}); a rollback is requested",
    }
    lines = []
    gates = facts.get("gates")
    if isinstance(gates, Sequence):
        for gate in gates:
            if isinstance(gate, Mapping) and gate.get("status") != "passed":
                line = f"{gate.get('name')}: {gate.get('status')}"
                if gate.get("detail"):
                    line += f" ({gate['detail']})"
                lines.append(line)
    return f"{env}: {phrases[topic]}", lines


def _cluster_line(note: Mapping[str, Any]) -> str:
    line = str(note.get("cluster"))
    if note.get("detail"):
        line += f": {note['detail']}"
    fields = [str(f) for f in note.get("fields", ())]
    if fields:
        more = f" and {len(fields) - 10} more" if len(fields) > 10 else ""
        line += f" ({', '.join(fields[:10])}{more})"
    return line


def _short(revision: object) -> str:
    return str(revision)[:12] if revision else "-"
