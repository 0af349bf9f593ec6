"""The config hash: SHA-256 of a config's canonical JSON."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(data: Any) -> bytes:
    """Keys sorted, no insignificant whitespace, UTF-8: the bytes the config hash covers."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def pretty_json(data: Any) -> str:
    """Canonical content, indented for people (and for the rendered agent-config.json)."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def config_hash(data: Any) -> str:
    """The full SHA-256 hex digest of the canonical JSON of data."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def short_hash(full: str) -> str:
    """The first 12 hex digits of a config hash."""
    return full[:12]
