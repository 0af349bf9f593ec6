"""What every command shares: the repository it works on and who is acting."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lamina.errors import InputError

if TYPE_CHECKING:  # each loads when a command first needs it (SQLAlchemy: the state database)
    from lamina.guard.actors import Actor
    from lamina.resolve.repository import Repository
    from lamina.store.database import Database


class Session:
    """Set once by the global options, read by every command."""

    def __init__(
        self, repo_option: Path | None = None, actor: str | None = None, signing_key: Path | None = None
    ) -> None:
        self.repo_option = repo_option
        self.actor = actor
        self.signing_key = signing_key
        self._repo: Repository | None = None
        self._db: Database | None = None

    def root(self) -> Path:
        """The config repository: --repo, then $LAMINA_REPO, then the nearest lamina.toml upward."""
        if self.repo_option is not None:
            return self.repo_option
        env = os.environ.get("LAMINA_REPO")
        if env:
            return Path(env)
        from lamina.resolve.repository import find_root

        found = find_root(Path.cwd())
        if found is None:
            raise InputError(
                "no lamina.toml here or in any parent folder (use --repo DIR or set LAMINA_REPO)"
            )
        return found

    def repository(self) -> Repository:
        """The opened repository (opened once per command)."""
        from lamina.resolve.repository import Repository

        if self._repo is None:
            root = self.root()
            if not os.path.lexists(root / "lamina.toml"):  # a link to a device is refused when read
                raise InputError(f"{root}: no lamina.toml in this folder")
            self._repo = Repository(root)
        return self._repo

    def database(self) -> Database:
        """The state database: $LAMINA_DATABASE_URL, else the repository's .lamina/state.db."""
        from lamina.store.database import Database

        if self._db is None:
            self._db = Database.for_repository(self.root(), os.environ.get("LAMINA_DATABASE_URL"))
        return self._db

    def user(self) -> str:
        """Who is acting: --as, then $LAMINA_USER, then git's user.email.

        Raises:
            InputError: nobody is named, or the name holds a control character (a newline in a
                name would forge lines of a commit message or an audit record).
        """
        if self.actor:
            return _checked_name(self.actor, "--as")
        env = os.environ.get("LAMINA_USER")
        if env:
            return _checked_name(env, "LAMINA_USER")
        import subprocess

        try:
            done = subprocess.run(
                ["git", "-C", str(self.root()), "config", "user.email"],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            done = None
        if done is not None and done.stdout.strip():
            return _checked_name(done.stdout.strip(), "git's user.email")
        raise InputError("who is acting? pass --as USER or set LAMINA_USER (or git's user.email)")

    def actor_identity(self) -> Actor:
        """Who is acting, as the rules see it: the claimed name, the OS user and git identity seen here."""
        from lamina.guard.actors import Actor

        key = self.signing_key or (
            Path(os.environ["LAMINA_SIGNING_KEY"]) if os.environ.get("LAMINA_SIGNING_KEY") else None
        )
        return Actor.on_command_line(self.user(), self.root(), key.expanduser() if key else None)

    def close(self) -> None:
        """Release the repository's helper processes and database connections."""
        if self._repo is not None:
            self._repo.close()
            self._repo = None
        if self._db is not None:
            self._db.dispose()
            self._db = None


def _checked_name(name: str, where: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise InputError(f"{where}: a user name cannot hold control characters (newline, tab...)")
    if len(name) > 255:
        raise InputError(f"{where}: a user name is at most 255 characters")
    return name


def session(ctx: click.Context) -> Session:
    """The Session of the running command."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Session)
    return obj
