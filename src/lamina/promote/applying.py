"""``lamina promote apply`` (and ``change apply``): commit the new pin, then record the promotion.

A change request moves no pin: applying it records that its config hashes may ship into its
(protected) environment, once it is still what the environment's targets resolve to.

Order matters for crash safety: the git commit (lamina.lock alone, with a
``Lamina-Request: PR-<n>`` trailer) comes first, its push (with ``[git] push = true``,
:mod:`lamina.promote.publishing`) second, the database update last. Run again after
a crash between the two, apply finds the commit by its trailer and only completes the database
write. Concurrent applies of one request on one clone are serialised by a lock file in
``.lamina/``; the database's conditional update makes sure only one of them records it.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from lamina.core.states import GateOutcome, PromotionStatus, RequestKind
from lamina.errors import OutsideError, Refused, RuleRefused
from lamina.fleet import lockfile, promotion_settings
from lamina.guard import rules
from lamina.guard.actors import Actor
from lamina.promote import commits, gates, publishing, requests
from lamina.resolve.repository import Repository
from lamina.store import promotions as store
from lamina.store.database import Database
from lamina.store.promotions import PromotionRecord


@contextlib.contextmanager
def apply_lock(root: Path) -> Iterator[None]:
    """Hold the clone's apply lock (``.lamina/apply.lock``): one pin commit or branch move at a time."""
    folder = root / ".lamina"
    try:
        folder.mkdir(exist_ok=True)
        handle = open(folder / "apply.lock", "a+")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise OutsideError(f"cannot open {folder / 'apply.lock'}: {exc.strerror}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def apply(repo: Repository, db: Database, request_id: int, *, actor: Actor, now: datetime) -> PromotionRecord:
    """Commit the approved request's pin (a change request: none) and mark it promoted; safe to repeat.

    Returns:
        the request, promoted (also when it already was).

    Raises:
        Refused: the request is not approved, is stale, its soak is not over, the target is
            frozen, or lamina.lock has changes lamina did not make.
    """
    git = requests.require_git(repo)
    with apply_lock(repo.root):
        record = store.get_request(db, request_id)
        name = requests.format_id(request_id)
        if record.status.landed:
            if record.kind is not RequestKind.CHANGE:
                publishing.check_on_history(repo, git, name, record.commit)
            return record
        if record.status != PromotionStatus.APPROVED:
            raise RuleRefused(f"{name} is {record.status}; only an approved request can be applied")
        conf = repo.fleet.settings.promotion
        intent = rules.Intent(rules.Action.APPLY_REQUEST, (record.target,), request=record)
        actor = rules.authorize(actor, intent, fleet=repo.fleet, db=db, now=now, root=repo.root).actor
        commit: str | None
        if record.kind is RequestKind.CHANGE:
            _check_still_allowed(repo, db, record, conf, actor, now)
            commit = None
        else:
            publishing.require_branch(repo, git)
            commit = commits.find_request_commit(git, name)
            if commit is None:
                with publishing.ready_to_commit(repo, git) as current:
                    _check_still_allowed(current, db, record, conf, actor, now)
                    commit = _commit_pin(current, record, now)
            else:  # committed by an apply that stopped before recording (or pushing) it
                commits.index_follows(git)
            commit = publishing.publish(repo.fleet.settings.git, git, commit, record.target, name)
        values: dict[str, object] = {"commit": commit}
        if record.emergency:
            values["backfill_due"] = now + conf.backfill_deadline
        store.transition(
            db,
            request_id,
            from_statuses=(PromotionStatus.APPROVED,),
            to=PromotionStatus.PROMOTED,
            actor=actor.name,
            action=f"{requests.action_prefix(record)}.promoted",
            at=now,
            detail={
                "commit": commit,
                "revision": record.revision,
                "source": record.source,
                "approvers": list(record.approvers),
                "emergency": record.emergency,
                "reason": record.reason,
                "config_hashes": dict(record.config_hashes),
                "identity": actor.audit_detail(),
            },
            values=values,
        )
        return store.get_request(db, request_id)


def _check_still_allowed(
    repo: Repository,
    db: Database,
    record: PromotionRecord,
    conf: promotion_settings.PromotionSettings,
    actor: Actor,
    now: datetime,
) -> None:
    waiting = any(g.name == "soak" and g.status is GateOutcome.WAITING for g in record.gates)
    if waiting and conf.soak is not None and record.source is not None:
        soak = gates.soak_gate(db, record.source, record.revision, conf.soak, now)
        if soak.status is not GateOutcome.PASSED:
            until = f" (ready at {soak.ready_at.isoformat()})" if soak.ready_at else ""
            raise Refused(f"{requests.format_id(record.id)}: soak not over: {soak.detail}{until}")
    requests.refuse_if_stale(repo, db, record, actor, now)


def _commit_pin(repo: Repository, record: PromotionRecord, now: datetime) -> str:
    git = requests.require_git(repo)
    name = requests.format_id(record.id)
    head_lock = commits.lock_at(git, "HEAD")
    pins = lockfile.parse_pins(head_lock, repo.fleet.environments) if head_lock is not None else {}
    pins[record.target] = lockfile.Pin(
        record.target, record.revision, now.isoformat(timespec="seconds"), name
    )
    path = repo.root / lockfile.LOCK_FILE
    before = path.read_bytes() if path.is_file() else None
    if commits.lock_dirty(git):
        # only lamina's own half-finished write of this very request may be in the way
        on_disk = lockfile.parse_pins(before, None) if before is not None else {}
        if _essence(on_disk) != _essence(pins):
            raise RuleRefused(
                f"{lockfile.LOCK_FILE} has uncommitted changes; lamina writes it only by promotion "
                "(commit or revert them, then apply again)",
                lockfile.LOCK_FILE,
            )
    message = commits.commit_message(
        request=name,
        kind=record.kind,
        source=record.source,
        target=record.target,
        revision=record.revision,
        requester=record.requested_by,
        approvers=record.approvers,
        reason=record.reason,
        emergency=record.emergency,
    )
    lockfile.write_pins(repo.root, pins)
    try:
        return commits.commit_lock(git, message)
    except OutsideError:
        # git or a hook refused: put lamina.lock back as it was, so nothing is left half-done
        commits.restore_lock(git, before)
        raise


def _essence(pins: dict[str, lockfile.Pin]) -> dict[str, tuple[str, str | None]]:
    return {env: (pin.revision, pin.request) for env, pin in pins.items()}
