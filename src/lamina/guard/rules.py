"""``authorize``: the one function that says whether an action may happen.

The CLI, the API and the dashboard (which asks before it shows a button) all call it, so a
rule is written once. It decides, in this order:

1. **self-approval and approver lists**: nobody decides on their own request;
   ``[promotion.approvers] ENV = [...]`` limits who may decide on requests into ENV;
2. **roles** (server callers): reading needs any role; requesting, shipping, drift runs and
   pausing, resuming or aborting a rollout need ``editor``; deciding on, applying, freezing or
   unfreezing a request into ENV needs ``approver:ENV``; ``--force`` needs ``admin`` (``admin``
   may do everything);
3. **proven identity**: on a protected environment (``[promotion] protect``) a decision, an
   apply of a request and ``--force`` need a name a token or an SSH signature proves;
4. **freezes**: a frozen environment takes no request, apply of a request, shipment or resumed
   rollout, except an emergency request (and its apply) and ``--force``; pausing or aborting a
   rollout stops change and passes a freeze;
5. **protection**: a protected target ships only the config hash its newest applied request
   recorded (``--force`` overrides);
6. **vetting**: a shipment whose targets fail ``validate`` or ``secrets check`` is refused
   with exit 1 (``--force`` overrides);
7. **auto-promotion**: a promotion whose gates passed stands approved without a person only
   into an environment ``[promotion] auto`` lists (never a protected one), when it is no
   emergency and its source runs the same revision ``verified``.

Rules 1-5 refuse with :class:`~lamina.errors.RuleRefused` (exit 2, HTTP 403); vetting with
:class:`~lamina.errors.Refused` (exit 1). What ``--force`` overrode is returned, for the
audit record.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from lamina.core.states import PromotionStatus, RequestKind
from lamina.errors import InputError, Refused, RuleRefused
from lamina.fleet.model import Fleet
from lamina.guard import freezes, protection, signatures
from lamina.guard.actors import Actor
from lamina.guard.vetting import Vetting
from lamina.store import promotions as promotion_store
from lamina.store.database import Database
from lamina.store.promotions import PromotionRecord


class Action(enum.StrEnum):
    """What an actor wants to do."""

    READ = "read"
    """Read state: configs, requests, drift, audit."""
    REQUEST = "request"
    """Open a promotion, rollback or change request."""
    DECIDE = "decide"
    """Approve or reject a request."""
    APPLY_REQUEST = "apply-request"
    """Apply an approved request (commit its pin, or let its hashes ship)."""
    SHIP = "ship"
    """Write config to clusters: apply, heal, a rollout step."""
    RUN_DRIFT = "run-drift"
    """Check drift now."""
    FREEZE = "freeze"
    """Freeze or unfreeze an environment."""
    PAUSE_ROLLOUT = "pause-rollout"
    """Pause a running rollout (it stops change, so a freeze does not stop it)."""
    RESUME_ROLLOUT = "resume-rollout"
    """Let a paused rollout ship its next steps (a freeze stops it, as it stops a shipment)."""
    ABORT_ROLLOUT = "abort-rollout"
    """Abort a rollout: every cluster it moved goes back (it stops change: a freeze does not stop it)."""
    AUTO_APPROVE = "auto-approve"
    """Let a promotion whose gates passed stand approved without a person (``[promotion] auto``)."""


_EDITOR_ACTIONS = (
    Action.REQUEST,
    Action.SHIP,
    Action.RUN_DRIFT,
    Action.PAUSE_ROLLOUT,
    Action.RESUME_ROLLOUT,
    Action.ABORT_ROLLOUT,
)
_APPROVER_ACTIONS = (Action.DECIDE, Action.APPLY_REQUEST, Action.FREEZE)
_PROVEN_ACTIONS = (Action.DECIDE, Action.APPLY_REQUEST)
_FROZEN_ACTIONS = (Action.REQUEST, Action.APPLY_REQUEST, Action.SHIP, Action.RESUME_ROLLOUT)
"""What a freeze stops."""


@dataclass(frozen=True)
class Intent:
    """One action and everything the rules look at.

    Attributes:
        environments: the environments the action writes into (a request's target; the
            environments of the shipped targets).
        request: the request decided on or applied.
        approve: for a decision, approve (True) or reject (False).
        emergency: an emergency request (skips freezes).
        hashes: for a shipment, ``ENV/CLUSTER`` -> the config hash it would ship.
        vetting: for a shipment, what validation and the secrets check found.
        force: ``--force --reason``: the reason, or None.
    """

    action: Action
    environments: tuple[str, ...] = ()
    request: PromotionRecord | None = None
    approve: bool = True
    emergency: bool = False
    hashes: Mapping[str, str] = field(default_factory=dict)
    vetting: Vetting | None = None
    force: str | None = None


@dataclass(frozen=True)
class Permit:
    """The action may happen, by actor (proven by a signature if one was needed); with
    ``--force``, what the force overrode (for the audit record)."""

    actor: Actor
    overridden: tuple[str, ...] = ()


def allowed(actor: Actor, intent: Intent, *, fleet: Fleet | None, db: Database | None, now: datetime) -> bool:
    """True when authorize would let the action happen (for showing a button)."""
    try:
        authorize(replace(actor, signing_key=None), intent, fleet=fleet, db=db, now=now)
    except (RuleRefused, Refused):
        return False
    return True


def authorize(
    actor: Actor,
    intent: Intent,
    *,
    fleet: Fleet | None,
    db: Database | None,
    now: datetime,
    root: Path | None = None,
) -> Permit:
    """Return when actor may do intent (with what a force overrode); raise otherwise.

    Args:
        fleet: the fleet (protected environments, approver lists); None checks the roles alone.
        db: the state database (manual freezes, applied requests); None skips the rules that need it.
        root: the config repository (where ``[promotion] allowed_signers`` is read), for a
            name an SSH signature proves.

    Raises:
        RuleRefused: a role, identity, self-approval, approver-list, freeze or protection rule said no.
        Refused: the shipment's vetting found problems (and no force).
        InputError: ``--force`` without a reason.
    """
    if intent.action is Action.DECIDE and intent.request is not None:
        _decision(actor, intent, fleet)  # "you requested it" says more than "you lack the role"
    _roles(actor, intent)
    if fleet is None:
        if intent.action is Action.AUTO_APPROVE:
            raise RuleRefused("an automatic approval needs the fleet's [promotion] auto")
        return Permit(actor)
    if intent.action is Action.AUTO_APPROVE:
        _auto(intent, fleet, db)
        return Permit(actor)
    protected = [env for env in intent.environments if env in fleet.settings.promotion.protect]
    if protected and (intent.action in _PROVEN_ACTIONS or intent.force is not None) and not actor.proven:
        what = "--force" if intent.force is not None else intent.action.value.replace("-", " ")
        if actor.signing_key is not None:
            actor = _signed(actor, intent, fleet, root, what)
        else:
            raise RuleRefused(
                f"{', '.join(protected)} is protected: {what} needs a proven identity, not a typed name "
                f"({actor.name!r}); set LAMINA_SERVER and LAMINA_TOKEN to act through the server, or sign "
                "with --sign-with KEY (an SSH key listed in [promotion] allowed_signers)"
            )
    if intent.force is not None and not intent.force.strip():
        raise InputError("--force needs --reason: why this ships although lamina would refuse it")
    overridden: list[str] = []
    if intent.action in _FROZEN_ACTIONS and db is not None:
        emergency = intent.emergency or (intent.request is not None and intent.request.emergency)
        for env in intent.environments:
            frozen = freezes.active_freeze(fleet.settings.promotion.freezes, db, env, now)
            if frozen is None or emergency:
                continue
            if intent.force is None:
                raise RuleRefused(frozen.message())
            overridden.append(frozen.message())
    if intent.action is Action.SHIP:
        if db is not None:
            for item in protection.uncovered(fleet, db, intent.hashes):
                if intent.force is None:
                    raise RuleRefused(item.message())
                overridden.append(item.message())
        if intent.vetting is not None and not intent.vetting.ok:
            if intent.force is None:
                raise Refused(intent.vetting.refusal())
            overridden.extend(intent.vetting.problems())
    return Permit(actor, tuple(overridden))


def _signed(actor: Actor, intent: Intent, fleet: Fleet, root: Path | None, what: str) -> Actor:
    """actor, proven by signing exactly this decision and verifying it against allowed_signers."""
    allowed_signers = fleet.settings.promotion.allowed_signers
    if allowed_signers is None or root is None:
        raise RuleRefused(
            f"{what} on a protected environment signed with an SSH key needs [promotion] allowed_signers "
            "in lamina.toml (git's allowed-signers format: who may sign with which key)"
        )
    assert actor.signing_key is not None
    message = signatures.payload(intent.action.value, actor.name, _signed_subject(intent))
    signature = signatures.sign(actor.signing_key, message)
    signatures.verify(root / allowed_signers, actor.name, message, signature)
    return actor.signed(signature)


def _signed_subject(intent: Intent) -> dict[str, object]:
    subject: dict[str, object] = {"environments": list(intent.environments)}
    if intent.request is not None:
        subject["request"] = f"PR-{intent.request.id}"
        subject["config_hashes"] = dict(intent.request.config_hashes)
        subject["approve"] = intent.approve
    if intent.hashes:
        subject["config_hashes"] = dict(intent.hashes)
    if intent.force is not None:
        subject["force"] = intent.force
    return subject


def _roles(actor: Actor, intent: Intent) -> None:
    if actor.roles is None:
        return  # the command line: no roles apply there
    roles = actor.roles
    if "admin" in roles:
        return
    if intent.action is Action.READ and not roles:
        raise RuleRefused("this token has no role")
    if intent.force is not None:
        raise RuleRefused("--force needs the admin role")
    if intent.action in _EDITOR_ACTIONS and "editor" not in roles:
        raise RuleRefused("this needs the editor or admin role")
    if intent.action in _APPROVER_ACTIONS:
        for env in intent.environments:
            if f"approver:{env}" in roles:
                continue
            if intent.action is Action.DECIDE:
                role = f"approver:{env}"
                raise RuleRefused(
                    f"{actor.name} lacks the role {role} (or admin) to decide on promotions into {env}"
                )
            what = f"applying into {env}" if intent.action is Action.APPLY_REQUEST else f"freezing {env}"
            raise RuleRefused(f"{what} needs approver:{env} or admin")


def _decision(actor: Actor, intent: Intent, fleet: Fleet | None) -> None:
    request = intent.request
    assert request is not None
    name = f"PR-{request.id}"
    if actor.name == request.requested_by:
        raise RuleRefused(f"{actor.name} requested {name} and cannot decide on it; someone else must")
    allowed_people = fleet.settings.promotion.approvers.get(request.target) if fleet is not None else None
    if fleet is not None and allowed_people is not None and actor.name not in allowed_people:
        raise RuleRefused(
            f"{actor.name} may not decide on promotions into {request.target} "
            f"([promotion.approvers] {request.target} = {', '.join(allowed_people) or 'nobody'})",
            fleet.document.place(("promotion", "approvers", request.target)),
        )


def _auto(intent: Intent, fleet: Fleet, db: Database | None) -> None:
    """Return when ``[promotion] auto`` lets intent.request stand approved without a person."""
    record = intent.request
    if record is None or db is None:
        raise RuleRefused("an automatic approval needs the request and the state database")
    name = f"PR-{record.id}"
    conf = fleet.settings.promotion
    if record.target not in conf.auto:
        raise RuleRefused(f"{record.target} is not in [promotion] auto: {name} needs approval")
    if record.target in conf.protect:
        raise RuleRefused(f"{record.target} is protected: {name} needs approval")
    if record.emergency or record.kind is not RequestKind.PROMOTION or record.source is None:
        raise RuleRefused(f"{name} is not a plain promotion: it needs approval")
    landed = [
        other
        for other in promotion_store.list_requests(db, PromotionStatus.landed_statuses(), record.source)
        if other.revision == record.revision
    ]
    if not landed or landed[0].status is not PromotionStatus.VERIFIED:
        found = f"PR-{landed[0].id} is {landed[0].status.value}" if landed else "nothing verified it"
        raise RuleRefused(
            f"{record.source} has not verified {record.revision[:12]} ({found}): {name} needs approval"
        )


def environments_of(targets: Sequence[str]) -> tuple[str, ...]:
    """The environments of ``ENV/CLUSTER`` targets, in order, each once."""
    return tuple(dict.fromkeys(target.split("/", 1)[0] for target in targets))
