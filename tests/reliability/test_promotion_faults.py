"""Promotion under faults, end to end: git refusing the commit, a read-only disk, the database going away.

Each scenario runs the real ``lamina`` command against a real git repository and database,
breaks something at the worst moment, and then checks what was left behind: no lost or
duplicated promotion, lamina.lock as committed (nothing half-written), the audit chain
valid, and that running the same command again once the fault is gone converges.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli_support import start_lamina_serve
from conftest import git, unguard
from lamina.fleet import scaffold
from reliability.fault_support import (
    approved_request,
    audit_valid,
    install_hook,
    lamina,
    read_only,
    request_status,
    trailer_commits,
    worktree_state,
)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    scaffold.write_example(root, git=True)
    unguard(root)
    return root


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    (tmp_path / "state").mkdir()  # outside the repository, so a read-only repository keeps its database
    return f"sqlite:///{tmp_path / 'state' / 'state.db'}"


def check_converges(fleet: Path, url: str, rid: str, head_before: str) -> None:
    """Nothing was promoted by the failed run; the same command, run again, promotes exactly once."""
    assert request_status(fleet, url, rid) == "approved"
    assert worktree_state(fleet) == "", "lamina.lock or a temporary file was left behind"
    audit_valid(fleet, url)
    again = lamina(fleet, url, "promote", "apply", rid)
    assert again.returncode == 0, again.stdout + again.stderr
    assert request_status(fleet, url, rid) == "promoted"
    assert len(trailer_commits(fleet, rid)) == 1
    assert git(fleet, "rev-parse", "HEAD~1") == head_before
    assert worktree_state(fleet) == ""
    audit_valid(fleet, url)


def test_a_hook_refusing_the_commit(fleet: Path, sqlite_url: str) -> None:
    rid = approved_request(fleet, sqlite_url)
    head = git(fleet, "rev-parse", "HEAD")
    lock_before = _lock_bytes(fleet)
    hook = install_hook(
        fleet, "pre-commit", 'echo "policy: pin changes need a signed-off line" >&2\nexit 1\n'
    )

    refused = lamina(fleet, sqlite_url, "promote", "apply", rid)

    assert refused.returncode == 3, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "git commit failed" in lines[0] and "signed-off" in lines[0], lines
    assert "Traceback" not in refused.stderr
    assert git(fleet, "rev-parse", "HEAD") == head
    assert _lock_bytes(fleet) == lock_before
    assert git(fleet, "diff", "--cached", "--name-only") == ""  # lamina.lock not left staged
    hook.unlink()
    check_converges(fleet, sqlite_url, rid, head)


@pytest.mark.parametrize("folder", [".git/objects", "."], ids=["git-objects", "whole-repository"])
def test_a_read_only_folder(fleet: Path, sqlite_url: str, folder: str) -> None:
    rid = approved_request(fleet, sqlite_url)
    head = git(fleet, "rev-parse", "HEAD")
    lock_before = _lock_bytes(fleet)

    refused = lamina(fleet, sqlite_url, "promote", "apply", rid, wrap=read_only(fleet / folder))

    assert refused.returncode == 3, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0], lines
    assert git(fleet, "rev-parse", "HEAD") == head
    assert _lock_bytes(fleet) == lock_before
    check_converges(fleet, sqlite_url, rid, head)


# -- the server killed during an apply ---------------------------------------------------


@pytest.mark.parametrize("hook_name", ["pre-commit", "post-commit"], ids=["during-commit", "after-commit"])
def test_the_server_killed_during_an_apply(
    fleet: Path, sqlite_url: str, tmp_path: Path, hook_name: str
) -> None:
    rid = approved_request(fleet, sqlite_url)
    head = git(fleet, "rev-parse", "HEAD")
    created = lamina(fleet, sqlite_url, "token", "create", "ops@example.com", "--role", "admin")
    assert created.returncode == 0, created.stderr
    token = created.stdout.split()[-1]
    marker = tmp_path / "in-the-hook"
    hook = install_hook(fleet, hook_name, f'touch "{marker}"\nsleep 60\n')

    server, url = _serve(fleet, sqlite_url)
    outcome: list[object] = []
    caller = threading.Thread(target=lambda: outcome.append(_apply_over_http(url, rid, token)), daemon=True)
    caller.start()
    _wait_for(marker.exists)
    os.killpg(server.pid, signal.SIGKILL)  # the server and the git it runs, hook and all
    server.wait(timeout=10)
    caller.join(timeout=30)
    hook.unlink()

    assert outcome and isinstance(outcome[0], httpx.TransportError), outcome  # no answer came
    assert request_status(fleet, sqlite_url, rid) == "approved"
    assert len(trailer_commits(fleet, rid)) == (1 if hook_name == "post-commit" else 0)
    audit_valid(fleet, sqlite_url)

    server, url = _serve(fleet, sqlite_url)
    try:
        answer = _apply_over_http(url, rid, token)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    assert isinstance(answer, httpx.Response) and answer.status_code == 200, answer
    assert answer.json()["status"] == "promoted"
    assert len(trailer_commits(fleet, rid)) == 1
    assert git(fleet, "rev-parse", "HEAD~1") == head
    assert worktree_state(fleet) == ""
    audit_valid(fleet, sqlite_url)


def _serve(fleet: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    """``lamina serve`` in its own process group, once it answers /healthz."""
    return start_lamina_serve(fleet, env={"LAMINA_DATABASE_URL": url}, start_new_session=True)


def _apply_over_http(url: str, rid: str, token: str) -> httpx.Response | httpx.TransportError:
    try:
        return httpx.post(
            f"{url}/api/v1/promotions/{rid}/apply", headers={"Authorization": f"Bearer {token}"}, timeout=90
        )
    except httpx.TransportError as exc:
        return exc


# -- the database going away -------------------------------------------------------------


def test_the_database_going_away_between_commit_and_record(
    fleet: Path, postgres_url: str, postgres_server: Any
) -> None:
    rid = approved_request(fleet, postgres_url)
    head = git(fleet, "rev-parse", "HEAD")
    pgdata = Path(postgres_server.pgdata)
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    # right after git made the pin commit, the database server shuts down on the spot
    hook = install_hook(
        fleet, "post-commit", f"kill -QUIT {pid}\nwhile kill -0 {pid} 2>/dev/null; do sleep 0.05; done\n"
    )

    failed = lamina(fleet, postgres_url, "promote", "apply", rid)

    hook.unlink()
    assert failed.returncode == 3, failed.stdout + failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "state database" in lines[0] and "unavailable" in lines[0], lines
    assert len(trailer_commits(fleet, rid)) == 1  # git has it, the database does not yet
    assert worktree_state(fleet) == ""

    down = lamina(fleet, postgres_url, "promote", "list")
    assert down.returncode == 3 and "unavailable" in down.stderr
    postgres_server.ensure_postgres_running()
    _wait_for(lambda: lamina(fleet, postgres_url, "promote", "list").returncode == 0)

    assert request_status(fleet, postgres_url, rid) == "approved"
    again = lamina(fleet, postgres_url, "promote", "apply", rid)
    assert again.returncode == 0, again.stdout + again.stderr
    assert request_status(fleet, postgres_url, rid) == "promoted"
    assert len(trailer_commits(fleet, rid)) == 1  # found by its trailer, not committed twice
    assert git(fleet, "rev-parse", "HEAD~1") == head
    audit_valid(fleet, postgres_url)


def _lock_bytes(fleet: Path) -> bytes | None:
    path = fleet / "lamina.lock"
    return path.read_bytes() if path.exists() else None


def _wait_for(ready: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("gave up waiting")
