"""Promotion in git: the commit that moves a pin, finding it again, and revision order.

A pin moves only by a commit that changes ``lamina.lock`` alone and carries a
``Lamina-Request: PR-<id>`` trailer, so an apply interrupted between the commit and the
database write is recognised when it is run again and never commits twice.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from lamina.errors import InputError, OutsideError
from lamina.fleet import lockfile
from lamina.source.trees import GitRepo, run_git

TRAILER = "Lamina-Request"
PIN_INDEX = "lamina-pin-index"  # the private index pin commits are built in, inside the git folder


def lock_path(git: GitRepo) -> str:
    """lamina.lock relative to the git top level."""
    return git.prefix + lockfile.LOCK_FILE


def is_ancestor(git: GitRepo, older: str, newer: str) -> bool:
    """True when older is newer or one of its ancestors (``git merge-base --is-ancestor``)."""
    if older == newer:
        return True
    try:
        done = subprocess.run(
            ["git", "-C", str(git.toplevel), "merge-base", "--is-ancestor", older, newer],
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise OutsideError(f"cannot run git: {exc.strerror}") from exc
    if done.returncode not in (0, 1):
        message = done.stderr.decode("utf-8", "replace").strip()
        raise OutsideError(f"git merge-base failed: {message or 'no output'}")
    return done.returncode == 0


def commit_time(git: GitRepo, revision: str) -> datetime:
    """The committer time of a revision."""
    text = run_git(git.toplevel, "show", "-s", "--format=%cI", revision).decode().strip()
    return datetime.fromisoformat(text)


def lock_at(git: GitRepo, revision: str) -> bytes | None:
    """The bytes of lamina.lock at a revision, or None when it has none."""
    done = subprocess.run(
        ["git", "-C", str(git.toplevel), "show", f"{revision}:{lock_path(git)}"],
        capture_output=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def lock_dirty(git: GitRepo) -> bool:
    """True when lamina.lock differs from HEAD (edited, staged or untracked)."""
    out = run_git(git.toplevel, "status", "--porcelain", "--untracked-files=all", "--", lock_path(git))
    return bool(out.strip())


def find_request_commit(git: GitRepo, request: str) -> str | None:
    """The commit on HEAD's history whose ``Lamina-Request`` trailer is request, if any."""
    if git.head() is None:
        return None
    out = run_git(
        git.toplevel,
        "log",
        "--fixed-strings",
        f"--grep={TRAILER}: {request}",
        f"--format=%H%x00%(trailers:key={TRAILER},valueonly,separator=%x2C)%x01",
        "HEAD",
    ).decode("utf-8", "replace")
    for record in out.split("\x01"):
        commit, _, values = record.strip().partition("\x00")
        if commit and request in (v.strip() for v in values.split(",")):
            return commit
    return None


def commit_lock(git: GitRepo, message: str) -> str:
    """Commit lamina.lock alone (whatever else is staged stays staged) and return the commit.

    The commit is built in a private index in the git folder, so a process killed mid-commit
    (a hook still running, the server stopped) leaves no ``index.lock`` that would block the
    user's git and the next apply; callers hold the apply lock, so a leftover private index
    is lamina's own and is removed. The repository's own hooks run: a pre-commit or
    commit-msg hook that refuses the pin commit fails the apply with the hook's message.
    """
    path = lock_path(git)
    index = Path(
        run_git(git.toplevel, "rev-parse", "--path-format=absolute", "--git-path", PIN_INDEX).decode().strip()
    )
    for stale in (index, index.with_name(index.name + ".lock")):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    private = {"GIT_INDEX_FILE": str(index)}
    try:
        if git.head() is not None:
            run_git(git.toplevel, "read-tree", "HEAD", env=private)
        run_git(git.toplevel, "add", "--", path, env=private)
        run_git(
            git.toplevel,
            *git.identity_args(),
            "commit",
            "-q",
            "-F",
            "-",
            input_bytes=message.encode(),
            env=private,
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            index.unlink()
    head = git.head()
    if head is None:
        raise OutsideError("git commit left no HEAD")
    index_follows(git)
    return head


def rebuild_pin(git: GitRepo, commit: str, base: str, environment: str) -> str:
    """lamina's pin commit made again on top of base: base's lamina.lock with commit's pin of
    environment set in it, the same message and author; returns the new commit (no branch moves).

    Built from plumbing in a private index, so neither the user's index nor working tree is
    touched; the original commit already passed the repository's hooks.
    """
    ours = lockfile.parse_pins(lock_at(git, commit) or b"")
    if environment not in ours:
        raise OutsideError(f"pin commit {commit[:12]} does not pin {environment}")
    base_lock = lock_at(git, base)
    pins = lockfile.parse_pins(base_lock) if base_lock is not None else {}
    pins[environment] = ours[environment]
    data = lockfile.format_pins(pins.values()).encode("utf-8")
    blob = run_git(git.toplevel, "hash-object", "-w", "--stdin", input_bytes=data).decode().strip()
    fields = run_git(git.toplevel, "show", "-s", "--format=%an%x00%ae%x00%aI%x00%B", commit).decode("utf-8")
    name, email, date, message = fields.split("\x00", 3)
    index = Path(
        run_git(git.toplevel, "rev-parse", "--path-format=absolute", "--git-path", PIN_INDEX).decode().strip()
    )
    private = {"GIT_INDEX_FILE": str(index)}
    author = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
    try:
        run_git(git.toplevel, "read-tree", base, env=private)
        run_git(
            git.toplevel,
            "update-index",
            "--add",
            "--cacheinfo",
            f"100644,{blob},{lock_path(git)}",
            env=private,
        )
        tree = run_git(git.toplevel, "write-tree", env=private).decode().strip()
    finally:
        with contextlib.suppress(FileNotFoundError):
            index.unlink()
    made = run_git(
        git.toplevel,
        *git.identity_args(),
        "commit-tree",
        tree,
        "-p",
        base,
        "-F",
        "-",
        input_bytes=message.rstrip("\n").encode("utf-8") + b"\n",
        env=author,
    )
    return made.decode().strip()


def index_follows(git: GitRepo) -> None:
    """Make the user's index agree with HEAD for lamina.lock (only), as a plain commit would leave it."""
    with contextlib.suppress(OutsideError):  # a read-only .git: git status shows it, nothing is lost
        run_git(git.toplevel, "reset", "-q", "--", lock_path(git))


def restore_lock(git: GitRepo, before: bytes | None) -> None:
    """Undo a pin write whose commit failed: lamina.lock's bytes back, and unstaged when git can."""
    lockfile.restore(git.toplevel / git.prefix, before)
    with contextlib.suppress(OutsideError):  # a read-only .git cannot have staged it either
        run_git(git.toplevel, "reset", "-q", "--", lock_path(git))


def lock_history(git: GitRepo, limit: int = 500) -> list[tuple[str, datetime, str, str]]:
    """Commits that changed lamina.lock, newest first: (commit, time, author email, subject)."""
    if git.head() is None:
        return []
    out = run_git(
        git.toplevel,
        "log",
        f"-n{limit}",
        "--format=%H%x00%aI%x00%ae%x00%s%x01",
        "HEAD",
        "--",
        lock_path(git),
    ).decode("utf-8", "replace")
    rows = []
    for record in out.split("\x01"):
        fields = record.strip().split("\x00")
        if len(fields) == 4:
            rows.append((fields[0], datetime.fromisoformat(fields[1]), fields[2], fields[3]))
    return rows


def commit_message(
    *,
    request: str,
    kind: str,
    source: str | None,
    target: str,
    revision: str,
    requester: str,
    approvers: Sequence[str],
    reason: str | None,
    emergency: bool,
) -> str:
    """The message of a pin commit: what moved, who asked, who approved, why; trailers last."""
    verb = "roll back" if kind == "rollback" else "promote"
    origin = f" from {source}" if source else ""
    flag = "EMERGENCY: " if emergency else ""
    lines = [f"{flag}{verb} {target} to {revision[:12]}{origin} ({request})", ""]
    lines.append(reason.strip() if reason and reason.strip() else "No reason given.")
    lines.append("")
    if emergency:
        lines.append("Emergency promotion: the promotion path was not required; a backfill is due.")
        lines.append("")
    lines.append(f"Lamina-Requested-By: {_one_line(requester)}")
    lines.extend(f"Lamina-Approved-By: {_one_line(name)}" for name in approvers)
    lines.append(f"Lamina-Emergency: {'yes' if emergency else 'no'}")
    lines.append(f"{TRAILER}: {request}")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise InputError(f"user name {text!r} spans several lines")
    return text
