"""Telling people when the tracked branch has validation problems.

Each revision :class:`~lamina.server.revisions.GitSync` fetches is validated (what ``lamina
validate`` checks, read from git at that revision, never from a working tree that may move
meanwhile) in a thread of its own, so a fetch or a push webhook does not wait for it. When the
revision has problems, each environment they touch gets one ``validation-failed`` notice,
written to the outbox in the transaction of its audit record (``validation.failed``). The
idempotency key is the revision and the environment, so a revision is told once per
environment however often it is seen: by this replica again, by another replica, or after a
restart. A problem of ``base/`` or of the whole repository touches every environment; one of
``overlays/X`` every environment built on X; one of a target or a cluster layer its environment.

What a notice says of a problem is its place (file:line), where it is, its key and its message,
each passed through :mod:`lamina.reports.presenting` so no credential-like literal reaches a sink.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lamina.core.notices import Draft, Topic
from lamina.errors import InputError, LaminaError
from lamina.fleet.model import Fleet
from lamina.reports import presenting
from lamina.resolve.repository import Repository
from lamina.store import audit, outbox
from lamina.store.database import Database
from lamina.validate import runner
from lamina.validate.diagnostics import Diagnostic

LOG = logging.getLogger("lamina.server.validity")

ACTION = "validation.failed"
"""The audit action of a revision found with problems (one record per environment told)."""
SHOWN = 20
"""The most problems one notice lists (it counts the rest)."""


@dataclass(frozen=True)
class Problem:
    """One validation problem as a notice tells it.

    Attributes:
        text: ``file:line: where: key: message``, masked.
        environments: the environments it touches (empty: every environment).
    """

    text: str
    environments: frozenset[str]


@dataclass(frozen=True)
class Finding:
    """What one look at a revision found and wrote."""

    revision: str
    problems: tuple[Problem, ...]
    told: tuple[str, ...]
    """The environments a notice was written for by this look (not those told before)."""


def key_of(revision: str, environment: str | None) -> str:
    """The idempotency key of a revision's notice to an environment."""
    return f"validation-failed/{revision}/{environment or '-'}"


def problems_of(repo: Repository) -> tuple[Problem, ...]:
    """Every problem ``lamina validate`` reports for repo, with the environments each touches.

    A revision that does not resolve is one problem: the error, at its place.
    """
    fleet = repo.fleet
    try:
        report = runner.run(repo)
    except InputError as exc:
        return (Problem(_masked(str(exc)), _environments_in_error(exc, fleet)),)
    return tuple(Problem(_masked(str(d)), _environments_of(d, fleet)) for d in report.diagnostics)


def write(
    db: Database,
    revision: str,
    problems: Sequence[Problem],
    environments: Collection[str],
    now: datetime,
    branch: str | None = None,
) -> tuple[str, ...]:
    """Write one notice per environment touched by problems, each with its audit record, in one
    transaction; an environment told of this revision before is skipped (nothing is written for it).

    Args:
        environments: every environment (a problem touching none in particular touches these);
            empty when they are unknown: then one notice with no environment is written.

    Returns:
        The environments written for (``"-"`` for the one with no environment).
    """
    by_env: dict[str | None, list[str]] = {}
    every: list[str | None] = [*sorted(environments)] or [None]
    for problem in problems:
        for env in sorted(problem.environments) or every:
            by_env.setdefault(env, []).append(problem.text)

    def transaction(session: Session) -> tuple[str, ...]:
        told = []
        for env, texts in sorted(by_env.items(), key=lambda item: item[0] or ""):
            facts: dict[str, Any] = {"revision": revision, "count": len(texts), "problems": texts[:SHOWN]}
            if branch:
                facts["branch"] = branch
            draft = Draft(
                key=key_of(revision, env),
                topic=Topic.VALIDATION_FAILED,
                environment=env,
                subject=revision[:12],
                facts=presenting.mask_tree(facts),
            )
            if not outbox.add(session, draft, now):
                continue  # told before: by this replica, another one, or before a restart
            audit.append(
                session,
                actor="lamina",
                action=ACTION,
                at=now,
                environment=env,
                subject=revision[:12],
                detail={"revision": revision, "problems": len(texts)},
            )
            told.append(env or "-")
        return tuple(told)

    return db.run(transaction)


class RevisionCheck:
    """Validates each revision a server fetches, in a background thread, and tells of problems.

    Args:
        root: the config repository (inside the clone the server serves).
        database: the state database the outbox is in.
        clock: the current time (UTC).
        on_written: called with each look that wrote a notice (the sender's ``wake``).
    """

    def __init__(
        self,
        root: Path,
        database: Database,
        clock: Callable[[], datetime],
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self.root = root
        self.database = database
        self.clock = clock
        self.on_written = on_written
        self.looked: str | None = None
        """The last revision this process looked at."""
        self.problems: int | None = None
        """How many problems it had (None before the first look)."""
        self.runs = 0
        """How many revisions this process validated."""
        self._environments: frozenset[str] = frozenset()
        self._wanted: tuple[str, str | None] | None = None
        self._looking: str | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def fetched(self, revision: str | None, branch: str | None = None) -> None:
        """A fetch left the server serving revision: look at it (soon, in the background),
        unless it is the revision looked at last, or being looked at."""
        if revision is None:
            return
        with self._cond:
            wanted = self._wanted[0] if self._wanted is not None else None
            if revision in (self.looked, self._looking, wanted):
                return
            self._wanted = (revision, branch)
            self._cond.notify()

    def look(self, revision: str, branch: str | None = None) -> Finding:
        """Validate revision and write its notices (what the background thread does).

        Raises:
            OutsideError: the revision cannot be read from git, or the database cannot be written.
        """
        try:
            repo = Repository(self.root, revision=revision)
        except InputError as exc:  # a fleet that does not load: told the environments known before
            problems: tuple[Problem, ...] = (Problem(_masked(str(exc)), frozenset()),)
        else:
            with repo:
                self._environments = frozenset(repo.fleet.environments)
                problems = problems_of(repo)
        told: tuple[str, ...] = ()
        if problems:
            told = write(self.database, revision, problems, self._environments, self.clock(), branch)
            if told:
                LOG.warning(
                    "revision %s has %d validation problem(s); told %s",
                    revision[:12],
                    len(problems),
                    ", ".join(told),
                )
                if self.on_written is not None:
                    self.on_written()
        self.looked, self.problems = revision, len(problems)
        self.runs += 1
        return Finding(revision, problems, told)

    def start(self) -> None:
        """Look at fetched revisions in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="lamina-revision-check", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (a look under way finishes first)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._wanted is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                wanted, self._wanted = self._wanted, None
                assert wanted is not None
                self._looking = wanted[0]
            try:
                self.look(*wanted)
            except LaminaError as exc:
                LOG.error("revision %s not validated: %s", wanted[0][:12], exc)
            except Exception as exc:  # the thread must outlive any one look
                LOG.error("revision %s not validated: %s: %s", wanted[0][:12], type(exc).__name__, exc)
            finally:  # a look that failed is tried again at the next fetch
                with self._cond:
                    self._looking = None


def _masked(text: str) -> str:
    shown: str = presenting.mask_tree(text)
    return shown


def _environments_of(diagnostic: Diagnostic, fleet: Fleet) -> frozenset[str]:
    if diagnostic.target is not None:
        return frozenset({diagnostic.target.split("/", 1)[0]})
    return _environments_of_layer(diagnostic.layer, fleet)


def _environments_of_layer(layer: str | None, fleet: Fleet) -> frozenset[str]:
    kind, _, name = (layer or "").partition("/")
    if kind == "overlays" and name in fleet.environments:
        return frozenset(env for env in fleet.environments if name in fleet.chain(env))
    if kind == "clusters" and name in fleet.clusters:
        return frozenset({fleet.clusters[name].environment})
    return frozenset()  # base, the repository: every environment


def _environments_in_error(exc: LaminaError, fleet: Fleet) -> frozenset[str]:
    """The environments of an error that stopped validation, from the file it names."""
    if exc.place is None:
        return frozenset()
    parts = Path(exc.place.file).parts
    if len(parts) >= 2 and parts[0] in ("overlays", "clusters"):
        return _environments_of_layer(f"{parts[0]}/{Path(parts[1]).stem}", fleet)
    return frozenset()
