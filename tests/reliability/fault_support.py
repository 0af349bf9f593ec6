"""Helpers for the end-to-end fault tests: the real ``lamina`` command, git hooks, and what is left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_support import Ran, lamina_environ, run_lamina
from conftest import git


def environ(database_url: str, **extra: str) -> dict[str, str]:
    """The process environment for a long-running lamina: the clean one, this database."""
    return lamina_environ(LAMINA_DATABASE_URL=database_url, **extra)


def lamina(root: Path, database_url: str, *args: str, user: str = "ops", wrap: tuple[str, ...] = ()) -> Ran:
    """Run ``lamina --repo root --as user ARGS``, optionally under a wrapper command (unshare)."""
    return run_lamina(
        "--repo", root, "--as", user, *args, env={"LAMINA_DATABASE_URL": database_url}, wrap=wrap
    )


def approved_request(root: Path, database_url: str) -> str:
    """Request development -> staging as alice and approve it as bob; returns the request id."""
    created = lamina(
        root, database_url, "promote", "request", "development", "staging", "--json", user="alice"
    )
    assert created.returncode == 0, created.stderr
    rid = str(json.loads(created.stdout)["id"])
    approved = lamina(root, database_url, "promote", "approve", rid, user="bob")
    assert approved.returncode == 0, approved.stderr
    return rid


def request_status(root: Path, database_url: str, rid: str) -> str:
    shown = lamina(root, database_url, "promote", "show", rid, "--json")
    assert shown.returncode == 0, shown.stderr
    return str(json.loads(shown.stdout)["status"])


def trailer_commits(root: Path, rid: str) -> list[str]:
    """Commits carrying ``Lamina-Request: rid`` (there must never be two)."""
    return git(root, "log", "--format=%H", "--fixed-strings", f"--grep=Lamina-Request: {rid}").split()


def install_hook(root: Path, name: str, script: str) -> Path:
    """Write an executable git hook into root's repository."""
    hook = Path(git(root, "rev-parse", "--git-path", f"hooks/{name}"))
    hook = hook if hook.is_absolute() else root / hook
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(0o755)
    return hook


def read_only(folder: Path) -> tuple[str, ...]:
    """A command prefix under which folder is a read-only file system (as a full disk would refuse).

    Root ignores permission bits, so a private mount namespace bind-mounts the folder
    read-only for the one command; ``unshare`` comes with util-linux.
    """
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is needed to mount a folder read-only"
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return (unshare, "--map-root-user", "--mount", "sh", "-c", script, str(folder))


def audit_valid(root: Path, database_url: str) -> None:
    verified = lamina(root, database_url, "audit", "--verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def worktree_state(root: Path) -> str:
    """``git status --porcelain`` of the work tree, lamina's own .lamina/ folder aside.

    Empty means lamina.lock is as committed and no temporary file was left behind.
    """
    lines = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    return "\n".join(line for line in lines if not line[3:].startswith(".lamina/"))
