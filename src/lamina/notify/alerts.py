"""The alert state machine: pure, clock-injected, one decision per drift check.

Each cluster is in one :class:`Condition`. A new condition must hold for the hold time
(``[alerts] for``, like a Prometheus alert's ``for``) before anyone hears of it; a flap back
before then is forgotten. Only changes are told: a problem starting (``firing``) and a
problem ending (``resolved``); the same condition is never told twice. Clusters that change
the same way in one check become one :class:`Notice` per environment, not one per cluster.

A cluster seen for the first time in good health is recorded quietly (there was no
problem to resolve); seen first in trouble, it fires once the hold time has passed.

The caller keeps the :class:`ClusterState` values (the server keeps them in the database, so
they survive restarts and are shared by replicas) and hands them back on the next check.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any


class Condition(enum.Enum):
    """What an alert says about a cluster."""

    OK = "ok"
    """In sync with git, or running lamina's own earlier render (waiting for an apply)."""
    DRIFTED = "drifted"
    """What runs was changed outside lamina."""
    MISSING = "missing"
    """Nothing of the target runs on the cluster."""
    UNREACHABLE = "unreachable"
    """The cluster could not be asked."""

    @property
    def problem(self) -> bool:
        """True for every condition but OK."""
        return self is not Condition.OK


@dataclass(frozen=True)
class Observation:
    """One cluster as one drift check saw it (field paths only, never config values)."""

    environment: str
    cluster: str
    condition: Condition
    detail: str = ""
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterState:
    """What the alerts know about one cluster between checks.

    Attributes:
        notified: the condition last told (or quietly recorded), None before the first.
        pending: a different condition seen since ``pending_since``, waiting for the hold time.
    """

    cluster: str
    environment: str
    notified: Condition | None = None
    pending: Condition | None = None
    pending_since: datetime | None = None


class NoticeKind(enum.Enum):
    """Whether a notice opens or closes a problem."""

    FIRING = "firing"
    """A problem started and held for the hold time."""
    RESOLVED = "resolved"
    """A problem that was told has ended."""


@dataclass(frozen=True)
class ClusterNote:
    """One cluster inside a notice."""

    cluster: str
    detail: str = ""
    fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """``{"cluster", "detail", "fields"}``."""
        return {"cluster": self.cluster, "detail": self.detail, "fields": list(self.fields)}


_PHRASES = {
    (Condition.DRIFTED, NoticeKind.FIRING): "drifted from git",
    (Condition.DRIFTED, NoticeKind.RESOLVED): "back in sync with git",
    (Condition.MISSING, NoticeKind.FIRING): "missing its config",
    (Condition.MISSING, NoticeKind.RESOLVED): "running its config again",
    (Condition.UNREACHABLE, NoticeKind.FIRING): "unreachable",
    (Condition.UNREACHABLE, NoticeKind.RESOLVED): "reachable again",
}


@dataclass(frozen=True)
class Notice:
    """One message: a condition starting or ending on one or more clusters of an environment."""

    environment: str
    condition: Condition
    kind: NoticeKind
    clusters: tuple[ClusterNote, ...]
    at: datetime

    @property
    def summary(self) -> str:
        """One line: ``production: 2 clusters drifted from git (prod-us-1, prod-us-2)``."""
        count = len(self.clusters)
        noun = "cluster" if count == 1 else "clusters"
        names = ", ".join(c.cluster for c in self.clusters)
        prefix = "resolved: " if self.kind is NoticeKind.RESOLVED else ""
        phrase = _PHRASES[(self.condition, self.kind)]
        return f"{self.environment}: {prefix}{count} {noun} {phrase} ({names})"

    def to_json(self) -> dict[str, Any]:
        """The generic webhook's body."""
        return {
            "version": 1,
            "status": self.kind.value,
            "environment": self.environment,
            "condition": self.condition.value,
            "summary": self.summary,
            "clusters": [c.to_json() for c in self.clusters],
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one check: the states that changed, and what to tell."""

    states: dict[str, ClusterState] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)


def evaluate(
    states: Mapping[str, ClusterState],
    observations: Sequence[Observation],
    now: datetime,
    hold: timedelta,
) -> Evaluation:
    """Feed one check's observations to the machine.

    Args:
        states: the known state of each cluster (by cluster name); clusters not observed
            this time (suspended, removed) are left as they are.
        now: the time of the check (the clock is the caller's).
        hold: how long a new condition must hold before it is told.

    Returns:
        The changed states (by cluster) and the notices, grouped by environment, condition
        and kind, in a stable order.
    """
    changed: dict[str, ClusterState] = {}
    groups: dict[tuple[str, Condition, NoticeKind], list[ClusterNote]] = {}
    for seen in observations:
        before = states.get(seen.cluster, ClusterState(seen.cluster, seen.environment))
        after = _step(before, seen, now, hold)
        if after != before:
            changed[seen.cluster] = after
        if after.notified == before.notified:
            continue
        if before.notified is not None and before.notified.problem:
            key = (seen.environment, before.notified, NoticeKind.RESOLVED)
            groups.setdefault(key, []).append(ClusterNote(seen.cluster))
        if after.notified is not None and after.notified.problem:
            key = (seen.environment, after.notified, NoticeKind.FIRING)
            groups.setdefault(key, []).append(ClusterNote(seen.cluster, seen.detail, seen.fields))
    notices = [
        Notice(env, condition, kind, tuple(sorted(notes, key=lambda n: n.cluster)), now)
        for (env, condition, kind), notes in groups.items()
    ]
    notices.sort(key=lambda n: (n.environment, n.kind is NoticeKind.FIRING, n.condition.value))
    return Evaluation(changed, notices)


def _step(state: ClusterState, seen: Observation, now: datetime, hold: timedelta) -> ClusterState:
    state = replace(state, environment=seen.environment)
    if seen.condition == state.notified:
        return replace(state, pending=None, pending_since=None)
    if state.notified is None and not seen.condition.problem:
        return replace(state, notified=seen.condition, pending=None, pending_since=None)
    if state.pending != seen.condition or state.pending_since is None:
        state = replace(state, pending=seen.condition, pending_since=now)
    assert state.pending_since is not None
    if now - state.pending_since >= hold:
        return replace(state, notified=seen.condition, pending=None, pending_since=None)
    return state
