"""Schema migrations: every config file is upgraded to the newest ``schema_version`` before
merging, so a base pinned at an old revision still resolves with today's overlays.

::

    [[migrations]]
    from    = 1
    to      = 2
    rename  = {"agent.llm" = "agent.model"}      # or the dotted-key form {agent.llm = "agent.model"}
    remove  = ["agent.legacy_mode"]
    default = {"guardrails.max_tool_calls" = 12} # set only where the file does not set it

A file without ``schema_version`` is taken as the newest; ``schema_version`` is file metadata
and never reaches a resolved config. Steps run in the order rename, remove, default.

A ``default`` is not written into the old file's data: it fills the key in the *resolved*
config only where no layer sets it, so it can never override a value another file of the same
layer (or a higher layer) sets. ``lamina migrate --write`` likewise leaves a default out of a
file whose layer already sets the key in a sibling file.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from lamina.core.paths import KeyPath, format_path
from lamina.errors import ParseError
from lamina.fleet.migration_settings import Migration
from lamina.source.documents import Document

VERSION_KEY = "schema_version"


class Step(msgspec.Struct, frozen=True):
    """One operation of a migration, for ``lamina migrate`` to show and apply."""

    op: str  # rename, remove, default, version
    path: KeyPath
    target: KeyPath | None = None
    value: Any = None

    def describe(self) -> str:
        """One line a person can read."""
        if self.op == "rename":
            assert self.target is not None
            return f"rename {format_path(self.path)} -> {format_path(self.target)}"
        if self.op == "remove":
            return f"remove {format_path(self.path)}"
        if self.op == "default":
            return f"set {format_path(self.path)} = {self.value!r} (default)"
        return f"set {VERSION_KEY} = {self.value}"


class Migrations(msgspec.Struct, frozen=True):
    """All migrations of a fleet, by their ``from`` version."""

    by_source: Mapping[int, Migration]
    newest: int | None

    @classmethod
    def of(cls, declared: Sequence[Migration]) -> Migrations:
        """The migrations lamina.toml declares, by their ``from`` version."""
        by_source = {migration.source: migration for migration in declared}
        return cls(by_source, max((m.target for m in declared), default=None))

    def steps_for(self, doc: Document) -> list[Step]:
        """What upgrading doc to the newest version takes (empty when it is current).

        Raises:
            ParseError: the file's schema_version is not a known version.
        """
        version = doc.data.get(VERSION_KEY)
        if version is None:
            return []
        place = doc.place((VERSION_KEY,))
        if isinstance(version, bool) or not isinstance(version, int):
            raise ParseError(f"{VERSION_KEY} must be an integer", place)
        if self.newest is None or version > self.newest:
            newest = "none are declared" if self.newest is None else f"the newest is {self.newest}"
            raise ParseError(
                f"{VERSION_KEY} {version} is newer than lamina.toml's migrations ({newest})", place
            )
        if version == self.newest:
            return []
        steps: list[Step] = []
        data = copy.deepcopy(doc.data)
        while version < self.newest:
            migration = self.by_source.get(version)
            if migration is None:
                raise ParseError(
                    f"no [[migrations]] entry goes from {VERSION_KEY} {version} toward {self.newest}",
                    place,
                )
            for old, new in migration.rename:
                if _has(data, old):
                    steps.append(Step("rename", old, new))
                    _set(data, new, _pop(data, old))
            for path in migration.remove:
                if _has(data, path):
                    steps.append(Step("remove", path))
                    _pop(data, path)
            for path, value in migration.default:
                if not _has(data, path):
                    steps.append(Step("default", path, value=value))
                    _set(data, path, copy.deepcopy(value))
            version = migration.target
        steps.append(Step("version", (VERSION_KEY,), value=self.newest))
        return steps


Defaults = tuple[tuple[KeyPath, Any], ...]
"""Keys a migration fills, with their values, where the resolved config lacks them."""


def upgrade(doc: Document, migrations: Migrations) -> tuple[Document, Defaults]:
    """doc at the newest schema version, without schema_version, its key lines remapped, and the
    defaults its migrations give (to fill in the resolved config, never in the file's data)."""
    steps = migrations.steps_for(doc)
    if VERSION_KEY not in doc.data:
        return doc, ()
    data = copy.deepcopy(doc.data)
    lines = dict(doc.lines)
    for step in steps:
        if step.op == "rename":
            assert step.target is not None
            _set(data, step.target, _pop(data, step.path))
            size = len(step.path)
            for path in [p for p in lines if p[:size] == step.path]:
                lines[(*step.target, *path[size:])] = lines.pop(path)
        elif step.op == "remove":
            _pop(data, step.path)
    data.pop(VERSION_KEY, None)
    lines.pop((VERSION_KEY,), None)
    defaults = tuple((step.path, step.value) for step in steps if step.op == "default")
    return Document(doc.path, data, lines, doc.text_lines, doc.revision), defaults


def fill_defaults(data: dict[str, Any], defaults: Defaults) -> dict[str, Any]:
    """data with each default set where data lacks the key (tables on the way are copied, not
    changed: resolved configs share tables with each other)."""
    for path, value in defaults:
        if _has(data, path):
            continue
        data = dict(data)
        node: dict[Any, Any] = data
        for part in path[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            node[part] = child
            node = child
        node[path[-1]] = copy.deepcopy(value)
    return data


def _has(data: Any, path: KeyPath) -> bool:
    node = data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _pop(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path[:-1]:
        node = node[part]
    return node.pop(path[-1])


def _set(data: Any, path: KeyPath, value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


class FileMigration(msgspec.Struct, frozen=True):
    """What ``lamina migrate`` does to one file."""

    path: str
    steps: tuple[Step, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``lamina migrate --json``."""
        return {"file": self.path, "steps": [step.describe() for step in self.steps]}


def pending(tree_files: Sequence[str], read: Any, migrations: Migrations) -> list[FileMigration]:
    """The files below the newest schema version and the steps that upgrade each.

    Args:
        tree_files: repository paths of the layer files.
        read: a function from path to raw bytes.
    """
    from lamina.source import documents

    parsed = {path: documents.parse_document(path, read(path)) for path in tree_files}
    out = []
    for path, doc in parsed.items():
        steps = migrations.steps_for(doc)
        siblings = [other for name, other in parsed.items() if name != path and _same_layer(name, path)]
        # a default never goes into a file whose layer sets the key in another file already
        steps = [
            step
            for step in steps
            if step.op != "default"
            or not any(_has(upgrade(other, migrations)[0].data, step.path) for other in siblings)
        ]
        if steps:
            out.append(FileMigration(path, tuple(steps)))
    return out


def _same_layer(a: str, b: str) -> bool:
    """True when two files belong to one layer (a folder; each ``clusters/X.toml`` is a layer of its own)."""
    folder_a, folder_b = a.rsplit("/", 1)[0], b.rsplit("/", 1)[0]
    return folder_a == folder_b and folder_a != "clusters"


def rewrite(text: str, migration: FileMigration) -> str:
    """The file's text with its steps applied, comments and layout kept."""
    from lamina.source.edits import EditableFile

    editable = EditableFile(migration.path, text)
    for step in migration.steps:
        if step.op == "rename":
            assert step.target is not None
            editable.rename(step.path, step.target)
        elif step.op == "remove":
            editable.remove(step.path)
        else:
            editable.set(step.path, step.value)
    return editable.text()
