"""``render --out DIR --commit``: the rendered folders as one commit of the git repository
that holds DIR (the config repository itself, or a deploy repository of their own, the pattern
of Argo CD's source hydrator), carrying where they came from::

    render support-agent at 3f2a9c1d0e4b

    Lamina-Source-Revision: 3f2a9c1d0e4b...   (the config repository's HEAD)
    Lamina-Request: PR-12                      (each request a pin of lamina.lock names)

An unchanged fleet makes no commit. With ``[git] push = true`` the commit is pushed to
``[git] remote`` of that repository, never forced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lamina.errors import InputError
from lamina.fleet.git_settings import GitSettings
from lamina.source import remotes
from lamina.source.trees import GitRepo

SOURCE_TRAILER = "Lamina-Source-Revision"
REQUEST_TRAILER = "Lamina-Request"


@dataclass(frozen=True)
class Holder:
    """The git repository a rendered folder lives in, and the folder's path inside it."""

    git: GitRepo
    folder: str
    """The folder relative to the repository's top level (``""`` for the top level itself)."""

    def remote_url(self) -> str | None:
        """Its ``origin``, the repository Argo CD and Flux sync."""
        return self.git.remote_url()


def holder(out: Path) -> Holder:
    """The git repository that holds out.

    Raises:
        InputError: out is in no git repository (Argo CD and Flux sync folders from git).
    """
    git = remotes.holder_of(out)
    if git is None:
        raise InputError(
            f"--gitops: {out} is in no git repository; Argo CD and Flux sync folders from git: "
            "render into the config repository or a deploy repository (git init; git remote add origin URL)"
        )
    top = git.toplevel.resolve()
    folder = out.resolve().relative_to(top).as_posix()
    return Holder(git, "" if folder == "." else folder)


def message(fleet: str, source_revision: str | None, requests: Sequence[str]) -> str:
    """The commit message of a rendered change, trailers last."""
    at = f" at {source_revision[:12]}" if source_revision else ""
    lines = [f"render {fleet}{at}", ""]
    if source_revision:
        lines.append(f"{SOURCE_TRAILER}: {source_revision}")
    lines.extend(f"{REQUEST_TRAILER}: {request}" for request in sorted(set(requests)))
    return "\n".join(lines) + "\n"


def commit(place: Holder, text: str, settings: GitSettings) -> tuple[str | None, bool]:
    """Commit the rendered folder; push it when ``[git]`` says so.

    Returns:
        the new commit (None: nothing changed) and whether it was pushed.
    """
    made = remotes.commit_folder(place.git, place.folder or ".", text)
    if made is None or not settings.pushes:
        return made, False
    assert settings.remote is not None
    return remotes.push_branch(place.git, settings.remote, settings.push_attempts), True
