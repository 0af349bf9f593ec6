"""Pin commits pushed to a real bare remote from real clones: the race between two pushes, the
bounded retry, and the states of a clone ``promote apply`` refuses to commit in."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from cli_support import LAMINA, Ran, lamina_environ, run_lamina
from conftest import commit_all, git, unguard
from lamina.fleet import lockfile, scaffold
from lamina.store import promotions as store
from lamina.store.database import Database


class Team:
    """A bare remote, two clones of it (alice's and bob's) and one state database."""

    def __init__(self, tmp_path: Path, git_table: str) -> None:
        self.remote = tmp_path / "remote.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(self.remote))
        seed = tmp_path / "seed"
        scaffold.write_example(seed, git=True)
        unguard(seed)
        with (seed / "lamina.toml").open("a") as stream:
            stream.write("\n" + git_table)
        commit_all(seed, "push pins to origin")
        git(seed, "remote", "add", "origin", str(self.remote))
        git(seed, "push", "-q", "origin", "main")
        self.a = tmp_path / "a"
        self.b = tmp_path / "b"
        for clone in (self.a, self.b):
            git(tmp_path, "clone", "-q", str(self.remote), str(clone))
        self.database_url = f"sqlite:///{tmp_path / 'state.db'}"

    def lamina(self, clone: Path, *args: str, user: str = "ops") -> Ran:
        return run_lamina(
            "--repo", clone, "--as", user, *args, env={"LAMINA_DATABASE_URL": self.database_url}
        )

    def approved(self, clone: Path, source: str, target: str) -> str:
        made = self.lamina(clone, "promote", "request", source, target, "--json", user="alice")
        assert made.returncode == 0, made.stderr
        rid = str(json.loads(made.stdout)["id"])
        decided = self.lamina(clone, "promote", "approve", rid, user="bob")
        assert decided.returncode == 0, decided.stderr
        return rid

    def remote_log(self, trailer: str = "Lamina-Request") -> list[str]:
        out = git(self.remote, "log", "--format=%(trailers:key=" + trailer + ",valueonly)", "main")
        return [line for line in out.splitlines() if line]

    def remote_pins(self) -> dict[str, str]:
        raw = git(self.remote, "show", "main:lamina.lock").encode()
        return {env: pin.request or "" for env, pin in lockfile.parse_pins(raw).items()}

    def hook(self, clone: Path, name: str, script: str) -> None:
        path = clone / ".git" / "hooks" / name
        path.write_text("#!/bin/sh\nunset GIT_INDEX_FILE GIT_DIR GIT_WORK_TREE\n" + script)
        path.chmod(0o755)


PUSHING = '[git]\nremote = "origin"\nbranch = "main"\npush = true\n'


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return Team(tmp_path, PUSHING)


def test_the_pin_commit_is_pushed_and_recorded(team: Team) -> None:
    rid = team.approved(team.a, "development", "staging")

    applied = team.lamina(team.a, "promote", "apply", rid, "--json")

    assert applied.returncode == 0, applied.stderr
    assert git(team.remote, "rev-parse", "main") == git(team.a, "rev-parse", "HEAD")
    assert team.remote_log() == ["PR-1"]
    assert team.remote_pins() == {"staging": "PR-1"}
    assert json.loads(applied.stdout)["commit"] == git(team.remote, "rev-parse", "main")
    assert git(team.a, "status", "--porcelain") == ""


def test_a_pin_pushed_while_another_clone_pushed_first(team: Team) -> None:
    first = team.approved(team.a, "development", "staging")
    second = team.approved(team.b, "staging", "production")
    # right after alice's clone commits its pin (and before it pushes), bob's clone applies
    # and pushes its own: alice's push is then refused as not a fast-forward
    bob = shlex.join([str(LAMINA), "--repo", str(team.b), "--as", "ops", "promote", "apply", second])
    team.hook(team.a, "post-commit", f"{bob} >/dev/null || exit 1\n")
    environ = lamina_environ(LAMINA_DATABASE_URL=team.database_url)
    applied = run_lamina("--repo", team.a, "--as", "ops", "promote", "apply", first, "--json", env=environ)

    assert applied.returncode == 0, applied.stderr
    assert team.remote_log() == ["PR-1", "PR-2"]  # both on the remote, alice's rebuilt on bob's
    assert team.remote_pins() == {"staging": "PR-1", "production": "PR-2"}
    bobs = git(team.b, "rev-parse", "HEAD")
    head = git(team.remote, "rev-parse", "main")
    assert git(team.remote, "rev-parse", "main^") == bobs  # never forced: bob's commit stays
    assert git(team.a, "rev-parse", "HEAD") == head
    assert git(team.a, "status", "--porcelain") == ""
    db = Database(team.database_url)
    try:
        assert store.get_request(db, 1).commit == head
        assert store.get_request(db, 2).commit == bobs
    finally:
        db.dispose()


def test_a_remote_that_keeps_moving_is_given_up_on_naming_it(tmp_path: Path) -> None:
    team = Team(tmp_path, PUSHING + "push_attempts = 2\n")
    rid = team.approved(team.a, "development", "staging")
    before = len(git(team.remote, "log", "--format=%H", "main").split())
    # before each of alice's pushes, bob pushes a commit of his own
    team.hook(
        team.a,
        "pre-push",
        f"cd {shlex.quote(str(team.b))} && git pull -q --rebase && echo x >> notes.txt && "
        "git add notes.txt && git commit -qm note && git push -q origin main\n",
    )

    applied = team.lamina(team.a, "promote", "apply", rid)

    assert applied.returncode == 3, applied.stderr
    head = git(team.a, "rev-parse", "HEAD")
    assert applied.stderr.strip() == (
        f"error: could not push the pin commit of PR-1 to origin ({team.remote}) main: the branch moved "
        f"on before each of 2 attempt(s); the commit {head[:12]} is on the local branch, run promote "
        "apply again to retry"
    )
    assert team.remote_log() == []  # bob's notes only
    assert len(git(team.remote, "log", "--format=%H", "main").split()) == before + 2  # 2 notes
    (team.a / ".git" / "hooks" / "pre-push").unlink()

    again = team.lamina(team.a, "promote", "apply", rid)  # the retry the message offers

    assert again.returncode == 0, again.stderr
    assert team.remote_log() == ["PR-1"]


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        pytest.param(
            lambda clone: git(clone, "checkout", "-q", "--detach", "HEAD"),
            "HEAD is detached at {head}; promote apply commits on a branch: check out the branch "
            "first (git switch main)",
            id="detached",
        ),
        pytest.param(
            lambda clone: git(clone, "switch", "-q", "-c", "topic"),
            "lamina.toml: HEAD is on branch 'topic', but [git] branch is 'main': pins are pushed to "
            "origin/main; switch to main first",
            id="other-branch",
        ),
        pytest.param(
            lambda clone: commit_all(clone, "local work"),
            "main has 1 commit(s) that origin/main lacks; push them (or reset to the remote) before "
            "applying, so the pin lands on what the team has",
            id="unpushed",
        ),
    ],
)
def test_a_clone_promote_apply_refuses_to_commit_in(team: Team, prepare: object, message: str) -> None:
    rid = team.approved(team.a, "development", "staging")
    (team.a / "notes.txt").write_text("local\n")
    assert callable(prepare)
    prepare(team.a)
    head = git(team.a, "rev-parse", "HEAD")
    remote_before = git(team.remote, "rev-parse", "main")

    refused = team.lamina(team.a, "promote", "apply", rid)

    assert refused.returncode == 2, refused.stderr
    expected = message.format(head=head[:12])
    place = "" if expected.startswith("lamina.toml") else f"{team.a}: "
    assert refused.stderr.strip() == f"error: {place}{expected}"
    assert git(team.a, "rev-parse", "HEAD") == head  # nothing committed
    assert git(team.remote, "rev-parse", "main") == remote_before
    db = Database(team.database_url)
    try:
        assert store.get_request(db, 1).status == "approved"
    finally:
        db.dispose()


def test_a_git_ignored_lock_file_is_refused_naming_the_rule(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    scaffold.write_example(root, git=True)
    unguard(root)
    (root / ".gitignore").write_text("*.tmp\nlamina.*\n!lamina.toml\n")
    commit_all(root, "ignore lamina files")
    environ = {"LAMINA_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    made = run_lamina(
        "--repo", root, "--as", "alice", "promote", "request", "development", "staging", env=environ
    )
    assert made.returncode == 0, made.stderr
    assert (
        run_lamina("--repo", root, "--as", "bob", "promote", "approve", "PR-1", env=environ).returncode == 0
    )

    refused = run_lamina("--repo", root, "--as", "ops", "promote", "apply", "PR-1", env=environ)

    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip() == (
        "error: .gitignore:2: lamina.lock is git-ignored (pattern 'lamina.*'); lamina commits pins to "
        "it: remove that rule"
    )
    assert not (root / "lamina.lock").exists()


def test_an_unreachable_remote_exits_3_naming_it(team: Team) -> None:
    rid = team.approved(team.a, "development", "staging")
    missing = team.remote.with_name("gone.git")
    git(team.a, "remote", "set-url", "origin", str(missing))

    failed = team.lamina(team.a, "promote", "apply", rid)

    assert failed.returncode == 3, failed.stderr
    assert failed.stderr.startswith(f"error: cannot fetch main from origin ({missing}): ")


def test_a_promoted_request_whose_commit_this_clone_lacks_is_fetched(team: Team) -> None:
    rid = team.approved(team.a, "development", "staging")
    assert team.lamina(team.a, "promote", "apply", rid).returncode == 0

    again = team.lamina(team.b, "promote", "apply", rid)  # bob's clone has not pulled

    assert again.returncode == 0, again.stderr
    assert git(team.b, "rev-parse", "HEAD") == git(team.remote, "rev-parse", "main")
    pinned = git(team.remote, "rev-parse", "main")
    git(team.b, "reset", "-q", "--hard", "HEAD^")  # and now without the remote nor the commit
    git(team.b, "remote", "remove", "origin")
    (team.b / "lamina.toml").write_text((team.b / "lamina.toml").read_text().replace(PUSHING, ""))
    commit_all(team.b, "no remote")

    lost = team.lamina(team.b, "promote", "apply", rid)

    assert lost.returncode == 2, lost.stderr
    assert lost.stderr.strip() == (
        f"error: {team.b}: PR-1 was promoted by commit {pinned[:12]}, which is not on HEAD's history: "
        "this clone lacks it (pull, or switch to the branch it was committed on)"
    )
