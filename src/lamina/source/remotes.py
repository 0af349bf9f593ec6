"""The config repository's remote: fetch, fast-forward, push (never forced), and what HEAD is.

Every git command that talks to a remote or moves a branch runs here, through
:func:`lamina.source.trees.try_git`, so how lamina treats a user's clone is in one file:

- it never forces a push and never rewrites a commit that is on the remote;
- it moves a branch only forward (``merge --ff-only``) or, for its own unpushed pin commit,
  with ``reset --keep`` (which refuses to touch a file the user changed);
- a push the remote refuses because the branch moved on is :data:`PushOutcome.MOVED`, any
  other failure an :class:`~lamina.errors.OutsideError` naming the remote.
"""

from __future__ import annotations

import enum
from pathlib import Path

from lamina.errors import InputError, OutsideError, Place
from lamina.source.trees import GitRepo, git_failure, try_git

# a plain rejection (the branch moved on), or the remote losing a race to update the ref itself
_MOVED_MARKERS = ("[rejected]", "failed to update ref", "cannot lock ref", "incorrect old value")


class PushOutcome(enum.Enum):
    """What became of one push."""

    PUSHED = "pushed"
    """The remote branch now points at the commit."""
    MOVED = "moved"
    """Refused as not a fast-forward: someone pushed first; fetch, rebuild, try again."""


def current_branch(git: GitRepo) -> str | None:
    """The branch HEAD is on, or None when HEAD is detached."""
    done = try_git(git.toplevel, "symbolic-ref", "-q", "--short", "HEAD")
    return done.stdout.decode().strip() or None if done.returncode == 0 else None


def require_branch(git: GitRepo, what: str) -> str:
    """The branch HEAD is on.

    Raises:
        InputError: HEAD is detached (a commit made there would belong to no branch).
    """
    branch = current_branch(git)
    if branch is None:
        head = git.head() or "nothing"
        raise InputError(
            f"HEAD is detached at {head[:12]}; {what} commits on a branch: check out the branch "
            "first (git switch main)",
            str(git.toplevel),
        )
    return branch


def refuse_ignored(git: GitRepo, rel: str) -> None:
    """Refuse a file lamina must commit when git ignores it (and does not track it yet).

    Raises:
        InputError: naming the ignore file and line that matches, and the pattern.
    """
    path = git.prefix + rel
    done = try_git(git.toplevel, "check-ignore", "-v", "--", path)
    if done.returncode != 0:
        return
    source, _, rest = done.stdout.decode("utf-8", "replace").strip().partition(":")
    line, _, pattern = rest.partition(":")
    pattern = pattern.split("\t")[0]
    place = Place(source, int(line)) if line.isdigit() else Place(source)
    raise InputError(
        f"{rel} is git-ignored (pattern {pattern!r}); lamina commits pins to it: remove that rule", place
    )


def remote_url(git: GitRepo, remote: str) -> str:
    """The URL of remote, with any password in it left out.

    Raises:
        InputError: no such remote.
    """
    done = try_git(git.toplevel, "remote", "get-url", remote)
    if done.returncode != 0:
        raise InputError(f"[git] remote {remote!r} is not a remote of {git.toplevel} (git remote add)")
    return redact(done.stdout.decode().strip())


def redact(url: str) -> str:
    """``https://user:secret@host/x`` as ``https://user:***@host/x``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    credentials, _, host = rest.partition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def fetch(git: GitRepo, remote: str, branch: str) -> str:
    """Fetch branch from remote into ``refs/remotes/<remote>/<branch>`` and return its commit.

    Raises:
        OutsideError: the remote cannot be reached or has no such branch.
    """
    tracking = tracking_ref(remote, branch)
    args = ("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}")
    done = try_git(git.toplevel, *args, env=_QUIET)
    if done.returncode != 0:
        raise OutsideError(
            f"cannot fetch {branch} from {remote} ({remote_url(git, remote)}): {_why(done.stderr)}"
        )
    return git.resolve_revision(tracking)


def tracking_ref(remote: str, branch: str) -> str:
    """``refs/remotes/origin/main``."""
    return f"refs/remotes/{remote}/{branch}"


def fast_forward(git: GitRepo, commit: str) -> bool:
    """Move the current branch (and the working tree) forward to commit; True when it moved.

    Raises:
        OutsideError: the branch has commits the commit lacks (diverged), or a file the user
            changed is in the way.
    """
    head = git.head()
    if head == commit:
        return False
    args = ("merge", "--ff-only", "--quiet", commit)
    done = try_git(git.toplevel, *args)
    if done.returncode != 0:
        raise git_failure(args, done.stderr)
    return True


def move_to(git: GitRepo, commit: str) -> None:
    """Point the current branch at commit, keeping the user's uncommitted changes (``reset --keep``).

    Only for replacing lamina's own unpushed pin commit with its rebuilt twin.
    """
    args = ("reset", "--keep", "--quiet", commit)
    done = try_git(git.toplevel, *args)
    if done.returncode != 0:
        raise git_failure(args, done.stderr)


def push(git: GitRepo, remote: str, branch: str, commit: str) -> PushOutcome:
    """Push commit to the remote's branch, never forced.

    Raises:
        OutsideError: the push failed for another reason than the branch having moved on
            (unreachable, refused by a hook or permissions), naming the remote.
    """
    done = try_git(
        git.toplevel, "push", "--porcelain", "--quiet", remote, f"{commit}:refs/heads/{branch}", env=_QUIET
    )
    if done.returncode == 0:
        return PushOutcome.PUSHED
    said = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    if any(marker in said for marker in _MOVED_MARKERS):
        return PushOutcome.MOVED
    raise OutsideError(f"cannot push to {remote} ({remote_url(git, remote)}) {branch}: {_why(done.stderr)}")


def commits_ahead(git: GitRepo, base: str, tip: str) -> int:
    """How many commits tip has that base lacks."""
    done = try_git(git.toplevel, "rev-list", "--count", f"{base}..{tip}")
    if done.returncode != 0:
        raise git_failure(("rev-list",), done.stderr)
    return int(done.stdout.decode().strip() or 0)


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    """True when older is newer or one of its ancestors (False when this clone lacks older)."""
    if older == newer:
        return True
    if try_git(root, "cat-file", "-e", f"{older}^{{commit}}").returncode != 0:
        return False
    done = try_git(root, "merge-base", "--is-ancestor", older, newer)
    if done.returncode not in (0, 1):
        raise git_failure(("merge-base",), done.stderr)
    return done.returncode == 0


_QUIET = {"GIT_TERMINAL_PROMPT": "0"}  # a remote that wants a password fails instead of asking


def _why(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal: ", "error: ")):
            return line.split(": ", 1)[1]
    return lines[-1] if lines else "no output"


def holder_of(path: Path) -> GitRepo | None:
    """The git repository a path is (or would be, once made) inside, or None."""
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return GitRepo.find(probe if probe.is_dir() else probe.parent)


def commit_folder(git: GitRepo, folder: str, message: str) -> str | None:
    """Commit what changed under folder (git-top-level relative) alone; None when nothing did.

    Whatever else the user staged stays staged and out of the commit.
    """
    args: tuple[str, ...] = ("add", "-A", "--", folder)
    done = try_git(git.toplevel, *args)
    if done.returncode != 0:
        raise git_failure(args, done.stderr)
    if try_git(git.toplevel, "diff", "--cached", "--quiet", "--", folder).returncode == 0:
        return None
    args = (*git.identity_args(), "commit", "-q", "-F", "-", "--", folder)
    done = try_git(git.toplevel, *args, input_bytes=message.encode("utf-8"))
    if done.returncode != 0:
        raise git_failure(args, done.stderr)
    return git.head()


def push_branch(git: GitRepo, remote: str, attempts: int) -> str:
    """Push the current branch to remote, never forced; when the remote moved on, fetch and
    rebase onto it (lamina's own commits only move) and try again, attempts times in all.

    Returns:
        the commit pushed.

    Raises:
        InputError: HEAD is detached.
        OutsideError: the remote cannot be reached, a rebase conflicts, or every attempt was
            refused (naming the remote).
    """
    branch = require_branch(git, "render --commit")
    for _ in range(attempts):
        head = git.head()
        assert head is not None
        if push(git, remote, branch, head) is PushOutcome.PUSHED:
            return head
        upstream = fetch(git, remote, branch)
        args = ("rebase", "--quiet", upstream)
        done = try_git(git.toplevel, *args)
        if done.returncode != 0:
            try_git(git.toplevel, "rebase", "--abort")
            raise OutsideError(
                f"cannot push to {remote} ({remote_url(git, remote)}) {branch}: it moved on and the "
                f"rendered commit does not rebase onto it: {_why(done.stderr)}"
            )
    raise OutsideError(
        f"cannot push to {remote} ({remote_url(git, remote)}) {branch}: the branch moved on before each "
        f"of {attempts} attempt(s); run render --commit again"
    )
