"""Who acts: the name a command or a request claims, and what proves it.

On the command line ``--as`` and ``LAMINA_USER`` are self-asserted: anyone can type an
approver's name. So every actor also carries what lamina can see for itself (the operating
system user and git's ``user.email``), which every audit row records next to the claimed name,
and *how* the name is proven: a server token (the server says who holds it) or an SSH
signature verified against ``[promotion] allowed_signers``. Decisions on protected
environments need a proven name.
"""

from __future__ import annotations

import enum
import getpass
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


class Proof(enum.StrEnum):
    """How an actor's name is known."""

    CLAIMED = "claimed"
    """Typed by whoever ran the command (``--as``, ``LAMINA_USER``, git's user.email)."""
    TOKEN = "token"
    """A server bearer token; the server's tokens file says whose it is."""
    SSH_SIGNATURE = "ssh-signature"
    """A decision signed with an SSH key that ``[promotion] allowed_signers`` lists for the name."""


@dataclass(frozen=True)
class Actor:
    """Who acts, with their roles where a server decided them.

    Attributes:
        roles: the token's roles on the server; None on the command line, where roles do not apply.
        os_user: the operating-system user that ran lamina (None inside the server).
        git_user: git's ``user.email`` where lamina ran (None inside the server).
    """

    name: str
    roles: frozenset[str] | None = None
    proof: Proof = Proof.CLAIMED
    os_user: str | None = None
    git_user: str | None = None
    signing_key: Path | None = field(default=None, compare=False)
    """An SSH private key the actor signs decisions with (``--sign-with``), on the command line."""
    signature: str | None = field(default=None, compare=False)
    """The SSH signature that proved the name, kept with the audit record."""

    @property
    def proven(self) -> bool:
        """True when something other than the actor's own word says who they are."""
        return self.proof is not Proof.CLAIMED

    def signed(self, signature: str) -> Actor:
        """The same actor, proven by an SSH signature."""
        return replace(self, proof=Proof.SSH_SIGNATURE, signature=signature)

    def audit_detail(self) -> dict[str, Any]:
        """What an audit row records of the actor besides the name."""
        detail: dict[str, Any] = {
            "proof": self.proof.value,
            "os_user": self.os_user,
            "git_user": self.git_user,
        }
        if self.signature is not None:
            detail["signature"] = self.signature
        return detail

    @classmethod
    def on_command_line(cls, name: str, folder: Path | None = None, signing_key: Path | None = None) -> Actor:
        """An actor of the CLI: a claimed name, with the OS user and git identity seen here."""
        return cls(name, None, Proof.CLAIMED, _os_user(), _git_user(folder), signing_key)

    @classmethod
    def of_token(cls, name: str, roles: frozenset[str]) -> Actor:
        """An actor the server identified by a bearer token."""
        return cls(name, roles, Proof.TOKEN)


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _git_user(folder: Path | None) -> str | None:
    command = (
        ["git", "config", "user.email"]
        if folder is None
        else ["git", "-C", str(folder), "config", "user.email"]
    )
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None
