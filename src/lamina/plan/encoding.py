"""Canonical JSON of resolved configs, cut at their top-level keys and encoded once per plan.

A plan hashes every target it resolves on both sides and diffs those that differ. Targets
of one environment share most top-level tables (resolution copies on write), so an
:class:`Encoder` encodes each shared table once; it belongs to one plan and is dropped with
it, so plans running side by side (server requests) never share or grow one memo.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from lamina.core import hashing


class Encoder:
    """Canonical JSON of values, each table or array encoded once while this encoder lives."""

    def __init__(self) -> None:
        # id -> (the value itself, kept alive so its id cannot be reused; its encoding)
        self._memo: dict[int, tuple[Any, bytes]] = {}

    def encode(self, value: Any) -> bytes:
        """``hashing.canonical_json(value)``, from the memo when value was encoded before."""
        if not isinstance(value, dict | list):
            return hashing.canonical_json(value)
        hit = self._memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        text = hashing.canonical_json(value)
        self._memo[id(value)] = (value, text)
        return text


@dataclass(frozen=True)
class CanonicalParts:
    """A config's canonical JSON cut at its top-level keys: one encoding gives both the config
    hash and, byte for byte, which top-level tables differ, so the field diff walks only those.

    Attributes:
        parts: the canonical JSON of each top-level value, by key.
    """

    parts: dict[str, bytes]

    @classmethod
    def of(cls, data: dict[str, Any], encoder: Encoder | None = None) -> CanonicalParts:
        """Encode each top-level value of data as :func:`lamina.core.hashing.canonical_json` does.

        Args:
            data: a resolved config.
            encoder: the plan's encoder, so tables shared between targets are encoded once;
                None encodes everything afresh.
        """
        encode = (encoder if encoder is not None else Encoder()).encode
        return cls({key: encode(value) for key, value in data.items()})

    def config_hash(self) -> str:
        """The config hash: SHA-256 of the whole canonical JSON, put together from the parts."""
        members = [hashing.canonical_json(key) + b":" + self.parts[key] for key in sorted(self.parts)]
        return hashlib.sha256(b"{" + b",".join(members) + b"}").hexdigest()

    def differing_keys(self, other: CanonicalParts) -> list[str]:
        """Top-level keys whose values differ (or exist on one side only), sorted."""
        return [
            key
            for key in sorted(self.parts.keys() | other.parts.keys())
            if self.parts.get(key) != other.parts.get(key)
        ]
