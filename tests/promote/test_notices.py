"""A request's life writes its notices with its events; ``lamina notices --send`` delivers them
once each, with a dashboard link; a gate's output (which may hold anything) stays out."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from cli_support import run_lamina_in_process
from conftest import commit_all, git
from lamina.core.notices import Topic
from lamina.core.states import NoticeStatus
from lamina.fleet import lockfile
from lamina.notify import messages
from lamina.promote import backfill
from lamina.source.trees import WorkingTree
from lamina.store import outbox
from lamina.store.database import Database
from notify.conftest import Receiver, receiver
from promote.conftest import Clock, add_to_fleet, open_repo
from promote.test_workflow import apply, decide, request

__all__ = ["receiver"]

CANARY = "CANARY-gate-output-5d1c"


def test_a_request_notifies_awaiting_approval_approved_and_promoted_once_each(
    fleet: Path, db: Database, clock: Clock, receiver: Receiver, database_url: str
) -> None:
    add_to_fleet(
        fleet,
        '[server]\npublic_url = "https://lamina.example.com/"\n\n'
        '[alerts.staging]\nsinks = [{type = "webhook", url_env = "STAGING_HOOK", secret_env = "HOOK_KEY"}]\n',
    )
    record = request(fleet, db, clock, "development", "staging")
    decide(fleet, db, clock, record.id, "bob")
    apply(fleet, db, clock, record.id)
    written = list(reversed(outbox.notices_in(db)))
    assert [(n.topic, n.environment, n.subject) for n in written] == [
        (Topic.AWAITING_APPROVAL, "staging", "PR-1"),
        (Topic.APPROVED, "staging", "PR-1"),
        (Topic.PROMOTED, "staging", "PR-1"),
    ]
    env = {"STAGING_HOOK": receiver.url + "/hook", "HOOK_KEY": "k", "LAMINA_DATABASE_URL": database_url}
    ran = run_lamina_in_process("--repo", fleet, "notices", "--send", "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    shown = json.loads(ran.stdout)
    assert shown["sent"] == {"sent": 3, "retrying": 0, "failed": 0}
    assert [n["status"] for n in shown["notices"]] == ["sent"] * 3
    again = run_lamina_in_process("--repo", fleet, "notices", "--send", "--json", env=env)
    assert json.loads(again.stdout)["sent"] == {"sent": 0, "retrying": 0, "failed": 0}
    got = [r.json for r in receiver.accepted()]
    assert [g["key"] for g in got] == [n.key for n in written]
    assert [g["summary"] for g in got] == [
        f"staging: PR-1 awaits approval: promotion of {record.revision[:12]} from development",
        "staging: PR-1 is approved and may be applied",
        f"staging: PR-1 promoted {record.revision[:12]}",
    ]
    assert {g["link"] for g in got} == {"https://lamina.example.com/promotions#PR-1"}


def test_a_failed_gate_notifies_without_the_gate_output(
    fleet: Path, db: Database, clock: Clock, database_url: str
) -> None:
    add_to_fleet(fleet, f"[promotion]\nchecks = [\"sh -c 'echo {CANARY}; exit 1'\"]\n")
    record = request(fleet, db, clock, "development", "staging")
    assert record.status == "failed"
    [notice] = outbox.notices_in(db)
    assert (notice.topic, notice.status) == (Topic.GATE_FAILED, NoticeStatus.PENDING)
    failed = [g for g in notice.facts["gates"] if g["status"] == "failed"]
    assert [g["detail"] for g in failed] == ["exit code 1"]
    dump = db.read(lambda s: str(list(s.execute(text("SELECT * FROM outbox")))))
    assert CANARY not in dump
    ran = run_lamina_in_process(
        "--repo", fleet, "notices", "--status", "pending", env={"LAMINA_DATABASE_URL": database_url}
    )
    assert ran.returncode == 0, ran.stderr
    assert "gate-failed" in ran.stdout and "PR-1" in ran.stdout and CANARY not in ran.stdout


def test_an_overdue_backfill_is_told_once(fleet: Path, db: Database, clock: Clock) -> None:
    older = git(fleet, "rev-parse", "HEAD")
    (fleet / "base" / "prompts" / "system_prompt.txt").write_text(
        "You are the support assistant. Hotfixed: never promise refunds.\n"
    )
    commit_all(fleet, "hotfix the prompt")
    record = request(fleet, db, clock, "development", "production", emergency=True, reason="hotfix")
    decide(fleet, db, clock, record.id, "bob")
    decide(fleet, db, clock, record.id, "carol")
    record = apply(fleet, db, clock, record.id)
    pins = lockfile.read_pins(WorkingTree(fleet), {"staging": 1, "production": 1})
    pins["staging"] = lockfile.Pin("staging", older)
    lockfile.write_pins(fleet, pins)
    commit_all(fleet, "pin staging back")
    with open_repo(fleet) as repo:
        assert backfill.notify_overdue(repo, db, clock()) == []  # not due yet
        clock.advance(hours=25)
        assert backfill.notify_overdue(repo, db, clock()) == [record.id]
        assert backfill.notify_overdue(repo, db, clock()) == []
    [notice] = outbox.notices_in(db, environment="production", statuses=(NoticeStatus.PENDING,), limit=1)
    assert (notice.key, notice.topic, notice.subject) == (
        "backfill-overdue/PR-1",
        Topic.BACKFILL_OVERDUE,
        "PR-1",
    )
    assert notice.facts["behind"] == ["staging"]
    assert messages.word(notice, None).summary == (
        f"production: the backfill of emergency PR-1 ({record.revision[:12]}) is overdue; "
        "still behind: staging"
    )
