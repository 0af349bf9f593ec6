"""Who last changed a line: ``git blame`` of one file line, at a revision or in the working tree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from lamina.errors import OutsideError
from lamina.source.trees import GitRepo, run_git

UNCOMMITTED = "0" * 40


class Blame(msgspec.Struct, frozen=True):
    """The commit that last changed a line, its author and its time (None: not committed yet)."""

    commit: str | None
    author: str
    email: str
    at: datetime | None
    summary: str

    def to_json(self) -> dict[str, Any]:
        """``explain --blame --json``: the commit, author and ISO 8601 UTC time."""
        return {
            "commit": self.commit,
            "author": self.author,
            "email": self.email,
            "date": self.at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.at else None,
            "summary": self.summary,
        }


def blame_line(git: GitRepo, file: str, line: int, revision: str | None) -> Blame | None:
    """The last change of line (1-based) of file (relative to the config repository), or None when
    git cannot tell (the file is not in git at that revision)."""
    where = [revision] if revision else []
    try:
        out = run_git(
            git.toplevel, "blame", "--porcelain", "-L", f"{line},{line}", *where, "--", git.prefix + file
        )
    except OutsideError:
        return None
    lines = out.decode("utf-8", "replace").splitlines()
    if not lines:
        return None
    commit = lines[0].split()[0]
    headers: dict[str, str] = {}
    for text in lines[1:]:
        if text.startswith("\t"):
            break
        key, _, value = text.partition(" ")
        headers[key] = value
    if commit == UNCOMMITTED:
        return Blame(None, "not committed yet", "", None, "")
    return Blame(
        commit,
        headers.get("author", ""),
        headers.get("author-mail", "").strip("<>"),
        datetime.fromtimestamp(int(headers.get("author-time", "0")), UTC),
        headers.get("summary", ""),
    )
