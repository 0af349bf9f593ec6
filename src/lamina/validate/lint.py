"""Lint: config that works as written but probably is not what its author meant (warnings).

- *Set twice in one layer*: two files of one folder layer write the same key (or one writes
  a table and another a key inside it). Files merge in name order, so the later one wins
  silently; a reader of the first file is misled.
- *Dead override*: an overlay or cluster layer writes exactly the value it already inherits
  from the layers below it, so the line changes nothing (and hides a later change of the
  lower value). Values are compared as written, before ``${...}`` is filled in, and as JSON
  (``1`` and ``1.0`` differ), so only a true no-op is reported. Directives are not compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from lamina.core.paths import KeyPath, format_path
from lamina.resolve import provenance, values
from lamina.resolve.provenance import Layer
from lamina.source.documents import Document
from lamina.validate.diagnostics import Check, Diagnostic, Severity


def written_keys(data: Any, path: KeyPath = ()) -> Iterator[KeyPath]:
    """The keys a document writes as whole values: scalars, arrays, directives, references.

    Plain tables are followed into; everything else is one value (arrays are replaced whole).
    """
    if isinstance(data, dict) and not values.is_secret_ref(data) and not _has_directive(data):
        for key, value in data.items():
            yield from written_keys(value, (*path, key))
    elif path:
        yield path


def set_twice(layer: Layer) -> list[Diagnostic]:
    """Keys two files of one layer both write (the later file wins)."""
    if len(layer.documents) < 2:
        return []
    first: dict[KeyPath, tuple[str, int | None]] = {}
    found = []
    for doc in layer.documents:
        mine = list(written_keys(doc.data))
        for path in mine:
            clash = _clash(first, path)
            if clash is not None:
                earlier_path, (earlier_file, earlier_line) = clash
                earlier = f"{earlier_file}:{earlier_line}" if earlier_line is not None else earlier_file
                found.append(
                    _warning(
                        layer.name,
                        doc,
                        path,
                        f"{layer.name} sets {format_path(earlier_path)} in {earlier} too; "
                        f"{doc.path} wins because files merge in name order; set it in one file",
                    )
                )
        for path in mine:
            first.setdefault(path, (doc.path, doc.line_of(path)))
    return found


def _clash(
    first: dict[KeyPath, tuple[str, int | None]], path: KeyPath
) -> tuple[KeyPath, tuple[str, int | None]] | None:
    """An earlier write of path, of a parent of it, or of a key inside it."""
    for end in range(len(path), 0, -1):
        if path[:end] in first:
            return path[:end], first[path[:end]]
    for other, where in first.items():
        if other[: len(path)] == path:
            return other, where
    return None


def dead_overrides_of(layer: Layer, below: Sequence[Layer]) -> list[Diagnostic]:
    """Values layer writes that equal what it inherits from the layers below (none for base)."""
    found: list[Diagnostic] = []
    if layer.kind != "base":
        for doc in layer.documents:
            for path in written_keys(doc.data):
                value = doc_value(doc.data, path)
                if _has_directive(value):
                    continue
                inherited = _inherited(below, path)
                if inherited is None or not _same(inherited[2], value):
                    continue
                lower_layer, lower_place, _ = inherited
                found.append(
                    _warning(
                        layer.name,
                        doc,
                        path,
                        f"dead override: {layer.name} sets the value it already inherits from "
                        f"{lower_layer} ({lower_place}); the line changes nothing",
                    )
                )
    return found


def _warning(layer: str, doc: Document, path: KeyPath, message: str) -> Diagnostic:
    """A lint warning placed at the line of doc that writes path."""
    return Diagnostic(
        check=Check.LINT,
        severity=Severity.WARNING,
        target=None,
        key=format_path(path),
        place=doc.place(path),
        message=message,
        layer=layer,
    )


def doc_value(data: Any, path: KeyPath) -> Any:
    """The value a document writes at one of its written_keys."""
    node = data
    for part in path:
        node = node[part]
    return node


def _inherited(below: Sequence[Layer], path: KeyPath) -> tuple[str, str, Any] | None:
    """(layer, file:line, value) of the last write of path below, or None when none is comparable."""
    last = None
    for layer in below:
        for doc in layer.documents:
            hit = provenance.find_setting(doc, path)
            if hit is None:
                continue
            written, value = hit
            if written != path:
                # a parent written whole (directive, deletion): the inherited value is not a plain write
                last = None
                continue
            last = (layer.name, str(doc.place(written)), value)
    return last


def _has_directive(value: Any) -> bool:
    return isinstance(value, dict) and any(str(key).startswith("$") for key in value)


def _same(a: Any, b: Any) -> bool:
    if _has_directive(a):
        return False
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
