"""The audit chain verifies after valid appends and names the first row an edit broke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from lamina.store import audit
from lamina.store.database import Database
from lamina.store.models import AuditRecord

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def fill(db: Database, count: int) -> None:
    for index in range(count):
        db.run(
            lambda s, i=index: audit.append(
                s,
                actor=f"user{i % 3}@example.com",
                action="promotion.request",
                at=T0 + timedelta(minutes=i),
                environment="staging",
                subject=f"PR-{i}",
                detail={"revision": f"{i:040x}", "reason": "ünïcode reason"},
            )
        )


def test_chain_verifies_after_appends(database_url: str) -> None:
    db = Database(database_url)
    fill(db, 5)
    result = db.read(audit.verify)
    assert result.ok and result.rows == 5


@pytest.mark.parametrize(
    ("tamper", "first_broken", "problem"),
    [
        pytest.param(
            lambda s: s.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(actor="mallory")),
            3,
            "its content was changed",
            id="edited-actor",
        ),
        pytest.param(
            lambda s: s.execute(
                update(AuditRecord).where(AuditRecord.seq == 2).values(detail={"revision": "x"})
            ),
            2,
            "its content was changed",
            id="edited-detail",
        ),
        pytest.param(
            lambda s: s.execute(delete(AuditRecord).where(AuditRecord.seq == 4)),
            5,
            "row 4 is missing",
            id="removed-row",
        ),
        pytest.param(
            lambda s: s.execute(delete(AuditRecord).where(AuditRecord.seq == 5)),
            None,
            None,
            id="removed-last-row-is-not-detectable-by-the-chain-alone",
        ),
    ],
)
def test_tampering_is_found(
    database_url: str, tamper: object, first_broken: int | None, problem: str | None
) -> None:
    db = Database(database_url)
    fill(db, 5)
    db.run(tamper)  # type: ignore[arg-type]
    result = db.read(audit.verify)
    assert result.first_broken == first_broken
    assert result.problem == problem
    assert result.ok is (first_broken is None)


def test_hash_recomputes_from_what_the_database_returns(database_url: str) -> None:
    db = Database(database_url)
    fill(db, 1)
    row = db.read(lambda s: s.execute(select(AuditRecord)).scalar_one())
    assert audit.timestamp(row.at) == "2026-11-28T09:00:00.000000Z"


def test_newer_schema_is_refused(tmp_path: object) -> None:
    from pathlib import Path

    from lamina.errors import InputError

    url = f"sqlite:///{Path(str(tmp_path)) / 'state.db'}"
    Database(url).ensure_schema()
    db = Database(url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(InputError, match="newer than this lamina knows"):
        Database(url).ensure_schema()


def test_a_database_url_into_a_missing_folder_is_a_clear_error(tmp_path: object) -> None:
    from pathlib import Path

    from lamina.errors import InputError

    url = f"sqlite:///{Path(str(tmp_path)) / 'no-such-folder' / 'state.db'}"
    with pytest.raises(InputError, match="in a folder that does not exist"):
        Database(url).ensure_schema()
    assert not (Path(str(tmp_path)) / "no-such-folder").exists()


def test_corrupt_database_is_a_clear_error(tmp_path: object) -> None:
    from pathlib import Path

    from lamina.errors import LaminaError

    path = Path(str(tmp_path)) / "state.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LaminaError, match=r"state\.db"):
        Database(f"sqlite:///{path}").ensure_schema()


def test_schema_head_matches_the_migrations() -> None:
    from lamina.store import database, migrating

    assert migrating.head() == database.SCHEMA_HEAD


ROWS = [
    ("ann@example.com", "freeze", "production", 0),
    ("bob@example.com", "promotion.request", "staging", 10),
    ("ann@example.com", "promotion.approve", "staging", 20),
    ("cy@example.com", "apply", "production", 30),
    ("ann@example.com", "freeze_window", "production", 40),
]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param({}, [5, 4, 3, 2, 1], id="all-newest-first"),
        pytest.param({"environment": "production"}, [5, 4, 1], id="env"),
        pytest.param({"actor": "ann@example.com"}, [5, 3, 1], id="actor"),
        pytest.param({"action": "promotion"}, [3, 2], id="action-prefix"),
        pytest.param({"action": "freeze"}, [1], id="action-exact-not-a-longer-name"),
        pytest.param({"action": "freez_"}, [], id="action-underscore-is-literal"),
        pytest.param({"since": T0 + timedelta(minutes=20)}, [5, 4, 3], id="since"),
        pytest.param(
            {"since": (T0 + timedelta(minutes=15)).astimezone(timezone(timedelta(hours=5)))},
            [5, 4, 3],
            id="since-in-another-zone",
        ),
        pytest.param({"actor": "ann@example.com", "environment": "staging"}, [3], id="combined"),
    ],
)
def test_newest_filters(database_url: str, filters: dict[str, Any], expected: list[int]) -> None:
    db = Database(database_url)
    for actor, action, environment, minutes in ROWS:
        db.run(
            lambda s, a=actor, b=action, e=environment, m=minutes: audit.append(
                s, actor=a, action=b, at=T0 + timedelta(minutes=m), environment=e
            )
        )
    assert [row.seq for row in db.read(lambda s: audit.newest(s, 100, **filters))] == expected
