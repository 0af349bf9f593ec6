"""The rollouts API: the same shapes as ``lamina rollout status --json``; pausing, resuming and
aborting through the library's functions, with the rules' roles and freezes and audit rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cli_support import run_lamina
from lamina.store import audit, rollouts
from lamina.store import promotions as store
from lamina.store.database import Database

from .conftest import Served

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def seed(db: Database, environment: str = "production") -> rollouts.RolloutRecord:
    return rollouts.create(
        db,
        environment=environment,
        revision="a" * 40,
        steps=[["prod-us-1"], ["prod-us-2"]],
        plan={"bake": 60.0, "analysis": None},
        actor="alice@example.com",
        at=AT,
    )


def rows(db: Database, subject: str) -> list[tuple[str, str]]:
    found = db.read(lambda session: audit.newest(session, 50))
    return [(row.actor, row.action) for row in reversed(found) if row.subject == subject]


def test_rollouts_are_listed_shown_and_paused(served: Served) -> None:
    db = Database.for_repository(served.root, None)
    record = seed(db)
    listed = served.get("/api/v1/rollouts").json()
    assert [(r["id"], r["environment"], r["status"], r["steps"]) for r in listed] == [
        (record.id, "production", "running", [["prod-us-1"], ["prod-us-2"]])
    ]
    shown = served.get(f"/api/v1/rollouts/{record.id}").json()
    cli = run_lamina("--repo", served.root, "rollout", "status", str(record.id), "--json")
    assert cli.returncode == 0, cli.stderr
    assert shown == json.loads(cli.stdout)
    assert [(c["cluster"], c["step"], c["state"]) for c in shown["clusters"]] == [
        ("prod-us-1", 0, "pending"),
        ("prod-us-2", 1, "pending"),
    ]
    assert served.get("/api/v1/rollouts/999").status_code == 404
    refused = served.post(f"/api/v1/rollouts/{record.id}/pause")  # a viewer
    assert (refused.status_code, refused.json()) == (403, {"detail": "this needs the editor or admin role"})
    paused = served.post(f"/api/v1/rollouts/{record.id}/pause", "editor")
    assert (paused.status_code, paused.json()["status"], paused.json()["reason"]) == (
        200,
        "paused",
        "paused by ed@example.com",
    )
    again = served.post(f"/api/v1/rollouts/{record.id}/pause", "editor")
    assert (again.status_code, again.json()) == (
        409,
        {"detail": f"rollout {record.id} is paused, not running"},
    )
    assert rows(db, f"rollout {record.id}") == [
        ("alice@example.com", "rollout.started"),
        ("vera@example.com", "rollout.pause-refused"),
        ("ed@example.com", "rollout.paused"),
    ]
    db.dispose()


def test_a_rollout_resumes_and_aborts_for_an_editor_and_a_freeze_stops_only_the_resume(
    served: Served,
) -> None:
    db = Database.for_repository(served.root, None)
    record = seed(db, "staging")
    subject = f"rollout {record.id}"
    assert served.post(f"/api/v1/rollouts/{record.id}/pause", "editor").status_code == 200
    for verb in ("resume", "abort"):
        answer = served.post(f"/api/v1/rollouts/{record.id}/{verb}", "approver")
        assert (answer.status_code, answer.json()) == (403, {"detail": "this needs the editor or admin role"})
    # a token without the editor role learns nothing about a rollout that does not exist
    assert served.post("/api/v1/rollouts/999/abort").status_code == 403
    assert served.post("/api/v1/rollouts/999/abort", "editor").json() == {"detail": "no rollout 999"}

    now = datetime.now(UTC)
    store.set_freeze(
        db,
        environment="staging",
        until=now + timedelta(hours=1),
        reason="release party",
        actor="lead",
        at=now,
    )
    frozen = served.post(f"/api/v1/rollouts/{record.id}/resume", "editor")
    assert frozen.status_code == 403
    assert frozen.json()["detail"].startswith("staging is frozen until ")
    assert rollouts.get(db, record.id).status.value == "paused"
    store.clear_freeze(db, environment="staging", actor="lead", at=now)

    resumed = served.post(f"/api/v1/rollouts/{record.id}/resume", "editor")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "running")
    store.set_freeze(
        db, environment="staging", until=now + timedelta(hours=1), reason="incident", actor="lead", at=now
    )
    aborted = served.post(f"/api/v1/rollouts/{record.id}/abort", "admin")  # a freeze does not stop it
    assert (aborted.status_code, aborted.json()["phase"], aborted.json()["reason"]) == (
        200,
        "rollback",
        "aborted by root@example.com",
    )
    assert rows(db, subject) == [
        ("alice@example.com", "rollout.started"),
        ("ed@example.com", "rollout.paused"),
        ("ana@example.com", "rollout.resume-refused"),
        ("ana@example.com", "rollout.abort-refused"),
        ("ed@example.com", "rollout.resume-refused"),
        ("ed@example.com", "rollout.resumed"),
        ("root@example.com", "rollout.aborting"),
    ]
    db.dispose()
