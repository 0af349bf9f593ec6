"""Manual freezes: ``lamina freeze ENV --until T --reason R`` and ``lamina unfreeze ENV``.

Whether an environment is frozen (these and the recurring ``[[promotion.freeze]]`` windows) is
:mod:`lamina.guard.freezes`; what a freeze refuses is :func:`lamina.guard.rules.authorize`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lamina.errors import InputError
from lamina.fleet import durations
from lamina.guard import rules
from lamina.guard.actors import Actor
from lamina.resolve.repository import Repository
from lamina.store import promotions as store
from lamina.store.database import Database


def parse_until(text: str, now: datetime) -> datetime:
    """``--until``: an ISO 8601 time (UTC when it has no zone) or a duration from now (``4h``).

    Raises:
        InputError: neither.
    """
    try:
        return now + durations.parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--until {text!r} is neither an ISO time nor a duration like '4h'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now:
        raise InputError(f"--until {text!r} is in the past")
    return moment


def freeze(
    repo: Repository,
    db: Database,
    environment: str,
    *,
    until: datetime,
    reason: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Freeze environment until a moment, when the rules let actor (audited with who it was).

    Raises:
        InputError: no reason.
        RuleRefused: :func:`lamina.guard.rules.authorize` said no.
    """
    if not reason.strip():
        raise InputError("a freeze needs a --reason")
    permit = _authorize(repo, db, environment, actor, now)
    store.set_freeze(
        db,
        environment=environment,
        until=until,
        reason=reason,
        actor=permit.actor.name,
        at=now,
        identity=permit.actor.audit_detail(),
    )


def unfreeze(repo: Repository, db: Database, environment: str, *, actor: Actor, now: datetime) -> bool:
    """Lift environment's manual freeze when the rules let actor (audited); False when it had none."""
    permit = _authorize(repo, db, environment, actor, now)
    return store.clear_freeze(
        db, environment=environment, actor=permit.actor.name, at=now, identity=permit.actor.audit_detail()
    )


def _authorize(repo: Repository, db: Database, environment: str, actor: Actor, now: datetime) -> rules.Permit:
    intent = rules.Intent(rules.Action.FREEZE, environments=(environment,))
    return rules.authorize(actor, intent, fleet=repo.fleet, db=db, now=now, root=repo.root)
