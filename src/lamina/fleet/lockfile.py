"""``lamina.lock``: which revision of ``base/`` each environment runs.

Written only by lamina (promotion); read by resolution. The format::

    [environments.staging]
    revision = "3f2c..."          # full commit id of the pinned base
    set_at   = "2026-11-28T10:00:00+00:00"
    request  = "PR-7"
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from lamina.errors import FleetError, OutsideError
from lamina.source import documents
from lamina.source.trees import Tree

LOCK_FILE = "lamina.lock"
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?\Z")


class Pin(msgspec.Struct, frozen=True):
    """An environment's pinned base revision."""

    environment: str
    revision: str
    set_at: str | None = None
    request: str | None = None
    line: int | None = None


def read_pins(tree: Tree, environments: Mapping[str, object]) -> dict[str, Pin]:
    """The pins recorded in lamina.lock (none when the file is absent).

    Raises:
        FleetError: the lock file is malformed or pins an unknown environment.
    """
    if not tree.is_file(LOCK_FILE):
        return {}
    return parse_pins(tree.read_bytes(LOCK_FILE), environments)


def parse_pins(raw: bytes, environments: Mapping[str, object] | None = None) -> dict[str, Pin]:
    """The pins in the bytes of a lamina.lock; with environments, a pin of another one is an error.

    Raises:
        FleetError: the lock file is malformed or pins an unknown environment.
    """
    doc = documents.parse_document(LOCK_FILE, raw, syntax="toml")
    table = doc.data.get("environments", {})
    if not isinstance(table, dict):
        raise FleetError("[environments] must be a table", doc.place(("environments",)))
    pins: dict[str, Pin] = {}
    for env, entry in table.items():
        place = doc.place(("environments", env))
        if environments is not None and env not in environments:
            raise FleetError(f"pin for unknown environment {env!r}", place)
        if not isinstance(entry, dict):
            raise FleetError(f"[environments.{env}] must be a table", place)
        revision = entry.get("revision")
        if not isinstance(revision, str) or not _COMMIT.match(revision):
            raise FleetError(
                f"revision of {env!r} must be a full commit id",
                doc.place(("environments", env, "revision")),
            )
        set_at = entry.get("set_at")
        request = entry.get("request")
        pins[env] = Pin(
            env,
            revision,
            set_at if isinstance(set_at, str) else None,
            request if isinstance(request, str) else None,
            doc.line_of(("environments", env, "revision")),
        )
    return pins


_HEADER = "# Written by lamina (promotion): which base/ revision each environment runs. Do not edit.\n"


def format_pins(pins: Iterable[Pin]) -> str:
    """The text of lamina.lock for pins, sorted by environment (the format :func:`read_pins` reads)."""
    lines = [_HEADER]
    for pin in sorted(pins, key=lambda p: p.environment):
        if not _COMMIT.match(pin.revision):
            raise FleetError(f"revision of {pin.environment!r} must be a full commit id", LOCK_FILE)
        lines.append(f"\n[environments.{_toml_key(pin.environment)}]\n")
        lines.append(f"revision = {_toml_string(pin.revision)}\n")
        if pin.set_at is not None:
            lines.append(f"set_at = {_toml_string(pin.set_at)}\n")
        if pin.request is not None:
            lines.append(f"request = {_toml_string(pin.request)}\n")
    return "".join(lines)


def write_pins(root: Path, pins: Mapping[str, Pin] | Iterable[Pin]) -> Path:
    """Write lamina.lock under root whole or not at all (a temporary file renamed over it).

    Raises:
        OutsideError: the file cannot be written.
    """
    values = pins.values() if isinstance(pins, Mapping) else pins
    path = root / LOCK_FILE
    _write_whole(path, format_pins(values).encode("utf-8"))
    return path


def restore(root: Path, before: bytes | None) -> None:
    """Put lamina.lock back to before (None: it did not exist), whole or not at all."""
    path = root / LOCK_FILE
    if before is None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise OutsideError(f"cannot remove {path}: {exc.strerror}") from exc
        return
    _write_whole(path, before)


def _write_whole(path: Path, data: bytes) -> None:
    import tempfile  # on first use: only writing the lock needs it (it loads shutil, random...)

    temp = None
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise OutsideError(f"cannot write {path}: {exc.strerror}") from exc


def _toml_string(value: str) -> str:
    # a JSON string with only ASCII is a valid TOML basic string
    return json.dumps(value, ensure_ascii=True)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)
