"""Opening a request: path, freeze, revision, exact hashes, plan, gates.

A promotion (or rollback) request records the revision of ``base/`` the target will run and
the config hash of every cluster target of the target environment *after the move*, computed
by resolving the committed repository (HEAD) with the target's pin set to that revision. A
change request records the HEAD commit and the hashes the target's clusters resolve to there,
so edits outside ``base/`` (overlays, cluster layers, lamina.toml) can reach a protected
environment. Approvals bind to those hashes: when they no longer match, the request is
``stale``. Every request keeps the plan of its move (keys, values, prompt diffs, flags), so
an approver sees what they approve.

Requests are shown as ``PR-<n>``; commands accept ``PR-<n>`` or ``<n>``.

Statuses (each change is one conditional update with its audit record):

- ``pending``: recorded, gates not yet run;
- ``testing``: gates passed (a soak may still be running); collecting approvals;
- ``approved``: enough approvals; ``apply`` may commit the pin;
- ``promoted``: the pin is committed;
- ``rejected`` (someone said no), ``failed`` (a gate failed), ``stale`` (the target's configs
  changed after the request).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lamina.clusters import secrets
from lamina.core import gates as gate_results
from lamina.core.states import PromotionStatus, RequestKind
from lamina.core.targets import TargetRef
from lamina.errors import InputError, RuleRefused
from lamina.fleet import lockfile, promotion_settings
from lamina.fleet.model import Fleet
from lamina.guard import protection, rules
from lamina.guard.actors import Actor
from lamina.promote import commits, gates, plans
from lamina.resolve.repository import Repository
from lamina.source.trees import GitRepo
from lamina.store import promotions as store
from lamina.store.database import Database
from lamina.store.promotions import PromotionRecord

Clock = Callable[[], datetime]


Status = PromotionStatus
"""Where a request stands (:class:`lamina.core.states.PromotionStatus`)."""


MAX_ID = 2**63 - 1  # what a database's BIGINT holds
# ASCII digits only (``\d`` would take other scripts' digits), at most 18 of them
_ID = re.compile(r"(?:PR-)?([0-9]{1,18})", re.IGNORECASE)


def format_id(request_id: int) -> str:
    """``PR-7``."""
    return f"PR-{request_id}"


def parse_id(text: str) -> int:
    """``PR-7`` or ``7`` -> 7.

    Raises:
        InputError: neither.
    """
    match = _ID.fullmatch(text.strip())
    if match is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise InputError(f"{shown!r} is not a request id (like PR-7 or 7)")
    return int(match.group(1))


def action_prefix(record: PromotionRecord) -> str:
    """The audit action family: ``emergency``, ``rollback`` or ``promotion``."""
    return "emergency" if record.emergency else record.kind.value


def require_git(repo: Repository) -> GitRepo:
    """The repository's git, refusing a plain folder or a repository without commits."""
    if repo.git is None or repo.head() is None:
        raise InputError(f"{repo.root}: promotion needs a git repository with at least one commit")
    return repo.git


def check_path(fleet: Fleet, source: str, target: str, emergency: bool) -> None:
    """The promotion path must be followed (target's upstream is source) unless emergency.

    Raises:
        Refused: the path is not followed.
    """
    upstream = fleet.environment(target).upstream
    if upstream != source and not emergency:
        if upstream is None:
            raise RuleRefused(f"{target} is not promoted from any environment (it has no upstream)")
        raise RuleRefused(
            f"{target} is promoted from {upstream}, not from {source} (use --emergency to skip the path)",
            fleet.document.path,
        )


def source_revision(repo: Repository, source: str) -> str:
    """The revision source runs: its pin, or the HEAD commit (never uncommitted changes)."""
    pin = repo.pins.get(source)
    if pin is not None:
        return pin.revision
    head = repo.head()
    assert head is not None
    return head


def moved_repository(repo: Repository, target: str, revision: str | None) -> Repository:
    """The committed repository (HEAD), with target's pin moved to revision (None: as committed).
    Close it after use."""
    head = require_git(repo).head()  # asked afresh: another process may have committed
    assert head is not None
    moved = Repository(repo.root, head)
    if revision is not None:
        moved.pins = {**moved.pins, target: lockfile.Pin(target, revision)}
    return moved


def _moved_pin(record: PromotionRecord) -> str | None:
    """The pin a request moves its target to (a change request moves none)."""
    return None if record.kind is RequestKind.CHANGE else record.revision


def target_hashes(moved: Repository, target: str) -> dict[str, str]:
    """The config hash of every cluster target of target (the environment itself if it has none)."""
    clusters = moved.fleet.clusters_of(target)
    if not clusters:
        return {target: moved.resolve(TargetRef(target)).config_hash}
    return {
        f"{target}/{cluster.name}": moved.resolve(TargetRef(target, cluster.name)).config_hash
        for cluster in clusters
    }


def current_hashes(repo: Repository, record: PromotionRecord) -> dict[str, str]:
    """What the request's hashes would be if it were made now."""
    with moved_repository(repo, record.target, _moved_pin(record)) as moved:
        return target_hashes(moved, record.target)


def refuse_if_stale(
    repo: Repository, db: Database, record: PromotionRecord, actor: Actor, now: datetime
) -> None:
    """Mark the request stale (audited) and refuse when the target's configs changed since it.

    Raises:
        Refused: the request is stale.
    """
    now_hashes = current_hashes(repo, record)
    if now_hashes == dict(record.config_hashes):
        return
    changed = sorted(
        key
        for key in {*now_hashes, *record.config_hashes}
        if now_hashes.get(key) != record.config_hashes.get(key)
    )
    store.transition(
        db,
        record.id,
        from_statuses=(PromotionStatus.PENDING, PromotionStatus.TESTING, PromotionStatus.APPROVED),
        to=PromotionStatus.STALE,
        actor=actor.name,
        action=f"{action_prefix(record)}.stale",
        at=now,
        detail={"changed": changed, "config_hashes": now_hashes, "identity": actor.audit_detail()},
    )
    raise RuleRefused(
        f"{format_id(record.id)} is stale: the resolved config of {', '.join(changed)} changed since "
        "it was requested; open a new request"
    )


def request(
    repo: Repository,
    db: Database,
    *,
    source: str,
    target: str,
    actor: Actor,
    now: Clock,
    reason: str | None = None,
    emergency: bool = False,
    runner: gates.CommandRunner = gates.run_command,
    lookups: secrets.Lookups | None = None,
) -> PromotionRecord:
    """Request moving target's pin to the revision source runs, and run the gates.

    Raises:
        Refused: wrong path, or target frozen (non-emergency).
        InputError: unknown environment, no git, or nothing to promote.
    """
    fleet = repo.fleet
    source = fleet.environment(source).name
    target = fleet.environment(target).name
    if source == target:
        raise InputError(f"cannot promote {target} to itself")
    require_git(repo)
    conf = fleet.settings.promotion
    check_path(fleet, source, target, emergency)
    _authorize(repo, db, actor, target, now(), emergency)
    revision = source_revision(repo, source)
    return _open(
        repo,
        db,
        kind=RequestKind.PROMOTION,
        source=source,
        target=target,
        revision=revision,
        actor=actor,
        now=now,
        reason=reason,
        emergency=emergency,
        conf=conf,
        runner=runner,
        lookups=lookups,
    )


def rollback(
    repo: Repository,
    db: Database,
    *,
    target: str,
    to: str,
    actor: Actor,
    now: Clock,
    reason: str | None = None,
    runner: gates.CommandRunner = gates.run_command,
    lookups: secrets.Lookups | None = None,
) -> PromotionRecord:
    """Request moving target's pin back to an older revision, with the same gates and approvals.

    Raises:
        InputError: the revision is unknown or not older than what target runs.
        Refused: target is frozen.
    """
    target = repo.fleet.environment(target).name
    git = require_git(repo)
    revision = git.resolve_revision(to)
    current = source_revision(repo, target)
    if revision == current:
        raise InputError(f"{target} already runs {revision[:12]}")
    if not commits.is_ancestor(git, revision, current):
        raise InputError(
            f"{to} ({revision[:12]}) is not older than what {target} runs ({current[:12]}); "
            "a rollback goes back along history"
        )
    conf = repo.fleet.settings.promotion
    _authorize(repo, db, actor, target, now(), False)
    _refuse_duplicate(db, RequestKind.ROLLBACK, target, revision)
    return _open(
        repo,
        db,
        kind=RequestKind.ROLLBACK,
        source=None,
        target=target,
        revision=revision,
        actor=actor,
        now=now,
        reason=reason,
        emergency=False,
        conf=conf,
        runner=runner,
        lookups=lookups,
    )


def change(
    repo: Repository,
    db: Database,
    *,
    target: str,
    actor: Actor,
    now: Clock,
    reason: str | None = None,
    runner: gates.CommandRunner = gates.run_command,
    lookups: secrets.Lookups | None = None,
) -> PromotionRecord:
    """Request that target's configs as committed at HEAD may ship (edits outside ``base/``).

    Raises:
        InputError: no git, or target's configs are already what its newest applied request covers.
        Refused: target is frozen, or an open change request already covers these configs.
    """
    target = repo.fleet.environment(target).name
    git = require_git(repo)
    head = git.head()
    assert head is not None
    _authorize(repo, db, actor, target, now(), False)
    with moved_repository(repo, target, None) as moved:
        hashes = target_hashes(moved, target)
    covered = {key: value[0] for key, value in protection.covered(db, [target]).items()}
    if covered and all(covered.get(key) == digest for key, digest in hashes.items()):
        raise InputError(f"nothing to request: {target}'s configs at {head[:12]} are what it already runs")
    for record in store.list_requests(db, statuses=_OPEN, target=target):
        if record.kind is RequestKind.CHANGE and dict(record.config_hashes) == hashes:
            raise RuleRefused(f"{format_id(record.id)} already requests these configs of {target}")
    return _open(
        repo,
        db,
        kind=RequestKind.CHANGE,
        source=None,
        target=target,
        revision=head,
        actor=actor,
        now=now,
        reason=reason,
        emergency=False,
        conf=repo.fleet.settings.promotion,
        runner=runner,
        lookups=lookups,
    )


_OPEN = (PromotionStatus.PENDING, PromotionStatus.TESTING, PromotionStatus.APPROVED)
AUTO_ACTOR = "[promotion] auto"
"""Who the audit log names for an approval no person gave."""


def _authorize(
    repo: Repository, db: Database, actor: Actor, target: str, now: datetime, emergency: bool
) -> None:
    intent = rules.Intent(rules.Action.REQUEST, (target,), emergency=emergency)
    rules.authorize(actor, intent, fleet=repo.fleet, db=db, now=now)


def _refuse_duplicate(db: Database, kind: RequestKind, target: str, revision: str) -> None:
    for record in store.list_requests(db, statuses=_OPEN, target=target):
        if record.kind is kind and record.revision == revision:
            raise RuleRefused(
                f"{format_id(record.id)} already requests a {kind.value} of {target} to {revision[:12]} "
                f"(it is {record.status.value})"
            )


def _open(
    repo: Repository,
    db: Database,
    *,
    kind: RequestKind,
    source: str | None,
    target: str,
    revision: str,
    actor: Actor,
    now: Clock,
    reason: str | None,
    emergency: bool,
    conf: promotion_settings.PromotionSettings,
    runner: gates.CommandRunner,
    lookups: secrets.Lookups | None = None,
) -> PromotionRecord:
    pin = repo.pins.get(target)
    if kind is RequestKind.PROMOTION and pin is not None and pin.revision == revision:
        raise InputError(f"{target} already runs {revision[:12]}; nothing to promote")
    # everything that can fail runs before anything is recorded, so a refusal leaves no request behind
    with moved_repository(repo, target, None if kind is RequestKind.CHANGE else revision) as moved:
        hashes = target_hashes(moved, target)
        head = moved.tree.revision
        plan = plans.request_plan(repo, db, moved, target, kind)
        results = [gates.validate_gate(moved, target), gates.secrets_gate(moved, target, lookups)]
    results += gates.check_gates(
        conf.checks,
        repo.root,
        source=source,
        target=target,
        revision=revision,
        timeout=conf.check_timeout,
        runner=runner,
        secret_variables=repo.fleet.settings.alerts.variables(),
    )
    if conf.soak is not None and source is not None:
        results.append(gates.soak_gate(db, source, revision, conf.soak, now()))
    family = "emergency" if emergency else kind.value
    detail: dict[str, Any] = {
        "kind": kind.value,
        "source": source,
        "target": target,
        "revision": revision,
        "from_revision": pin.revision if pin else None,
        "emergency": emergency,
        "reason": reason,
        "config_hashes": hashes,
        "identity": actor.audit_detail(),
    }
    record = store.create_request(
        db,
        kind=kind,
        source=source,
        target=target,
        revision=revision,
        emergency=emergency,
        reason=reason,
        requested_by=actor.name,
        at=now(),
        config_hashes=hashes,
        action=f"{family}.request",
        detail=detail,
        plan=plan,
        head=head,
    )
    to = PromotionStatus.TESTING if gate_results.all_passed(results) else PromotionStatus.FAILED
    store.transition(
        db,
        record.id,
        from_statuses=(PromotionStatus.PENDING,),
        to=to,
        actor=actor.name,
        action=f"{family}.gates-{'passed' if to is PromotionStatus.TESTING else 'failed'}",
        at=now(),
        detail={"gates": [{k: v for k, v in r.to_json().items() if k != "output"} for r in results]},
        gates=results,
    )
    opened = store.get_request(db, record.id)
    if to is PromotionStatus.TESTING and target in conf.auto:
        auto = rules.Intent(rules.Action.AUTO_APPROVE, (target,), request=opened)
        if rules.allowed(actor, auto, fleet=repo.fleet, db=db, now=now()):
            store.transition(
                db,
                record.id,
                from_statuses=(PromotionStatus.TESTING,),
                to=PromotionStatus.APPROVED,
                actor=AUTO_ACTOR,
                action=f"{family}.auto-approved",
                at=now(),
                detail={"rule": "[promotion] auto", "source": source, "revision": revision},
            )
            opened = store.get_request(db, record.id)
    return opened


def to_json(record: PromotionRecord, backfill: str | None = None) -> dict[str, Any]:
    """The SPEC ``promote show`` shape (plus kind, reason, times, commit and backfill)."""
    data: dict[str, Any] = {
        "id": format_id(record.id),
        "source": record.source,
        "target": record.target,
        "revision": record.revision,
        "status": record.status.value,
        "emergency": record.emergency,
        "requested_by": record.requested_by,
        "approvals": [
            {"actor": d.actor, "decision": d.decision.value, "at": d.at.isoformat(), "comment": d.comment}
            for d in record.decisions
        ],
        "config_hashes": dict(record.config_hashes),
        "gates": [g.to_json() for g in record.gates],
        "kind": record.kind.value,
        "reason": record.reason,
        "requested_at": record.requested_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "commit": record.commit,
        "plan": dict(record.plan) if record.plan is not None else None,
    }
    if record.emergency:
        data["backfill"] = backfill
        data["backfill_due"] = record.backfill_due.isoformat() if record.backfill_due else None
    return data
