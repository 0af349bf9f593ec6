"""The revision a server serves, kept the remote's: fetched every ``[git] fetch_interval`` and
at once on a signed push webhook.

``lamina serve`` runs on a clone. :class:`GitSync` fetches ``[git] branch`` from ``[git]
remote`` and fast-forwards the clone's branch and working tree to it (never anything else:
a clone whose branch has diverged keeps serving what it has and logs why), under the clone's
apply lock so no pin commit is made while the branch moves. Replicas that fetch the same
remote serve the same revision. Without a ``[git]`` table nothing is fetched.

The webhook's payload is never read: a valid signature only makes the server fetch sooner.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lamina.errors import InputError, LaminaError
from lamina.fleet.git_settings import GitSettings
from lamina.promote import applying
from lamina.resolve.repository import Repository
from lamina.source import remotes
from lamina.source.trees import GitRepo

LOG = logging.getLogger("lamina.server.git")


@dataclass(frozen=True)
class Synced:
    """What one fetch did."""

    before: str | None
    after: str | None
    fetched: bool
    """False when there is no ``[git]`` table (nothing to fetch from)."""

    @property
    def moved(self) -> bool:
        """True when the served revision changed."""
        return self.before != self.after


class GitSync:
    """Fetching and fast-forwarding the clone a server serves.

    Args:
        root: the config repository (inside the clone).
        environ: the process environment the webhook secret is read from.
        on_fetched: called after every fetch with the revision served and the branch tracked
            (quickly: it runs under the fetch's lock; the server's revision check only notes it).
    """

    def __init__(
        self,
        root: Path,
        environ: Mapping[str, str],
        on_fetched: Callable[[str | None, str], None] | None = None,
    ) -> None:
        self.root = root
        self.environ = environ
        self.on_fetched = on_fetched
        self.last_fetch: float | None = None
        """When the last fetch succeeded (seconds since the epoch)."""
        self.failures = 0
        """Fetches that failed since the process started."""
        self._settings: GitSettings | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._revision: tuple[object, str | None] | None = None
        self._dirs: tuple[tuple[Path, Path] | None] | None = None  # found on first use

    def settings(self) -> GitSettings:
        """``[git]`` as the served revision says; when its lamina.toml does not load, as the last
        revision that loaded said (so a broken push does not stop the server fetching its fix).

        Raises:
            InputError: lamina.toml does not load and never did in this process.
        """
        try:
            with Repository(self.root) as repo:
                self._settings = repo.fleet.settings.git
        except InputError as exc:
            if self._settings is None:
                raise
            LOG.warning("the served lamina.toml does not load (%s); fetching as [git] said before", exc)
        return self._settings

    def revision(self) -> str | None:
        """The commit the server serves now (None outside git or before the first commit).

        Every page shows it, so git is asked only when HEAD, the branch it names or the packed
        refs changed on disk (a commit, a fetch, a checkout each replace one of those files).
        """
        if self._dirs is None:
            self._dirs = (git_dirs(self.root),)
        seen = head_files(self._dirs[0])
        kept = self._revision
        if seen is not None and kept is not None and kept[0] == seen:
            return kept[1]
        git = GitRepo.find(self.root)
        found = git.head() if git is not None else None
        self._revision = (seen, found)  # the files as they were before git was asked
        return found

    def sync(self) -> Synced:
        """Fetch the remote's branch and fast-forward to it.

        Raises:
            OutsideError: the remote cannot be fetched, or the branch cannot be fast-forwarded.
            InputError: lamina.toml cannot be read.
        """
        with self._lock:
            git = GitRepo.find(self.root)
            settings = self.settings()
            before = git.head() if git is not None else None
            if git is None or settings.remote is None:
                return Synced(before, before, fetched=False)
            try:
                upstream = remotes.fetch(git, settings.remote, settings.branch)
                with applying.apply_lock(self.root):
                    remotes.fast_forward(git, upstream)
            except LaminaError:
                self.failures += 1
                raise
            self.last_fetch = time.time()
            after = git.head()
            if after != before:
                LOG.info("serving %s (was %s)", (after or "")[:12], (before or "")[:12])
            if self.on_fetched is not None:
                self.on_fetched(after, settings.branch)
            return Synced(before, after, fetched=True)

    def webhook_secret(self) -> str | None:
        """The push webhook's secret (``[git] webhook_secret_env``), None when there is none."""
        name = self.settings().webhook_secret_env
        value = self.environ.get(name) if name else None
        return value or None

    def start(self) -> None:
        """Fetch every ``[git] fetch_interval`` in a background thread (none when zero or no ``[git]``)."""
        settings = self.settings()
        seconds = settings.fetch_interval.total_seconds()
        if settings.remote is None or seconds <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(seconds,), name="lamina-git-fetch", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the fetch loop (a running fetch finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self, seconds: float) -> None:
        wait = 0.0  # the first fetch at once: a replica that starts serves what the remote has
        while not self._stop.wait(wait):
            wait = seconds
            try:
                self.sync()
            except LaminaError as exc:
                LOG.error("scheduled git fetch failed: %s", exc)
            except Exception as exc:  # the loop must outlive any one fetch
                LOG.error("scheduled git fetch failed: %s: %s", type(exc).__name__, exc)


def signed(body: bytes, secret: str, headers: Mapping[str, str]) -> bool:
    """True when the request carries GitHub's ``X-Hub-Signature-256`` (HMAC-SHA256 of the body)
    or GitLab's ``X-Gitlab-Token`` made with secret; compared in constant time."""
    signature = headers.get("x-hub-signature-256")
    if signature is not None:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.strip().encode(), expected.encode())
    token = headers.get("x-gitlab-token")
    if token is not None:
        return hmac.compare_digest(token.encode(), secret.encode())
    return False


def git_dirs(root: Path) -> tuple[Path, Path] | None:
    """The git directory holding root and its common directory (the same folder but in a
    linked worktree), or None outside git or when they cannot be read."""
    for folder in (root, *root.parents):
        dot_git = folder / ".git"
        try:
            if dot_git.is_dir():
                git_dir = dot_git
            elif dot_git.is_file():  # a linked worktree or a submodule: "gitdir: PATH"
                named = dot_git.read_text().strip()
                if not named.startswith("gitdir: "):
                    return None
                git_dir = (folder / named[8:]).resolve()
            else:
                continue
            common = git_dir
            if (git_dir / "commondir").is_file():
                common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
        except OSError:
            return None
        return git_dir, common
    return None


def head_files(dirs: tuple[Path, Path] | None) -> tuple[object, ...] | None:
    """What HEAD says and the identity (inode, size, mtime) of the files that say which commit
    it is: it changes with every commit, fetch, reset or checkout. None when HEAD cannot be
    read (git is asked then)."""
    if dirs is None:
        return ("no git",)
    git_dir, common = dirs
    try:
        head = (git_dir / "HEAD").read_text()
    except OSError:
        return None
    files = [git_dir / "HEAD", common / "packed-refs"]
    if head.startswith("ref: "):
        files += [git_dir / head[5:].strip(), common / head[5:].strip()]
    return (head, *(_identity(path) for path in files))


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns)
