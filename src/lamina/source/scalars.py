"""What every reader shares below the document: size limits, multi-line string spans, and the
guard against integers too long to read.

The readers (TOML, YAML, JSON) depend on this module and :mod:`lamina.source.documents` depends on
the readers, so nothing here may import either.
"""

from __future__ import annotations

import re
import sys

import msgspec

DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_NODES = 200_000
_DECIMAL = re.compile(r"[+-]?[0-9_]+")  # TOML and JSON decimal integers (TOML allows 1_000)


class Limits(msgspec.Struct, frozen=True):
    """Bounds that keep hostile files from costing unbounded time or memory."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES


class TextSpan(msgspec.Struct, frozen=True):
    """Where the text of a multi-line string lies: from ``column`` (0-based) of ``line`` to the
    end of ``end_line`` (1-based lines). A ``#`` in it is text, never a comment."""

    line: int
    column: int
    end_line: int


def is_digit_limit(exc: ValueError) -> bool:
    """True when exc is Python refusing to read an integer of too many digits."""
    return "integer string conversion" in str(exc)


def is_unreadable_integer(token: str) -> bool:
    """True when token is a decimal integer with more digits than Python reads."""
    limit = sys.get_int_max_str_digits()
    if not limit or len(token) <= limit or not _DECIMAL.fullmatch(token):
        return False
    try:
        int(token)
    except ValueError:
        return True
    return False


def too_many_digits() -> str:
    """What to say of an integer longer than Python reads (a denial-of-service guard: 4300
    digits unless ``PYTHONINTMAXSTRDIGITS`` says otherwise)."""
    return f"an integer has more than {sys.get_int_max_str_digits()} digits"
