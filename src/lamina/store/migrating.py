"""Alembic, run from inside lamina: the schema's history lives in ``store/migrations``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

_SCRIPTS = Path(__file__).parent / "migrations"


def _config() -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def knows(revision: str) -> bool:
    """True when revision is one of this lamina's schema versions."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())  # type: ignore[arg-type]
    return any(rev.revision == revision for rev in script.walk_revisions())


def head() -> str:
    """The newest schema version."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())  # type: ignore[arg-type]
    result = script.get_current_head()
    assert result is not None
    return result


def upgrade(engine: Engine) -> None:
    """Upgrade the database to the newest schema version."""
    from alembic import command

    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection  # type: ignore[attr-defined]
        command.upgrade(config, "head")  # type: ignore[arg-type]
