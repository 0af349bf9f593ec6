"""Skip a render whose inputs and outputs are exactly as the last render left them.

Like make, by file metadata: the fingerprint covers the size and mtime of every file under
``base/``, ``overlays/`` and ``clusters/``, of ``lamina.toml`` and ``lamina.lock``, of every
file a config referenced, the git HEAD, the lamina version and what was asked for. When it
matches the one stored after the last render, and every file that render wrote is still
as it left it, there is nothing to do. The cache lives in ``.lamina/render-cache.json``
(git-ignored); deleting it only costs one full render.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

CACHE_FILE = ".lamina/render-cache.json"
_WATCHED = ("base", "overlays", "clusters", "lamina.toml", "lamina.lock")


def _stat(path: Path) -> list[Any]:
    try:
        info = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path), info.st_size, info.st_mtime_ns]


def _walk(path: Path) -> Iterable[Path]:
    if path.is_file():
        yield path
        return
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        yield Path(folder)  # a folder's mtime changes when an entry is added or removed
        for name in sorted(files):
            yield Path(folder) / name


def fingerprint(root: Path, request: dict[str, Any], referenced: Sequence[str]) -> str:
    """A digest of everything a render of root depends on."""
    stats: list[Any] = [request]
    for name in _WATCHED:
        stats.extend(_stat(p) for p in _walk(root / name))
    stats.extend(_stat(root / rel) for rel in sorted(referenced))
    return hashlib.sha256(json.dumps(stats, sort_keys=True).encode()).hexdigest()


def outputs_intact(outputs: Sequence[list[Any]]) -> bool:
    """True when every file a render wrote still has the size and mtime it had then."""
    return all(_stat(Path(entry[0])) == entry for entry in outputs)


def load(root: Path, key: str) -> dict[str, Any] | None:
    """The cache entry stored for key, or None."""
    try:
        data = json.loads((root / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return None
    entry = data.get(key) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) else None


def save(root: Path, key: str, entry: dict[str, Any]) -> None:
    """Store an entry (atomically; a cache that cannot be written is simply not used)."""
    path = root / CACHE_FILE
    with contextlib.suppress(OSError):
        path.parent.mkdir(exist_ok=True)
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[key] = entry
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, path)


def output_stats(paths: Iterable[str]) -> list[list[Any]]:
    """Size and mtime of each output file."""
    return [_stat(Path(p)) for p in sorted(paths)]
