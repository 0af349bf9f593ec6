"""``guard.rules.authorize``: every rule, one table, on the example fleet as `lamina init` writes it
(production and production-eu protected) with a real SQLite state database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lamina.core.states import PromotionStatus, RequestKind
from lamina.errors import LaminaError, Refused, RuleRefused
from lamina.guard import rules
from lamina.guard.actors import Actor, Proof
from lamina.guard.vetting import Vetting
from lamina.resolve.repository import Repository
from lamina.store import promotions as store
from lamina.store.database import Database
from lamina.validate.diagnostics import Check, Diagnostic, Severity

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
A = rules.Action

CLI = Actor("ops")
VIEWER = Actor("vic", frozenset({"viewer"}), Proof.TOKEN)
NO_ROLE = Actor("nora", frozenset(), Proof.TOKEN)
EDITOR = Actor("eve", frozenset({"editor"}), Proof.TOKEN)
STAGING_APPROVER = Actor("sam", frozenset({"approver:staging"}), Proof.TOKEN)
ADMIN = Actor("ada", frozenset({"admin"}), Proof.TOKEN)

POLICY_PROBLEM = Diagnostic(
    Check.POLICY, Severity.ERROR, "staging/staging-us-1", "agent.temperature", None, "keep it calm"
)
BAD = Vetting(("staging/staging-us-1",), (POLICY_PROBLEM,), ())
WARNED = Vetting(
    ("staging/staging-us-1",), (Diagnostic(Check.POLICY, Severity.WARNING, None, None, None, "meh"),), ()
)


@dataclass(frozen=True)
class Case:
    actor: Actor
    intent: rules.Intent
    refused: type[LaminaError] | None = None
    message: str = ""
    overridden: tuple[str, ...] = ()
    frozen: tuple[str, ...] = field(default=())
    """Environments frozen (by hand, in the database) before asking."""


def ship(env: str = "staging", **kw: object) -> rules.Intent:
    cluster = {"staging": "staging-us-1", "production": "prod-us-1", "development": "local-dev"}[env]
    return rules.Intent(A.SHIP, (env,), hashes={f"{env}/{cluster}": "f" * 64}, **kw)  # type: ignore[arg-type]


FREEZE_MESSAGE = (
    "staging is frozen until 2026-12-03T16:00:00Z (release party; set by lead); "
    "only --emergency requests and --force go through"
)
UNCOVERED = (
    "production/prod-us-1: config ffffffffffff is not approved (no approved request covers it); "
    "run `lamina change request production` (or promote) and have it approved and applied"
)


def promotion(
    target: str = "staging", source: str = "development", emergency: bool = False
) -> store.PromotionRecord:
    """A promotion whose gates passed (awaiting approval)."""
    return store.PromotionRecord(
        7,
        RequestKind.PROMOTION,
        source,
        target,
        "c" * 40,
        PromotionStatus.TESTING,
        emergency,
        None,
        "eve",
        NOW,
        NOW,
        {},
        (),
        None,
        None,
        None,
    )


CASES = [
    pytest.param(Case(CLI, rules.Intent(A.READ)), id="the command line reads"),
    pytest.param(Case(VIEWER, rules.Intent(A.READ)), id="a viewer reads"),
    pytest.param(
        Case(NO_ROLE, rules.Intent(A.READ), RuleRefused, "this token has no role"),
        id="a token without a role",
    ),
    pytest.param(
        Case(
            VIEWER, rules.Intent(A.REQUEST, ("staging",)), RuleRefused, "this needs the editor or admin role"
        ),
        id="a viewer may not request",
    ),
    pytest.param(Case(EDITOR, rules.Intent(A.REQUEST, ("staging",))), id="an editor requests"),
    pytest.param(Case(EDITOR, rules.Intent(A.RUN_DRIFT)), id="an editor runs a drift check"),
    pytest.param(Case(EDITOR, ship("development")), id="an editor ships where nothing protects"),
    pytest.param(
        Case(
            EDITOR,
            rules.Intent(A.FREEZE, ("staging",)),
            RuleRefused,
            "freezing staging needs approver:staging or admin",
        ),
        id="an editor may not freeze",
    ),
    pytest.param(Case(STAGING_APPROVER, rules.Intent(A.FREEZE, ("staging",))), id="the approver freezes"),
    pytest.param(
        Case(
            STAGING_APPROVER,
            rules.Intent(A.APPLY_REQUEST, ("production",)),
            RuleRefused,
            "applying into production needs approver:production or admin",
        ),
        id="an approver of another environment may not apply",
    ),
    pytest.param(
        Case(
            CLI,
            rules.Intent(A.APPLY_REQUEST, ("production",)),
            RuleRefused,
            "production is protected: apply request needs a proven identity, not a typed name ('ops'); "
            "set LAMINA_SERVER and LAMINA_TOKEN to act through the server, or sign with --sign-with KEY "
            "(an SSH key listed in [promotion] allowed_signers)",
        ),
        id="a typed name may not apply a request into a protected environment",
    ),
    pytest.param(Case(ADMIN, rules.Intent(A.APPLY_REQUEST, ("production",))), id="a token proves the name"),
    pytest.param(
        Case(EDITOR, ship(force="hotfix"), RuleRefused, "--force needs the admin role"),
        id="only admin forces on the server",
    ),
    pytest.param(
        Case(CLI, ship(), RuleRefused, FREEZE_MESSAGE, frozen=("staging",)), id="a freeze stops a shipment"
    ),
    pytest.param(
        Case(CLI, rules.Intent(A.REQUEST, ("staging",)), RuleRefused, FREEZE_MESSAGE, frozen=("staging",)),
        id="a freeze stops a request",
    ),
    pytest.param(
        Case(CLI, rules.Intent(A.REQUEST, ("staging",), emergency=True), frozen=("staging",)),
        id="an emergency request passes a freeze",
    ),
    pytest.param(
        Case(CLI, ship(force="the fix"), overridden=(FREEZE_MESSAGE,), frozen=("staging",)),
        id="force passes a freeze and says so",
    ),
    pytest.param(
        Case(CLI, rules.Intent(A.RUN_DRIFT), frozen=("staging",)), id="a freeze does not stop reading drift"
    ),
    pytest.param(
        Case(ADMIN, ship("production"), RuleRefused, UNCOVERED),
        id="protection: an uncovered hash does not ship",
    ),
    pytest.param(
        Case(ADMIN, ship("production", force="incident 42"), overridden=(UNCOVERED,)),
        id="force ships an uncovered hash and says so",
    ),
    pytest.param(
        Case(
            VIEWER,
            rules.Intent(A.PAUSE_ROLLOUT, ("staging",)),
            RuleRefused,
            "this needs the editor or admin role",
        ),
        id="a viewer may not pause a rollout",
    ),
    pytest.param(
        Case(
            STAGING_APPROVER,
            rules.Intent(A.RESUME_ROLLOUT, ("staging",)),
            RuleRefused,
            "this needs the editor or admin role",
        ),
        id="an approver without editor may not resume a rollout",
    ),
    pytest.param(
        Case(
            VIEWER,
            rules.Intent(A.ABORT_ROLLOUT, ("production",)),
            RuleRefused,
            "this needs the editor or admin role",
        ),
        id="a viewer may not abort a rollout",
    ),
    pytest.param(Case(EDITOR, rules.Intent(A.PAUSE_ROLLOUT, ("staging",))), id="an editor pauses a rollout"),
    pytest.param(
        Case(EDITOR, rules.Intent(A.RESUME_ROLLOUT, ("staging",))), id="an editor resumes a rollout"
    ),
    pytest.param(Case(ADMIN, rules.Intent(A.ABORT_ROLLOUT, ("staging",))), id="an admin aborts a rollout"),
    pytest.param(
        Case(CLI, rules.Intent(A.RESUME_ROLLOUT, ("production",))),
        id="a typed name resumes a rollout of a protected environment: its steps ship under the rules",
    ),
    pytest.param(
        Case(
            EDITOR,
            rules.Intent(A.RESUME_ROLLOUT, ("staging",)),
            RuleRefused,
            FREEZE_MESSAGE,
            frozen=("staging",),
        ),
        id="a freeze stops a rollout from resuming",
    ),
    pytest.param(
        Case(EDITOR, rules.Intent(A.PAUSE_ROLLOUT, ("staging",)), frozen=("staging",)),
        id="a freeze does not stop a pause",
    ),
    pytest.param(
        Case(CLI, rules.Intent(A.ABORT_ROLLOUT, ("staging",)), frozen=("staging",)),
        id="a freeze does not stop an abort",
    ),
    pytest.param(
        Case(
            EDITOR,
            rules.Intent(A.AUTO_APPROVE, ("staging",), request=promotion()),
            RuleRefused,
            "staging is not in [promotion] auto: PR-7 needs approval",
        ),
        id="no [promotion] auto: a person approves",
    ),
    pytest.param(
        Case(
            CLI,
            ship(vetting=BAD),
            Refused,
            "1 problem in 1 target(s) to ship:\n  staging/staging-us-1: agent.temperature: keep it calm\n"
            "(fix them, or ship anyway with --force --reason ...)",
        ),
        id="vetting refuses with the problems listed",
    ),
    pytest.param(Case(CLI, ship(vetting=WARNED)), id="warnings do not refuse"),
    pytest.param(
        Case(CLI, ship(vetting=BAD, force="known"), overridden=(str(POLICY_PROBLEM),)),
        id="force ships past vetting and lists what it overrode",
    ),
]


@pytest.fixture
def repo(guarded_example: Path) -> Iterator[Repository]:
    with Repository(guarded_example) as opened:
        yield opened


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.mark.parametrize("case", CASES)
def test_authorize(case: Case, repo: Repository, db: Database) -> None:
    for env in case.frozen:
        until = NOW + timedelta(hours=4)
        store.set_freeze(db, environment=env, until=until, reason="release party", actor="lead", at=NOW)
    ask = lambda: rules.authorize(case.actor, case.intent, fleet=repo.fleet, db=db, now=NOW, root=repo.root)  # noqa: E731
    if case.refused is None:
        permit = ask()
        assert permit.actor == case.actor
        assert permit.overridden == case.overridden
        assert rules.allowed(case.actor, case.intent, fleet=repo.fleet, db=db, now=NOW)
        return
    with pytest.raises(case.refused) as refused:
        ask()
    assert refused.value.message == case.message
    assert not rules.allowed(case.actor, case.intent, fleet=repo.fleet, db=db, now=NOW)


def test_a_rule_refusal_is_exit_2_and_403_and_vetting_exit_1() -> None:
    assert (RuleRefused("x").exit_code, RuleRefused("x").http_status) == (2, 403)
    assert Refused("x").exit_code == 1


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        pytest.param(
            promotion(),
            "development has not verified cccccccccccc (nothing verified it): PR-7 needs approval",
            id="the source has not verified the revision",
        ),
        pytest.param(
            promotion(emergency=True), "PR-7 is not a plain promotion: it needs approval", id="an emergency"
        ),
        pytest.param(
            promotion("production", "staging"),
            "production is not in [promotion] auto: PR-7 needs approval",
            id="an environment not listed",
        ),
    ],
)
def test_an_automatic_approval_needs_every_condition(
    guarded_example: Path, db: Database, request_: store.PromotionRecord, message: str
) -> None:
    path = guarded_example / "lamina.toml"
    path.write_text(path.read_text().replace("[promotion]\n", '[promotion]\nauto = ["staging"]\n', 1))
    with Repository(guarded_example) as repo:
        assert repo.fleet.settings.promotion.auto == ("staging",)
        intent = rules.Intent(A.AUTO_APPROVE, (request_.target,), request=request_)
        with pytest.raises(RuleRefused) as refused:
            rules.authorize(EDITOR, intent, fleet=repo.fleet, db=db, now=NOW)
    assert refused.value.message == message
