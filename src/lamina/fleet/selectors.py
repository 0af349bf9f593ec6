"""Label selectors, as Kubernetes and Argo CD's cluster generator write them: ``k=v,k2!=v2,k3``."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from lamina.errors import InputError

_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?\Z")
_SET_BASED = re.compile(r"\s(not)?in\s*\(")


class Requirement(msgspec.Struct, frozen=True):
    """One clause of a selector."""

    key: str
    operator: str  # '=', '!=', 'exists', '!exists'
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when labels satisfy this clause."""
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!exists":
            return self.key not in labels
        if self.operator == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


class Selector(msgspec.Struct, frozen=True):
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> Selector:
        """Parse ``k=v,k2!=v2,k3,!k4``.

        Raises:
            InputError: a clause is malformed.
        """
        if not text:
            return cls()
        if _SET_BASED.search(text):
            raise InputError(
                f"selector {text!r}: set-based clauses (in, notin) are not supported; use k=v, k!=v, k or !k"
            )
        requirements = []
        for raw in text.split(","):
            clause = raw.strip()
            if not clause:
                raise InputError(f"selector {text!r} has an empty clause")
            if "!=" in clause:
                key, _, value = clause.partition("!=")
                requirements.append(Requirement(key.strip(), "!=", value.strip()))
            elif "=" in clause:
                key, _, value = clause.partition("=")
                key = key.strip().rstrip("=")
                requirements.append(Requirement(key, "=", value.strip().lstrip("=")))
            elif clause.startswith("!"):
                requirements.append(Requirement(clause[1:].strip(), "!exists"))
            else:
                requirements.append(Requirement(clause, "exists"))
            req = requirements[-1]
            if not req.key:
                raise InputError(f"selector {text!r}: clause {clause!r} has no key")
            if not _LABEL_KEY.match(req.key):
                raise InputError(f"selector {text!r}: {req.key!r} is not a valid label key")
            if req.operator in ("=", "!=") and not _LABEL_VALUE.match(req.value):
                raise InputError(f"selector {text!r}: {req.value!r} is not a valid label value")
        return cls(tuple(requirements))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when labels satisfy every requirement."""
        return all(req.matches(labels) for req in self.requirements)
