"""Bearer tokens: a file maps the SHA-256 of each token to a user and roles.

The token itself is printed once by ``lamina token create`` and never stored. Roles:
``viewer`` (read), ``editor`` (request promotions, run drift checks), ``approver:<env>``
(approve or reject promotions into one environment), ``admin`` (everything).

The file (TOML)::

    [[tokens]]
    sha256  = "9f86d0..."
    user    = "ana@example.com"
    roles   = ["approver:production"]
    created = "2026-11-28T10:00:00Z"
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lamina.errors import InputError
from lamina.guard.actors import Actor

_ROLE = re.compile(r"^(viewer|editor|admin|approver:[a-z0-9]([-a-z0-9]*[a-z0-9])?)\Z")


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to; what its roles allow is :func:`lamina.server.auth.authorize`'s to say."""

    user: str
    roles: frozenset[str]

    def actor(self) -> Actor:
        """The identity as the rules see it: a name the server's token proves, with its roles."""
        return Actor.of_token(self.user, self.roles)


def digest(token: str) -> str:
    """The SHA-256 hex digest a token is stored as."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_role(role: str) -> str:
    """role, if it is one lamina knows.

    Raises:
        InputError: unknown role.
    """
    if not _ROLE.match(role):
        raise InputError(f"unknown role {role!r} (viewer, editor, approver:<env>, admin)")
    return role


def create(path: Path, user: str, roles: list[str], now: datetime | None = None) -> str:
    """Add a new token for user to the tokens file and return the token (shown once)."""
    import tomlkit

    if not user.strip():
        raise InputError("token create needs a user")
    if not roles:
        raise InputError("token create needs at least one --role")
    for role in roles:
        check_role(role)
    token = "lam_" + secrets.token_urlsafe(32)
    if path.exists():
        try:
            doc = tomlkit.parse(path.read_text())
        except Exception as exc:
            raise InputError(f"{path}: not a valid tokens file: {exc}") from None
    else:
        doc = tomlkit.document()
    entries = doc.setdefault("tokens", tomlkit.aot())
    entry = tomlkit.table()
    entry["sha256"] = digest(token)
    entry["user"] = user
    entry["roles"] = roles
    entry["created"] = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # readable by its owner only
    with os.fdopen(fd, "w") as handle:
        handle.write(tomlkit.dumps(doc))
    os.replace(tmp, path)
    return token


@dataclass(frozen=True)
class TokenStore:
    """The tokens file, loaded; looks tokens up in constant time per entry."""

    entries: tuple[tuple[str, Identity], ...]

    @classmethod
    def load(cls, path: Path | None) -> TokenStore:
        """Read the tokens file (none: nobody can sign in)."""
        import tomllib

        if path is None or not path.exists():
            return cls(())
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"{path}: not a valid tokens file: {exc}") from None
        entries = []
        for item in data.get("tokens", []):
            if not isinstance(item, dict):
                continue
            sha, user, roles = item.get("sha256"), item.get("user"), item.get("roles", [])
            if isinstance(sha, str) and isinstance(user, str) and isinstance(roles, list):
                entries.append((sha, Identity(user, frozenset(str(r) for r in roles))))
        return cls(tuple(entries))

    def identify(self, token: str) -> Identity | None:
        """The identity of token, or None; compares every entry so timing tells nothing."""
        presented = digest(token)
        found = None
        for stored, identity in self.entries:
            if hmac.compare_digest(stored, presented):
                found = identity
        return found
