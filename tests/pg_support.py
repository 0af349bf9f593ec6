"""A fresh, empty PostgreSQL database on a running server, for one test."""

from __future__ import annotations

import uuid

from lamina.store.database import Database


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
