"""``render --commit`` on a moving deploy branch: two renders push to one bare deploy remote from
two clones; the one that finds the branch moved fetches, rebases and pushes again (never forced),
and both rendered commits land."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git
from render.test_gitops import deploy_setup, lamina, needs_kubectl


def render(root: Path, out: Path) -> dict[str, object]:
    ran = lamina(root, "render", "--out", str(out), "--gitops", "argocd", "--commit", "--json")
    assert ran.returncode == 0, ran.stderr
    report: dict[str, object] = json.loads(ran.stdout)
    return report


def subjects(bare: Path) -> list[str]:
    return git(bare, "log", "--format=%s", "main").splitlines()


@needs_kubectl
def test_a_render_behind_the_remote_rebases_and_both_commits_land(tmp_path: Path) -> None:
    root, deploy, source = deploy_setup(tmp_path)
    bare = tmp_path / "deploy.git"
    stale = tmp_path / "deploy-b"
    git(tmp_path, "clone", "-q", str(bare), str(stale))  # cloned before the first render pushed

    first = render(root, deploy / "clusters-a")
    second = render(root, stale / "clusters-b")  # its clone is behind: non-fast-forward, then rebase

    assert first["pushed"] is True and second["pushed"] is True
    tip = git(bare, "rev-parse", "main")
    assert tip == second["commit"] == git(stale, "rev-parse", "HEAD")
    # no force: the first render's commit is still on the branch, under the second
    assert git(bare, "merge-base", "--is-ancestor", str(first["commit"]), tip) == ""
    assert subjects(bare) == [f"render support-agent at {source[:12]}"] * 2 + ["deploy repository"]
    listed = git(bare, "ls-tree", "--name-only", "main").split()
    assert {"clusters-a", "clusters-b", "README.md"} <= set(listed)
    assert git(bare, "log", "-1", "--format=%B", "main").rstrip().endswith("Lamina-Request: PR-7")
