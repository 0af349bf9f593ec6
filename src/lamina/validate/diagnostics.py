"""One problem ``lamina validate`` found: which check, how bad, where, and what.

Every check returns these values instead of raising, so one run reports every problem of
the fleet, not just the first. Problems in the *input* of a check (a schema that is not
JSON, a policy that is not CEL) are different: they raise :class:`lamina.errors.InputError`
because no check can run on them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from lamina.errors import Place


class Check(StrEnum):
    """Which check found a problem."""

    SCHEMA = "schema"
    """A resolved config breaks a ``schema/*.schema.json`` file."""
    POLICY = "policy"
    """A CEL policy of ``policies/*.toml`` failed or could not be evaluated."""
    ORDERED = "ordered"
    """An ``[[ordered]]`` value loosens along a promotion path."""
    CREDENTIALS = "credentials"
    """A literal string in a config file looks like a credential."""
    LOCKS = "locks"
    """An overlay or cluster layer sets a key ``[locks]`` reserves for ``base/``."""
    LINT = "lint"
    """A key set twice in one layer, or an override that changes nothing."""
    SECRETS = "secrets"
    """A file under ``secrets/`` or a ``sops:`` reference's file is not SOPS-encrypted, or lacks the key."""


class Severity(StrEnum):
    """How bad a problem is; both fail ``lamina validate`` (exit 1)."""

    ERROR = "error"
    """The fleet breaks a rule it declared (or one of lamina's own rules)."""
    WARNING = "warning"
    """The fleet works as written but is probably not what its author meant (lint)."""


class Diagnostic(msgspec.Struct, frozen=True):
    """One problem, with the place a person should open to fix it.

    Attributes:
        check: the check that found it.
        severity: error or warning.
        target: the target (``ENV/CLUSTER``, or ``ENV`` for an environment-level value), or
            None when the problem sits in a file whatever the target (credentials, locks, lint).
        key: the dotted key the problem is about, or None for the whole config.
        place: file:line of the layer that set the offending value, or None when no layer did.
        message: what is wrong, never a credential's value.
        layer: the layer the problem sits in (``base``, ``overlays/production``...), when known.
    """

    check: Check
    severity: Severity
    target: str | None
    key: str | None
    place: Place | None
    message: str
    layer: str | None = None

    @property
    def where(self) -> str:
        """What a report groups by: the target, else the layer, else the repository."""
        return self.target or self.layer or "(repository)"

    def to_json(self) -> dict[str, Any]:
        """The ``lamina validate --json`` problem shape."""
        return {
            "check": self.check.value,
            "severity": self.severity.value,
            "target": self.target,
            "layer": self.layer,
            "key": self.key,
            "place": str(self.place) if self.place is not None else None,
            "file": self.place.file if self.place is not None else None,
            "line": self.place.line if self.place is not None else None,
            "message": self.message,
        }

    def __str__(self) -> str:
        parts = [str(self.place)] if self.place is not None else []
        parts.append(self.where)
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)
