"""Opening the state database and running one transaction per action.

SQLite (the default, ``.lamina/state.db``) runs in WAL mode and takes its write lock at the
start of every transaction (``BEGIN IMMEDIATE``) with a busy timeout, so two processes never
interleave a read-then-write. PostgreSQL transactions are SERIALIZABLE and retried when the
server reports a serialization failure. Either way an action is one transaction: its state
change and its audit record are written together or not at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lamina.errors import InputError, OutsideError

T = TypeVar("T")

SCHEMA_HEAD = "0005_outbox"
"""The newest Alembic revision this lamina knows (tests check it is the real head)."""

_RETRIES = 8


class Database:
    """The state database of one repository.

    Args:
        url: a SQLAlchemy URL (``sqlite:///...`` or ``postgresql://...``).
    """

    def __init__(self, url: str) -> None:
        for bare in ("postgresql://", "postgres://"):
            if url.startswith(bare):  # the driver lamina ships with
                url = "postgresql+psycopg2://" + url[len(bare) :]
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        try:
            if self.is_sqlite:
                self.engine: Engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(self.engine, "connect", _sqlite_connect)
                event.listen(self.engine, "begin", _sqlite_begin)
                # reads take no write lock: in WAL mode they see a consistent snapshot
                self.read_engine: Engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(self.read_engine, "connect", _sqlite_connect)
                event.listen(self.read_engine, "begin", _sqlite_begin_read)
            else:
                self.engine = create_engine(url, isolation_level="SERIALIZABLE", pool_pre_ping=True)
                self.read_engine = create_engine(url, isolation_level="REPEATABLE READ", pool_pre_ping=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise InputError(f"cannot use database URL {redact_url(url)}: {exc}") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self._ready = False

    @classmethod
    def for_repository(cls, root: Path, url: str | None) -> Database:
        """The database named by url, else ``<root>/.lamina/state.db``."""
        if url:
            return cls(url)
        folder = root / ".lamina"
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise OutsideError(f"cannot create {folder}: {exc.strerror}") from exc
        return cls(f"sqlite:///{folder / 'state.db'}")

    def ensure_schema(self) -> None:
        """Bring the schema to the newest version (once per process), refusing a newer one."""
        if self._ready:
            return
        with self._migration_lock():
            current = self._current_revision()
            if current != SCHEMA_HEAD:
                from lamina.store import migrating

                if current is not None and not migrating.knows(current):
                    raise InputError(
                        f"the state database {redact_url(self.url)} has schema version {current}, "
                        f"newer than this lamina knows ({SCHEMA_HEAD}); upgrade lamina"
                    )
                try:
                    migrating.upgrade(self.engine)
                except SQLAlchemyError as exc:
                    raise _outside(exc, self.url) from None
        self._ready = True

    def _current_revision(self) -> str | None:
        try:
            with self.read_engine.connect() as conn:  # no write lock just to read the version
                if self.is_sqlite:
                    exists = conn.exec_driver_sql(
                        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
                    ).first()
                else:
                    exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
                if not exists:
                    return None
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError as exc:
            raise _outside(exc, self.url) from None

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        # Many processes may open a new database at once: one migrates, the others wait.
        if self.is_sqlite:
            path = self.engine.url.database
            if not path or path == ":memory:":
                yield
                return
            folder = Path(path).parent
            if not folder.is_dir():
                raise InputError(
                    f"the state database {redact_url(self.url)} is in a folder that does not exist"
                )
            try:
                handle = open(f"{path}.lock", "a+")  # noqa: SIM115 - held for the whole block
            except OSError as exc:
                raise OutsideError(
                    f"state database {redact_url(self.url)} unavailable: {exc.strerror}"
                ) from None
            with handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(7412031)"))
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(7412031)"))
                    conn.commit()
        except DBAPIError as exc:
            raise _outside(exc, self.url) from None

    def run(self, action: Callable[[Session], T]) -> T:
        """Run action in one transaction and commit; retried when the database asks for it.

        Raises:
            OutsideError: the database is unreachable, locked for too long or corrupt.
        """
        self.ensure_schema()
        for attempt in range(_RETRIES):
            session = self._sessions()
            try:
                with session.begin():
                    return action(session)
            except DBAPIError as exc:
                if _retryable(exc) and attempt < _RETRIES - 1:
                    time.sleep(0.02 * 2**attempt)
                    continue
                raise _outside(exc, self.url) from None
            finally:
                session.close()
        raise AssertionError("unreachable")

    def read(self, query: Callable[[Session], T]) -> T:
        """Run a read-only query on a consistent snapshot, without taking the write lock."""
        self.ensure_schema()
        session = self._read_sessions()
        try:
            with session.begin():
                return query(session)
        except DBAPIError as exc:
            raise _outside(exc, self.url) from None
        finally:
            session.close()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
        self.read_engine.dispose()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_read(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "pgcode", None)
    return code in ("40001", "40P01")


def _outside(exc: SQLAlchemyError, url: str) -> InputError | OutsideError:
    message = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, DatabaseError) and ("file is not a database" in message or "malformed" in message):
        return InputError(f"the state database {redact_url(url)} is corrupt: {message}")
    return OutsideError(f"state database {redact_url(url)} unavailable: {message}")


def redact_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database URL>"
