"""What every route of one server shares, and how a request finds it.

``create_app`` builds one :class:`Context` per application and keeps it in
``app.state.context``; routes ask for it with :data:`Shared` (or :func:`of`), so no module
imports the application to reach the database, the tokens or the clock, and a test can
build a context (or a whole application with its own clock) without a running server.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request

from lamina.errors import InputError, LaminaError, OutsideError
from lamina.resolve.repository import Repository
from lamina.server import metrics, revisions, validity
from lamina.server.settings import ServerSettings
from lamina.server.tokens import TokenStore
from lamina.store.database import Database

LOG = logging.getLogger("lamina.server")

Clock = Callable[[], datetime.datetime]
"""The current time, in UTC; the server's pages, API and scheduled checks all read it."""

TargetHashes = dict[str, tuple[str, str] | str]
"""ENV/CLUSTER -> (short hash, hash), or the text of the error that stopped it resolving."""


def utc_now() -> datetime.datetime:
    """The wall clock, in UTC: the clock of a server nobody gave another one."""
    return datetime.datetime.now(datetime.UTC)


class Context:
    """What every request handler shares: settings, the database, the tokens, the clock.

    Args:
        settings: the server's settings, read once by ``lamina serve``.
        clock: the current time (UTC); tests pass a fixed one.
    """

    def __init__(self, settings: ServerSettings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.database = Database.for_repository(settings.repo_root, settings.database_url)
        self.metrics = metrics.Metrics(self.database)
        self.validity = validity.RevisionCheck(settings.repo_root, self.database, clock)
        """Validates each fetched revision and tells of its problems."""
        self.git = revisions.GitSync(settings.repo_root, settings.environ, self.validity.fetched)
        self.metrics.watch_git(self.git)
        self.metrics.watch_validity(self.validity)
        self._tokens: tuple[float, TokenStore] | None = None
        # answers kept until what they were computed from changes: name -> (stamp, answer)
        self.cache: dict[str, tuple[Any, Any]] = {}

    def tokens(self) -> TokenStore:
        """The tokens file, re-read when it changes (a new token works without a restart).

        Raises:
            OutsideError: the file cannot be read; nobody signs in until it can (the reason
                goes to the operator's log, not to whoever asked).
        """
        path = self.settings.tokens_file
        stamp = path.stat().st_mtime if path is not None and path.exists() else 0.0
        if self._tokens is None or self._tokens[0] != stamp:
            try:
                self._tokens = (stamp, TokenStore.load(path))
            except InputError as exc:
                LOG.error("%s", exc)
                raise OutsideError("the server's tokens file cannot be read (see the server's log)") from None
        return self._tokens[1]

    def target_hashes(self, repo: Repository) -> TargetHashes:
        """Every ENV/CLUSTER's (short hash, hash), or its error text.

        Recomputed only when a file of the repository (or HEAD) changed since the last call,
        like ``render``'s cache.
        """
        from lamina.render import cache

        stamp = cache.fingerprint(repo.root, {"head": repo.head()}, [])
        hit = self.cache.get("hashes")
        if hit is not None and hit[0] == stamp:
            found: TargetHashes = hit[1]
            return found
        hashes: TargetHashes = {}
        for ref in repo.targets():
            try:
                resolved = repo.resolve(ref)
                hashes[str(ref)] = (resolved.short_hash, resolved.config_hash)
            except LaminaError as exc:
                hashes[str(ref)] = str(exc)
        self.cache["hashes"] = (stamp, hashes)
        return hashes

    def served_revision(self) -> str:
        """The commit this replica serves, or ``working tree`` outside git (pages and /readyz show it)."""
        return self.git.revision() or "working tree"

    @contextmanager
    def repository(self) -> Iterator[Repository]:
        """The config repository as it is now, for one request."""
        with Repository(self.settings.repo_root) as repo:
            yield repo


def of(request: Request) -> Context:
    """The context of the application that serves request."""
    found: Context = request.app.state.context
    return found


async def _shared(request: Request) -> Context:
    # a dependency that blocks nothing: asynchronous, so it costs no trip through the thread pool
    return of(request)


Shared = Annotated[Context, Depends(_shared)]
"""A route parameter that receives the application's :class:`Context`."""
