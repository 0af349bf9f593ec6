"""Races and crashes, with the real ``lamina`` command in separate processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_support import LAMINA, Ran, lamina_environ, run_lamina
from conftest import git
from lamina.store import audit
from lamina.store import promotions as store
from lamina.store.database import Database


def lamina(root: Path, database_url: str, *args: str) -> Ran:
    return run_lamina("--repo", root, *args, env={"LAMINA_DATABASE_URL": database_url})


def trailer_commits(root: Path, rid: int) -> list[str]:
    out = git(root, "log", "--format=%H", "--fixed-strings", f"--grep=Lamina-Request: PR-{rid}")
    return out.split()


@pytest.mark.slow
def test_twenty_processes_approving_and_applying(fleet: Path, database_url: str) -> None:
    created = lamina(fleet, database_url, "--as", "alice", "promote", "request", "development", "staging")
    assert created.returncode == 0, created.stderr
    command = f'"{LAMINA}" --repo "{fleet}" --as "$1" promote'
    script = f"{command} approve 1; {command} apply 1"
    workers = [
        subprocess.Popen(
            ["sh", "-c", script, "sh", f"user{n}"],
            env=lamina_environ(LAMINA_DATABASE_URL=database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(20)
    ]
    outcomes = [(w.wait(timeout=120), w.communicate()) for w in workers]
    assert all(code == 0 for code, _ in outcomes), [
        err for _, (_, err) in outcomes
    ]  # every apply ends promoted
    db = Database(database_url)
    try:
        record = store.get_request(db, 1)
        assert record.status == "promoted"
        assert len(record.approvers) == 1  # the first approval decided it; later ones were refused
        assert len(trailer_commits(fleet, 1)) == 1
        assert record.commit == trailer_commits(fleet, 1)[0]
        assert db.read(audit.verify).ok
        actions = db.read(lambda s: [r.action for r in audit.newest(s, 1000)])
        assert actions.count("promotion.promoted") == 1 and actions.count("promotion.approved") == 1
    finally:
        db.dispose()


def test_apply_killed_between_commit_and_database_write(fleet: Path, database_url: str) -> None:
    assert (
        lamina(
            fleet, database_url, "--as", "alice", "promote", "request", "development", "staging"
        ).returncode
        == 0
    )
    assert lamina(fleet, database_url, "--as", "bob", "promote", "approve", "PR-1").returncode == 0
    # the hook runs right after git made the commit: it kills `lamina` (git's parent) on the spot
    hook = Path(git(fleet, "rev-parse", "--git-path", "hooks/post-commit"))
    hook = hook if hook.is_absolute() else fleet / hook
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text('#!/bin/sh\nkill -9 "$(ps -o ppid= -p "$PPID" | tr -d " ")"\n')
    hook.chmod(0o755)
    crashed = lamina(fleet, database_url, "--as", "ops", "promote", "apply", "PR-1")
    assert crashed.returncode == -9
    assert len(trailer_commits(fleet, 1)) == 1
    db = Database(database_url)
    try:
        assert store.get_request(db, 1).status == "approved"  # the database write never happened
        hook.unlink()
        again = lamina(fleet, database_url, "--as", "ops", "promote", "apply", "PR-1", "--json")
        assert again.returncode == 0, again.stderr
        assert len(trailer_commits(fleet, 1)) == 1
        record = store.get_request(db, 1)
        assert record.status == "promoted" and record.commit == trailer_commits(fleet, 1)[0]
        assert db.read(audit.verify).ok
    finally:
        db.dispose()
