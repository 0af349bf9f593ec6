"""The rollouts API: the same shapes as ``lamina rollout status --json``; pausing needs an editor."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cli_support import run_lamina
from lamina.store import rollouts
from lamina.store.database import Database

from .conftest import Served

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_rollouts_are_listed_shown_and_paused(served: Served) -> None:
    db = Database.for_repository(served.root, None)
    record = rollouts.create(
        db,
        environment="production",
        revision="a" * 40,
        steps=[["prod-us-1"], ["prod-us-2"]],
        plan={"bake": 60.0, "analysis": None},
        actor="alice@example.com",
        at=AT,
    )
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
    assert served.post(f"/api/v1/rollouts/{record.id}/pause").status_code == 403  # a viewer
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
    db.dispose()
