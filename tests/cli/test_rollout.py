"""``lamina rollout pause|resume|abort``: the command line obeys the same rules as the API (a
freeze stops a resume, not a pause or an abort), and a refusal leaves only its audit row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cli_support import run_lamina as lamina
from lamina.store import audit, rollouts
from lamina.store.database import Database

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_command_line_asks_the_rules_before_it_moves_a_rollout(example_repo: Path) -> None:
    root = example_repo
    env = {"LAMINA_USER": "ops@example.com"}
    db = Database.for_repository(root, None)
    record = rollouts.create(
        db,
        environment="staging",
        revision="a" * 40,
        steps=[["staging-us-1"]],
        plan={"bake": 60.0, "analysis": None},
        actor="alice@example.com",
        at=AT,
    )
    frozen = lamina("freeze", "staging", "--until", "2h", "--reason", "release week", cwd=root, env=env)
    assert frozen.returncode == 0, frozen.stderr
    paused = lamina("rollout", "pause", str(record.id), cwd=root, env=env)
    assert paused.returncode == 0, paused.stderr
    assert "paused by ops@example.com" in paused.stdout

    refused = lamina("rollout", "resume", str(record.id), cwd=root, env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: staging is frozen until ")
    assert "release week; set by ops@example.com); only --emergency requests and --force go through" in (
        refused.stderr
    )
    assert rollouts.get(db, record.id).status.value == "paused"

    aborted = lamina("rollout", "abort", str(record.id), "--json", cwd=root, env=env)
    assert aborted.returncode == 0, aborted.stderr  # nothing had moved: nothing to send back
    assert '"status": "aborted"' in aborted.stdout
    found = db.read(lambda session: audit.newest(session, 50))
    assert [(r.actor, r.action) for r in reversed(found) if r.subject == f"rollout {record.id}"] == [
        ("alice@example.com", "rollout.started"),
        ("ops@example.com", "rollout.paused"),
        ("ops@example.com", "rollout.resume-refused"),
        ("ops@example.com", "rollout.aborting"),
        ("ops@example.com", "rollout.aborted"),
    ]
    db.dispose()
