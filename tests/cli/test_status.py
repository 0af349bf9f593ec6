"""``lamina status``: the promotion path, drift, requests awaiting you, backfills, freezes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cli_support import run_lamina as lamina


def status(root: Path, user: str) -> dict[str, Any]:
    done = lamina("status", "--json", cwd=root, env={"LAMINA_USER": user})
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def ok(root: Path, *args: str, user: str = "ann@example.com") -> None:
    done = lamina(*args, cwd=root, env={"LAMINA_USER": user})
    assert done.returncode == 0, done.stderr


def test_status_json_shows_the_path_drift_freezes_and_what_awaits_whom(guarded_example: Path) -> None:
    root = guarded_example
    lamina("drift", cwd=root)  # stores a status per cluster (exit 1: nothing applied yet)
    ok(root, "freeze", "production", "--until", "2h", "--reason", "release week")
    ok(root, "promote", "request", "development", "staging", "--reason", "new model")
    found = status(root, "bob@example.com")
    by_name = {env["name"]: env for env in found["environments"]}
    assert list(by_name) == ["development", "staging", "production", "production-eu"]
    assert (by_name["development"]["upstream"], by_name["development"]["behind"]) == (None, None)
    assert by_name["staging"]["upstream"] == "development"
    assert by_name["staging"]["behind"] >= 1  # the example's last commit is after the pins
    assert by_name["production"]["behind"] == 0
    assert by_name["production"]["drift"] == {"missing": 2}
    frozen = by_name["production"]["frozen"]
    assert frozen["reason"] == "release week" and frozen["by"] == "ann@example.com"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", frozen["until"])
    assert by_name["staging"]["frozen"] is None
    assert [(r["id"], r["target"], r["requested_by"]) for r in found["awaiting_you"]] == [
        ("PR-1", "staging", "ann@example.com")
    ]
    assert found["open_requests"] == 1 and found["open_backfills"] == []
    # the one who asked cannot approve their own request: nothing awaits them
    assert status(root, "ann@example.com")["awaiting_you"] == []


def test_status_text_is_one_screen(guarded_example: Path) -> None:
    ok(guarded_example, "promote", "request", "development", "staging", "--reason", "new model")
    done = lamina("status", cwd=guarded_example, env={"LAMINA_USER": "bob@example.com"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["ENVIRONMENT", "PIN", "BEHIND", "UPSTREAM", "DRIFT", "FROZEN"]
    assert "1 of 1 open requests await bob@example.com" in done.stdout
    assert re.search(
        r"PR-1  promotion development -> staging  by ann@example.com at \S+Z: new model", done.stdout
    )


def test_status_shows_rollouts_in_progress_not_finished_ones(guarded_example: Path) -> None:
    from datetime import UTC, datetime

    from lamina.core.states import RolloutPhase, RolloutStatus
    from lamina.store import rollouts
    from lamina.store.database import Database

    db = Database.for_repository(guarded_example, None)
    at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    steps = [["prod-us-1"], ["prod-us-2"]]
    paused = rollouts.create(
        db, environment="production", revision=None, steps=steps, plan={}, actor="ann", at=at
    )
    rollouts.transition(
        db,
        paused.id,
        from_statuses=[RolloutStatus.RUNNING],
        to=RolloutStatus.PAUSED,
        actor="lamina",
        action="rollout.paused",
        at=at,
        phase=RolloutPhase.MEASURE,
        reason="no data for tool_success_rate",
    )
    done = rollouts.create(
        db, environment="staging", revision=None, steps=[["staging-us-1"]], plan={}, actor="ann", at=at
    )
    rollouts.transition(
        db,
        done.id,
        from_statuses=[RolloutStatus.RUNNING],
        to=RolloutStatus.SUCCEEDED,
        actor="lamina",
        action="rollout.succeeded",
        at=at,
    )
    db.dispose()
    found = status(guarded_example, "bob@example.com")
    assert found["rollouts"] == [
        {
            "id": paused.id,
            "environment": "production",
            "status": "paused",
            "step": 1,
            "steps": 2,
            "phase": "measure",
            "reason": "no data for tool_success_rate",
            "since": "2026-12-03T12:00:00Z",
        }
    ]
    text = lamina("status", cwd=guarded_example, env={"LAMINA_USER": "bob@example.com"}).stdout
    assert "1 rollouts in progress" in text
    assert (
        f"  rollout {paused.id} production paused step 1/2 (measure): no data for tool_success_rate" in text
    )
