"""The pin commit in the git layouts people have: a config repository in a sub-folder, a
linked worktree, and other changes staged by hand (they stay staged, and out of the commit)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import Ran, run_lamina
from conftest import git, unguard
from lamina.fleet import scaffold


def lamina(root: Path, state: Path, *args: str, user: str) -> Ran:
    database = f"sqlite:///{state / 'state.db'}"  # outside the git repository
    return run_lamina("--repo", root, "--as", user, *args, env={"LAMINA_DATABASE_URL": database})


def promote(root: Path, state: Path) -> None:
    created = lamina(root, state, "promote", "request", "development", "staging", "--json", user="alice")
    assert created.returncode == 0, created.stderr
    rid = json.loads(created.stdout)["id"]
    assert lamina(root, state, "promote", "approve", rid, user="bob").returncode == 0
    applied = lamina(root, state, "promote", "apply", rid, user="ops")
    assert applied.returncode == 0, applied.stderr


def test_a_config_repository_in_a_sub_folder_with_other_changes_staged(tmp_path: Path) -> None:
    top = tmp_path / "monorepo"
    (top / "services").mkdir(parents=True)
    (top / "services" / "README.md").write_text("services\n")
    root = top / "configs" / "agent"
    scaffold.write_example(root, git=False)
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "monorepo")
    (top / "services" / "README.md").write_text("services, edited\n")
    git(top, "add", "services/README.md")  # someone's work in progress, staged

    promote(root, tmp_path)

    changed = git(top, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == ["configs/agent/lamina.lock"]
    assert git(top, "diff", "--cached", "--name-only") == "services/README.md"  # still staged
    assert git(top, "status", "--porcelain", "--", "configs") == ""


def test_a_linked_worktree(tmp_path: Path) -> None:
    main = tmp_path / "main"
    scaffold.write_example(main, git=True)
    unguard(main)
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", "-b", "promote", str(linked))

    promote(linked, tmp_path)

    assert git(linked, "show", "--name-only", "--format=", "HEAD").split() == ["lamina.lock"]
    assert git(linked, "status", "--porcelain") == ""
    assert git(main, "rev-parse", "HEAD") != git(linked, "rev-parse", "HEAD")  # only its branch moved
