"""Every way lamina can fail, as one tree of exceptions.

Callers decide what to do by the branch an error sits on, not by its text::

    LaminaError                 base; carries an optional place (file:line:col or a name)
    ├── InputError              bad input or usage: exit code 2
    │   ├── ParseError          a config file is not valid TOML, YAML or JSON
    │   ├── FleetError          lamina.toml or lamina.lock says something impossible
    │   ├── MergeError          a type conflict or a bad directive between layers
    │   ├── InterpolationError  an unknown ${name} or a reference cycle
    │   ├── ReferenceError_     a {file = ...} that escapes the repository or is missing
    │   └── UnknownTargetError  an environment, cluster, key or revision that does not exist
    ├── Refused                 a gate said no: exit code 1
    │   └── RuleRefused         a rule refused the action (self-approval, wrong path, stale): exit 2
    └── OutsideError            something outside lamina failed (git, a cluster, a database): exit 3

Every error prints the same way: ``error: <where>: <what>``.
"""

from __future__ import annotations

import msgspec


class Place(msgspec.Struct, frozen=True):
    """Where an error happened: a file with an optional line and column, or a name."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class LaminaError(Exception):
    """Base of every error lamina raises on purpose.

    ``exit_code`` is what the CLI exits with and ``http_status`` what the API answers: the one
    place a failure's kind becomes both.
    """

    exit_code = 2
    http_status = 400

    def __init__(self, message: str, place: Place | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.place = Place(place) if isinstance(place, str) else place

    def __reduce__(self) -> tuple[type, tuple[str, Place | None]]:
        # keep the place when an error crosses a process boundary (parallel render)
        return (type(self), (self.message, self.place))

    def __str__(self) -> str:
        if self.place is None:
            return self.message
        return f"{self.place}: {self.message}"


class InputError(LaminaError):
    """The user's input is wrong; fixing the input fixes the error (exit 2)."""

    exit_code = 2


class ParseError(InputError):
    """A file is not well-formed TOML, YAML or JSON, or uses a forbidden construct."""


class FleetError(InputError):
    """lamina.toml or lamina.lock describes an impossible fleet."""


class MergeError(InputError):
    """Two layers disagree on a value's type, or a directive is misused."""


class InterpolationError(InputError):
    """A ${...} names something unknown, or references form a cycle."""


class ReferenceError_(InputError):
    """A {file = ...} reference is missing or escapes the repository."""


class UnknownTargetError(InputError):
    """An environment, cluster, key or git revision that does not exist."""

    http_status = 404


class Refused(LaminaError):
    """A rule or gate refused the action (exit 1)."""

    exit_code = 1
    http_status = 409


class RuleRefused(Refused):
    """A rule refused the action (self-approval, wrong path, stale approval): bad input, exit 2."""

    exit_code = 2
    http_status = 403


class OutsideError(LaminaError):
    """Something outside lamina failed: git, a cluster, a database (exit 3)."""

    exit_code = 3
    http_status = 503
