"""Every status transition and every refusal of a promotion, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import commit_all, git
from lamina.errors import InputError, Refused, RuleRefused
from lamina.fleet import lockfile, promotion_settings
from lamina.fleet.promotion_settings import FreezeWindow
from lamina.guard import cron, rules
from lamina.guard.actors import Actor, Proof
from lamina.promote import applying, approvals, backfill, freezes, requests
from lamina.promote.gates import CommandOutcome
from lamina.source.trees import WorkingTree
from lamina.store import audit
from lamina.store import promotions as store
from lamina.store.database import Database
from promote.conftest import Clock, add_to_fleet, open_repo


def request(
    root: Path, db: Database, clock: Clock, source: str, target: str, **kw: object
) -> store.PromotionRecord:
    with open_repo(root) as repo:
        return requests.request(
            repo,
            db,
            source=source,
            target=target,
            actor=Actor(str(kw.pop("actor", "alice"))),
            now=clock,
            **kw,
        )  # type: ignore[arg-type]


def decide(
    root: Path, db: Database, clock: Clock, rid: int, actor: str, approve: bool = True
) -> store.PromotionRecord:
    with open_repo(root) as repo:
        return approvals.decide(repo, db, rid, actor=Actor(actor), approve=approve, now=clock())


def apply(root: Path, db: Database, clock: Clock, rid: int, actor: str = "ops") -> store.PromotionRecord:
    with open_repo(root) as repo:
        return applying.apply(repo, db, rid, actor=Actor(actor), now=clock())


def commits_with_trailer(root: Path, rid: int) -> list[str]:
    out = git(root, "log", "--format=%H", "--fixed-strings", f"--grep=Lamina-Request: PR-{rid}")
    return [line for line in out.splitlines() if line]


def audit_actions(db: Database) -> list[str]:
    return db.read(lambda s: [r.action for r in reversed(audit.newest(s, 1000))])


def test_request_approve_apply_moves_the_pin(fleet: Path, db: Database, clock: Clock) -> None:
    head = git(fleet, "rev-parse", "HEAD")
    record = request(fleet, db, clock, "development", "staging", reason="new prompt")
    assert record.status == "testing"
    assert record.revision == head
    assert set(record.config_hashes) == {"staging/staging-us-1"}
    assert [g.name for g in record.gates] == ["validate", "secrets"]

    record = decide(fleet, db, clock, record.id, "bob")
    assert record.status == "approved"
    assert record.approvers == ("bob",)

    record = apply(fleet, db, clock, record.id)
    assert record.status == "promoted"
    assert record.commit == git(fleet, "rev-parse", "HEAD")
    message = git(fleet, "log", "-1", "--format=%B")
    assert "promote staging to" in message and "new prompt" in message
    assert "Lamina-Requested-By: alice" in message and "Lamina-Approved-By: bob" in message
    assert message.rstrip().endswith(f"Lamina-Request: PR-{record.id}")
    assert git(fleet, "show", "--name-only", "--format=", "HEAD") == "lamina.lock"
    pins = lockfile.read_pins(WorkingTree(fleet), {"staging": 1})
    assert pins["staging"].revision == head and pins["staging"].request == f"PR-{record.id}"
    assert audit_actions(db) == [
        "promotion.request",
        "promotion.gates-passed",
        "promotion.approve",
        "promotion.approved",
        "promotion.promoted",
    ]
    assert db.read(audit.verify).ok

    again = apply(fleet, db, clock, record.id)  # repeating is harmless
    assert again.status == "promoted" and len(commits_with_trailer(fleet, record.id)) == 1


def test_reject(fleet: Path, db: Database, clock: Clock) -> None:
    record = request(fleet, db, clock, "development", "staging")
    record = decide(fleet, db, clock, record.id, "bob", approve=False)
    assert record.status == "rejected"
    with pytest.raises(Refused, match="only an approved request can be applied"):
        apply(fleet, db, clock, record.id)


def test_self_approval_is_refused(fleet: Path, db: Database, clock: Clock) -> None:
    record = request(fleet, db, clock, "development", "staging")
    with pytest.raises(Refused, match="alice requested PR-1 and cannot decide on it"):
        decide(fleet, db, clock, record.id, "alice")
    assert store.get_request(db, record.id).status == "testing"


def test_second_decision_by_the_same_person_is_refused(fleet: Path, db: Database, clock: Clock) -> None:
    add_to_fleet(fleet, "[promotion]\nrequired_approvals = { staging = 2 }\n")
    record = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, record.id, "bob")
    with pytest.raises(Refused, match="bob already decided on PR-1"):
        decide(fleet, db, clock, record.id, "bob")
    record = decide(fleet, db, clock, record.id, "carol")
    assert record.status == "approved" and record.approvers == ("bob", "carol")


def test_wrong_path_is_refused(fleet: Path, db: Database, clock: Clock) -> None:
    with pytest.raises(Refused, match="production is promoted from staging, not from development"):
        request(fleet, db, clock, "development", "production")
    assert store.list_requests(db) == []


def test_unknown_approver_is_refused(fleet: Path, db: Database, clock: Clock) -> None:
    add_to_fleet(fleet, '[promotion.approvers]\nstaging = ["carol"]\n')
    record = request(fleet, db, clock, "development", "staging")
    with pytest.raises(
        Refused, match=r"bob may not decide on promotions into staging \(\[promotion.approvers\]"
    ):
        decide(fleet, db, clock, record.id, "bob")
    assert decide(fleet, db, clock, record.id, "carol").status == "approved"


def test_server_roles_are_checked(fleet: Path, db: Database, clock: Clock) -> None:
    record = request(fleet, db, clock, "development", "staging")
    with open_repo(fleet) as repo:
        intent = rules.Intent(rules.Action.DECIDE, ("staging",), request=record)
        viewer = Actor("bob", frozenset({"viewer", "approver:production"}), Proof.TOKEN)
        with pytest.raises(
            Refused,
            match=r"bob lacks the role approver:staging \(or admin\) to decide on promotions into staging",
        ):
            rules.authorize(viewer, intent, fleet=repo.fleet, db=None, now=clock())
        approver = Actor("bob", frozenset({"approver:staging"}), Proof.TOKEN)
        rules.authorize(approver, intent, fleet=repo.fleet, db=None, now=clock())


def test_stale_approval_commits_nothing(fleet: Path, db: Database, clock: Clock) -> None:
    record = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, record.id, "bob")
    patch = fleet / "overlays/staging/agent-patch.toml"
    patch.write_text(patch.read_text() + "\n[extra]\nnote = 'changed after approval'\n")
    head = commit_all(fleet, "change staging after the approval")
    with pytest.raises(Refused, match="PR-1 is stale: the resolved config of staging/staging-us-1 changed"):
        apply(fleet, db, clock, record.id)
    assert store.get_request(db, record.id).status == "stale"
    assert git(fleet, "rev-parse", "HEAD") == head
    assert audit_actions(db)[-1] == "promotion.stale"


def test_failed_gate(fleet: Path, db: Database, clock: Clock) -> None:
    add_to_fleet(fleet, '[promotion]\nchecks = ["sh -c \'echo evals: 3 failed; exit 1\'", "true"]\n')
    record = request(fleet, db, clock, "development", "staging")
    assert record.status == "failed"
    check = record.gates[2]
    assert check.status == "failed" and check.detail == "exit code 1"
    assert check.output == "evals: 3 failed\n"
    assert record.gates[3].status == "passed"
    with pytest.raises(Refused, match="PR-1 is failed"):
        decide(fleet, db, clock, record.id, "bob")


def test_check_commands_see_the_promotion(fleet: Path, db: Database, clock: Clock) -> None:
    add_to_fleet(fleet, '[promotion]\nchecks = ["eval-suite --quick"]\ncheck_timeout = "5s"\n')
    seen = []

    def runner(argv: object, cwd: Path, env: dict[str, str], timeout: float) -> CommandOutcome:
        seen.append((argv, cwd, env, timeout))
        return CommandOutcome(None, "partial")

    record = request(fleet, db, clock, "development", "staging", runner=runner)
    assert record.status == "failed" and "timed out" in record.gates[2].detail
    argv, cwd, env, timeout = seen[0]
    assert argv == ("eval-suite", "--quick") and cwd == fleet.resolve() and timeout == 5.0
    assert env == {
        "LAMINA_SOURCE": "development",
        "LAMINA_TARGET": "staging",
        "LAMINA_REVISION": record.revision,
    }


def test_missing_secret_fails_the_gate(fleet: Path, db: Database, clock: Clock) -> None:
    toml = (fleet / "lamina.toml").read_text().replace('"crm/api-token"', '"crm/other"')
    (fleet / "lamina.toml").write_text(toml)
    commit_all(fleet)
    record = request(fleet, db, clock, "development", "staging")
    assert record.status == "failed"
    assert record.gates[1].detail == "staging-us-1: crm/api-token missing"


def test_emergency_needs_two_approvers_other_than_the_requester(
    fleet: Path, db: Database, clock: Clock
) -> None:
    (fleet / "base" / "prompts" / "system_prompt.txt").write_text(
        "You are the support assistant. Hotfixed: never promise refunds.\n"
    )
    commit_all(fleet, "hotfix the prompt")  # the emergency promotes this commit; the one before is older
    record = request(fleet, db, clock, "development", "production", emergency=True, reason="hotfix")
    assert record.status == "testing" and record.emergency
    assert set(record.config_hashes) == {"production/prod-us-1", "production/prod-us-2"}
    with pytest.raises(Refused, match="cannot decide on it"):
        decide(fleet, db, clock, record.id, "alice")
    assert decide(fleet, db, clock, record.id, "bob").status == "testing"
    with pytest.raises(Refused, match="PR-1 is testing; only an approved request can be applied"):
        apply(fleet, db, clock, record.id)
    assert decide(fleet, db, clock, record.id, "carol").status == "approved"
    record = apply(fleet, db, clock, record.id)
    assert record.status == "promoted"
    assert record.backfill_due == clock() + timedelta(hours=24)
    assert git(fleet, "log", "-1", "--format=%s").startswith("EMERGENCY: promote production")
    assert "emergency.request" in audit_actions(db) and "emergency.promoted" in audit_actions(db)

    with open_repo(fleet) as repo:
        # development runs HEAD, which contains the revision; staging runs the working tree too
        assert backfill.lagging(repo, record) == []
    # pin staging to an older commit: the emergency's revision is no longer upstream
    older = git(fleet, "rev-parse", "HEAD~2")
    pins = lockfile.read_pins(WorkingTree(fleet), {"staging": 1, "production": 1})
    pins["staging"] = lockfile.Pin("staging", older)
    lockfile.write_pins(fleet, pins)
    commit_all(fleet, "pin staging back")
    fresh = store.get_request(db, record.id)
    with open_repo(fleet) as repo:
        assert backfill.lagging(repo, fresh) == ["staging"]
        assert backfill.status(repo, fresh, clock()) == "open"
        clock.advance(hours=25)
        assert backfill.status(repo, fresh, clock()) == "overdue"


def test_backfill_done_once_upstream_catches_up(fleet: Path, db: Database, clock: Clock) -> None:
    older = git(fleet, "rev-parse", "HEAD")
    patch = fleet / "base/agent.toml"
    patch.write_text(patch.read_text() + "\n# hotfix\n")
    commit_all(fleet, "hotfix")
    lockfile.write_pins(fleet, {"staging": lockfile.Pin("staging", older)})
    commit_all(fleet, "staging runs the older base")
    record = request(fleet, db, clock, "development", "production", emergency=True)
    decide(fleet, db, clock, record.id, "bob")
    decide(fleet, db, clock, record.id, "carol")
    record = apply(fleet, db, clock, record.id)
    with open_repo(fleet) as repo:
        assert backfill.refresh(repo, db, [record], clock()) == {record.id: "open"}
    staging = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, staging.id, "bob")
    apply(fleet, db, clock, staging.id)
    with open_repo(fleet) as repo:
        assert backfill.refresh(repo, db, [store.get_request(db, record.id)], clock()) == {record.id: "done"}
    assert store.get_request(db, record.id).backfill_done_at == clock()
    assert "emergency.backfill-done" in audit_actions(db)


def test_required_approvals(fleet: Path, db: Database, clock: Clock) -> None:
    add_to_fleet(fleet, "[promotion]\nrequired_approvals = { staging = 3 }\n")
    record = request(fleet, db, clock, "development", "staging")
    assert decide(fleet, db, clock, record.id, "bob").status == "testing"
    assert decide(fleet, db, clock, record.id, "carol").status == "testing"
    assert decide(fleet, db, clock, record.id, "dave").status == "approved"


def freeze(
    root: Path, db: Database, clock: Clock, until: datetime, reason: str, actor: Actor | None = None
) -> None:
    with open_repo(root) as repo:
        freezes.freeze(
            repo, db, "staging", until=until, reason=reason, actor=actor or Actor("lead"), now=clock()
        )


def unfreeze(root: Path, db: Database, clock: Clock, actor: Actor | None = None) -> bool:
    with open_repo(root) as repo:
        return freezes.unfreeze(repo, db, "staging", actor=actor or Actor("lead"), now=clock())


def test_manual_freeze_refuses_all_but_emergencies(fleet: Path, db: Database, clock: Clock) -> None:
    until = clock() + timedelta(hours=4)
    freeze(fleet, db, clock, until, "release party")
    with pytest.raises(
        Refused,
        match=r"staging is frozen until 2026-11-27T16:00:00Z \(release party; set by lead\); "
        "only --emergency requests and --force go through",
    ):
        request(fleet, db, clock, "development", "staging")
    assert request(fleet, db, clock, "development", "staging", emergency=True).status == "testing"
    assert unfreeze(fleet, db, clock)
    assert request(fleet, db, clock, "development", "staging").status == "testing"
    assert not unfreeze(fleet, db, clock)
    assert audit_actions(db).count("freeze") == 1 and "unfreeze" in audit_actions(db)


def test_freezing_goes_through_the_rules_and_records_who(fleet: Path, db: Database, clock: Clock) -> None:
    until = clock() + timedelta(hours=1)
    editor = Actor("eve", frozenset({"editor"}), Proof.TOKEN)
    with pytest.raises(RuleRefused, match="freezing staging needs approver:staging or admin"):
        freeze(fleet, db, clock, until, "incident", actor=editor)
    assert "freeze" not in audit_actions(db)
    approver = Actor("pam", frozenset({"approver:staging"}), Proof.TOKEN)
    freeze(fleet, db, clock, until, "incident", actor=approver)
    with pytest.raises(RuleRefused, match="freezing staging needs approver:staging or admin"):
        unfreeze(fleet, db, clock, actor=editor)
    assert unfreeze(fleet, db, clock, actor=approver)
    rows = db.read(lambda s: {row.action: row for row in audit.newest(s, 100)})
    assert rows["freeze"].actor == "pam"
    assert rows["freeze"].detail["reason"] == "incident"
    assert rows["freeze"].detail["identity"]["proof"] == "token"
    assert rows["unfreeze"].detail["identity"]["proof"] == "token"


def test_freeze_window_from_lamina_toml(fleet: Path, db: Database, clock: Clock) -> None:
    add_to_fleet(
        fleet,
        '[[promotion.freeze]]\nstart = "0 11 * * 5"\nduration = "62h"\n'
        'environments = ["staging"]\nreason = "weekend"\n',
    )
    with pytest.raises(
        Refused, match=r"staging is frozen until 2026-11-30T01:00:00Z \(weekend; set by lamina.toml\)"
    ):
        request(fleet, db, clock, "development", "staging")
    clock.advance(hours=62)
    assert request(fleet, db, clock, "development", "staging").status == "testing"


def test_freeze_applies_at_apply_time_too(fleet: Path, db: Database, clock: Clock) -> None:
    record = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, record.id, "bob")
    freeze(fleet, db, clock, clock() + timedelta(hours=1), "incident")
    with pytest.raises(Refused, match="staging is frozen"):
        apply(fleet, db, clock, record.id)
    clock.advance(hours=2)
    assert apply(fleet, db, clock, record.id).status == "promoted"


def test_soak_waits_for_time_in_the_source(fleet: Path, db: Database, clock: Clock) -> None:
    first = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, first.id, "bob")
    apply(fleet, db, clock, first.id)
    add_to_fleet(fleet, '[promotion]\nsoak = "2h"\n')
    # record that staging has applied the revision, as `lamina apply` does
    from lamina.store.models import Apply

    def record_apply(session: object) -> None:
        session.add(  # type: ignore[attr-defined]
            Apply(
                environment="staging", cluster="staging-us-1", revision=None, base_revision=first.revision,
                config_hash="0" * 64, actor="ops", at=clock(), result="applied", detail=None, dirty=False,
            )
        )  # fmt: skip

    db.run(record_apply)
    second = request(fleet, db, clock, "staging", "production")
    assert second.status == "testing"
    assert second.gates[-1].name == "soak" and second.gates[-1].status == "waiting"
    decide(fleet, db, clock, second.id, "bob")
    with pytest.raises(Refused, match="soak not over"):
        apply(fleet, db, clock, second.id)
    clock.advance(hours=2)
    assert apply(fleet, db, clock, second.id).status == "promoted"


def test_rollback_is_a_request_to_an_older_revision(fleet: Path, db: Database, clock: Clock) -> None:
    old = git(fleet, "rev-parse", "HEAD")
    (fleet / "base/agent.toml").write_text((fleet / "base/agent.toml").read_text() + "\n# newer\n")
    commit_all(fleet, "newer base")
    record = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, record.id, "bob")
    apply(fleet, db, clock, record.id)
    with open_repo(fleet) as repo:
        with pytest.raises(InputError, match="is not older than what staging runs"):
            requests.rollback(repo, db, target="staging", to="HEAD", actor=Actor("alice"), now=clock)
        alice = Actor("alice")
        back = requests.rollback(repo, db, target="staging", to=old, actor=alice, now=clock, reason="bad")
    assert back.kind == "rollback" and back.status == "testing" and back.source is None
    decide(fleet, db, clock, back.id, "bob")
    back = apply(fleet, db, clock, back.id)
    assert back.status == "promoted"
    assert git(fleet, "log", "-1", "--format=%s").startswith(f"roll back staging to {old[:12]}")
    assert lockfile.read_pins(WorkingTree(fleet), {"staging": 1})["staging"].revision == old


def test_nothing_to_promote(fleet: Path, db: Database, clock: Clock) -> None:
    record = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, record.id, "bob")
    apply(fleet, db, clock, record.id)
    record = request(fleet, db, clock, "staging", "production")
    decide(fleet, db, clock, record.id, "bob")
    apply(fleet, db, clock, record.id)
    with pytest.raises(InputError, match="production already runs"):
        request(fleet, db, clock, "staging", "production")


def test_uncommitted_lock_edits_block_apply(fleet: Path, db: Database, clock: Clock) -> None:
    record = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, record.id, "bob")
    lockfile.write_pins(fleet, {"production": lockfile.Pin("production", git(fleet, "rev-parse", "HEAD"))})
    with pytest.raises(Refused, match=r"lamina\.lock has uncommitted changes"):
        apply(fleet, db, clock, record.id)


def test_plain_folder_cannot_promote(tmp_path: Path, db: Database, clock: Clock) -> None:
    from lamina.fleet import scaffold

    scaffold.write_example(tmp_path / "plain", git=False)
    with pytest.raises(InputError, match="promotion needs a git repository"):
        request(tmp_path / "plain", db, clock, "development", "staging")


def test_write_pins_round_trips(tmp_path: Path) -> None:
    pins = {
        "staging": lockfile.Pin("staging", "a" * 40, "2026-11-28T10:00:00+00:00", "PR-7"),
        "production": lockfile.Pin("production", "b" * 40),
    }
    lockfile.write_pins(tmp_path, pins)
    read = lockfile.read_pins(WorkingTree(tmp_path), {"staging": 1, "production": 1})
    assert {k: (p.revision, p.set_at, p.request) for k, p in read.items()} == {
        "staging": ("a" * 40, "2026-11-28T10:00:00+00:00", "PR-7"),
        "production": ("b" * 40, None, None),
    }
    assert [p.name for p in tmp_path.iterdir()] == ["lamina.lock"]  # no temporary file left


@pytest.mark.parametrize(
    ("expression", "moment", "matches"),
    [
        pytest.param("0 18 * * 5", datetime(2026, 11, 27, 18, 0, tzinfo=UTC), True, id="friday-18h"),
        pytest.param("0 18 * * 5", datetime(2026, 11, 26, 18, 0, tzinfo=UTC), False, id="thursday"),
        pytest.param("*/15 * * * *", datetime(2026, 1, 1, 3, 45, tzinfo=UTC), True, id="step"),
        pytest.param("0 9-17 * * 1-5", datetime(2026, 11, 28, 10, 0, tzinfo=UTC), False, id="saturday"),
        pytest.param("0 0 1 * 0", datetime(2026, 11, 29, 0, 0, tzinfo=UTC), True, id="dom-or-dow"),
        pytest.param("0 0 * * 7", datetime(2026, 11, 29, 0, 0, tzinfo=UTC), True, id="sunday-as-7"),
    ],
)
def test_cron_matcher(expression: str, moment: datetime, matches: bool) -> None:
    # a one-minute window holds at moment exactly when the expression matches moment's minute
    window = FreezeWindow(expression, timedelta(minutes=1), ("production",), "test")
    assert (cron.window_end(window, moment) is not None) is matches


@pytest.mark.parametrize(
    ("expression", "moment", "zone", "matches"),
    [
        pytest.param("0 18 * * FRI", datetime(2026, 11, 27, 18, 0, tzinfo=UTC), "UTC", True, id="day-name"),
        pytest.param("@weekly", datetime(2026, 11, 29, 0, 0, tzinfo=UTC), "UTC", True, id="weekly-sunday"),
        pytest.param("@weekly", datetime(2026, 11, 28, 0, 0, tzinfo=UTC), "UTC", False, id="weekly-saturday"),
        pytest.param("0 0 L * *", datetime(2026, 2, 28, 0, 0, tzinfo=UTC), "UTC", True, id="last-day"),
        pytest.param("0 0 L * *", datetime(2026, 3, 30, 0, 0, tzinfo=UTC), "UTC", False, id="not-last-day"),
        # 18:00 in Berlin is 17:00 UTC in winter and 16:00 UTC in summer
        pytest.param(
            "0 18 * * FRI", datetime(2026, 11, 27, 17, 0, tzinfo=UTC), "Europe/Berlin", True, id="zone-winter"
        ),
        pytest.param(
            "0 18 * * FRI", datetime(2026, 7, 3, 16, 0, tzinfo=UTC), "Europe/Berlin", True, id="zone-summer"
        ),
        pytest.param(
            "0 18 * * FRI",
            datetime(2026, 11, 27, 18, 0, tzinfo=UTC),
            "Europe/Berlin",
            False,
            id="zone-not-utc",
        ),
    ],
)
def test_cron_grammar_and_zones(expression: str, moment: datetime, zone: str, matches: bool) -> None:
    window = FreezeWindow(expression, timedelta(minutes=1), ("production",), "test", zone)
    assert (cron.window_end(window, moment) is not None) is matches


def test_window_end_is_start_plus_duration() -> None:
    window = FreezeWindow("0 18 * * FRI", timedelta(hours=62), ("production",), "weekend", "Europe/Berlin")
    assert cron.window_end(window, datetime(2026, 11, 29, 10, 0, tzinfo=UTC)) == datetime(
        2026, 11, 30, 7, 0, tzinfo=UTC
    )
    assert cron.window_end(window, datetime(2026, 11, 30, 7, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("0 18 * *", "needs five fields", id="four-fields"),
        pytest.param("60 * * * *", "'60 \\* \\* \\* \\*' is not a valid cron expression", id="range"),
        pytest.param("x * * * *", "is not a valid cron expression", id="word"),
    ],
)
def test_cron_errors(expression: str, message: str) -> None:
    problem = promotion_settings.cron_problem(expression)
    assert problem is not None
    assert re.search(message, problem)
