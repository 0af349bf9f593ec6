"""How a user names a target: ``ENV``, ``ENV/CLUSTER``, each optionally ``@REV``."""

from __future__ import annotations

import msgspec

from lamina.errors import InputError


class TargetRef(msgspec.Struct, frozen=True, order=True):
    """A target as written on the command line; not yet checked against the fleet."""

    environment: str
    cluster: str | None = None
    revision: str | None = None

    @classmethod
    def parse(cls, text: str) -> TargetRef:
        """Parse ``ENV[/CLUSTER][@REV]``.

        Raises:
            InputError: the text is empty or has too many parts.
        """
        body, at, revision = text.partition("@")
        if at and not revision:
            raise InputError(f"target {text!r} has an empty revision after '@'")
        env, slash, cluster = body.partition("/")
        if not env or (slash and not cluster) or "/" in cluster:
            raise InputError(f"target {text!r} must be written ENV, ENV/CLUSTER or ENV/CLUSTER@REV")
        return cls(env, cluster or None, revision or None)

    def __str__(self) -> str:
        text = self.environment
        if self.cluster:
            text += f"/{self.cluster}"
        if self.revision:
            text += f"@{self.revision}"
        return text
