"""A pin commit's way to the team: the checks before it is made, and its push after.

Before ``promote apply`` commits a pin, HEAD must be on a branch and ``lamina.lock`` must not
be git-ignored; with ``[git] push = true`` the branch must be ``[git] branch`` and is first
brought up to the remote's (fetch, fast-forward), so the pin lands on what the team has.

After the commit, :func:`publish` pushes it, never forced. When another clone pushed first
the push is refused as not a fast-forward: lamina fetches, makes its pin commit again on the
new head (that head's ``lamina.lock`` with this one pin changed), moves the branch to it and
pushes again, ``[git] push_attempts`` times in all, then gives up naming the remote (exit 3).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from lamina.errors import InputError, OutsideError
from lamina.fleet import lockfile
from lamina.fleet.git_settings import GitSettings
from lamina.promote import commits
from lamina.resolve.repository import Repository
from lamina.source import remotes
from lamina.source.trees import GitRepo


def require_branch(repo: Repository, git: GitRepo) -> str:
    """The branch pins are committed on.

    Raises:
        InputError: HEAD is detached, or (pushing) it is not on ``[git] branch``.
    """
    branch = remotes.require_branch(git, "promote apply")
    settings = repo.fleet.settings.git
    if settings.pushes and branch != settings.branch:
        raise InputError(
            f"HEAD is on branch {branch!r}, but [git] branch is {settings.branch!r}: pins are pushed "
            f"to {settings.remote}/{settings.branch}; switch to {settings.branch} first",
            "lamina.toml",
        )
    return branch


@contextlib.contextmanager
def ready_to_commit(repo: Repository, git: GitRepo) -> Iterator[Repository]:
    """The repository as the pin commit will see it: checked, and up to date with the remote.

    Yields repo itself, or (when the fast-forward moved HEAD) the repository opened anew.

    Raises:
        InputError: HEAD detached, lamina.lock git-ignored, the branch has commits the remote
            lacks or is not ``[git] branch``.
        OutsideError: the remote cannot be fetched, or the fast-forward is blocked by a
            changed file.
    """
    require_branch(repo, git)
    remotes.refuse_ignored(git, lockfile.LOCK_FILE)
    settings = repo.fleet.settings.git
    if not settings.pushes:
        yield repo
        return
    assert settings.remote is not None
    upstream = remotes.fetch(git, settings.remote, settings.branch)
    head = git.head()
    assert head is not None
    ahead = remotes.commits_ahead(git, upstream, head)
    if ahead:
        raise InputError(
            f"{settings.branch} has {ahead} commit(s) that {settings.remote}/{settings.branch} lacks; "
            "push them (or reset to the remote) before applying, so the pin lands on what the team has",
            str(git.toplevel),
        )
    if not remotes.fast_forward(git, upstream):
        yield repo
        return
    with Repository(repo.root) as fresh:
        yield fresh


def publish(settings: GitSettings, git: GitRepo, commit: str, environment: str, request: str) -> str:
    """Push the pin commit of request (never forced); returns the commit now on the remote.

    Raises:
        OutsideError: the remote refused every attempt, or cannot be reached (exit 3).
    """
    if not settings.pushes:
        return commit
    assert settings.remote is not None
    for _ in range(settings.push_attempts):
        if remotes.push(git, settings.remote, settings.branch, commit) is remotes.PushOutcome.PUSHED:
            return commit
        upstream = remotes.fetch(git, settings.remote, settings.branch)
        if remotes.is_ancestor(git.toplevel, commit, upstream):
            return commit  # pushed already, by an earlier run of this apply
        rebuilt = commits.rebuild_pin(git, commit, upstream, environment)
        remotes.move_to(git, rebuilt)
        commit = rebuilt
    url = remotes.remote_url(git, settings.remote)
    raise OutsideError(
        f"could not push the pin commit of {request} to {settings.remote} ({url}) {settings.branch}: "
        f"the branch moved on before each of {settings.push_attempts} attempt(s); the commit "
        f"{commit[:12]} is on the local branch, run promote apply again to retry"
    )


def check_on_history(repo: Repository, git: GitRepo, request: str, commit: str | None) -> None:
    """A recorded pin commit must be on HEAD's history (fetched first when there is a remote).

    Raises:
        InputError: it is not: this clone has not got the branch the pin was pushed to.
    """
    if commit is None:
        return
    head = git.head()
    if head is not None and remotes.is_ancestor(git.toplevel, commit, head):
        return
    settings = repo.fleet.settings.git
    if settings.remote is not None:
        upstream = remotes.fetch(git, settings.remote, settings.branch)
        if remotes.is_ancestor(git.toplevel, commit, upstream):
            remotes.fast_forward(git, upstream)
            return
    raise InputError(
        f"{request} was promoted by commit {commit[:12]}, which is not on HEAD's history: this clone "
        "lacks it (pull, or switch to the branch it was committed on)",
        str(git.toplevel),
    )
