"""``schema/*.schema.json``: the JSON Schemas (draft 2020-12) every resolved config must satisfy.

Schemas are read and checked once per repository; each target's config is then validated
against every one of them, and every error is reported with the key and the file:line of
the layer that set the offending value — the place to fix it, which for a value a cluster
layer overrides is ``clusters/<name>.toml``, not ``base/``.

``jsonschema`` is imported when a schema is first loaded, not when lamina starts: most
commands never validate, and the import costs more than they do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lamina.core.paths import KeyPath, format_path
from lamina.errors import InputError, Place
from lamina.resolve.resolved import ResolvedConfig
from lamina.source import documents
from lamina.source.trees import Tree
from lamina.validate.credentials import Redactor
from lamina.validate.diagnostics import Check, Diagnostic, Severity

# jsonschema ships no type information: its validators and errors are Any here
Validator = Any
ValidationError = Any

SCHEMA_FOLDER = "schema"
SCHEMA_SUFFIX = ".schema.json"


@dataclass(frozen=True)
class Schema:
    """One schema file, checked and ready to validate configs."""

    path: str
    validator: Validator


def load_schemas(tree: Tree) -> tuple[Schema, ...]:
    """Read and check every ``schema/*.schema.json`` of tree, in file-name order.

    Raises:
        InputError: a file is not JSON, or not a valid draft 2020-12 schema (names file:line).
    """
    import jsonschema  # type: ignore[import-untyped]

    schemas = []
    for entry in tree.list_dir(SCHEMA_FOLDER):
        if entry.is_dir or not entry.name.endswith(SCHEMA_SUFFIX):
            continue
        path = f"{SCHEMA_FOLDER}/{entry.name}"
        doc = documents.parse_document(path, tree.read_bytes(path), syntax="json")
        try:
            jsonschema.Draft202012Validator.check_schema(doc.data)
        except jsonschema.SchemaError as exc:
            at = tuple(exc.path)
            where = f" at {format_path(at)}" if at else ""
            raise InputError(
                f"not a valid JSON Schema (draft 2020-12){where}: {exc.message}", doc.place(at)
            ) from None
        schemas.append(Schema(path, jsonschema.Draft202012Validator(doc.data)))
    return tuple(schemas)


def check(schemas: tuple[Schema, ...], config: ResolvedConfig, redactor: Redactor) -> list[Diagnostic]:
    """Every schema error of one resolved config.

    Raises:
        InputError: a schema's ``$ref`` cannot be resolved (lamina never fetches remote schemas).
    """
    from referencing.exceptions import Unresolvable

    if not schemas:
        return []
    instance = config.data  # read-only; file texts are strings
    found: list[Diagnostic] = []
    for schema in schemas:
        try:
            errors = sorted(schema.validator.iter_errors(instance), key=_order)
        except Unresolvable as exc:
            raise InputError(f"cannot resolve $ref: {exc}", Place(schema.path)) from None
        for error in errors:
            found.extend(_diagnostics(schema, error, config, redactor))
    return found


def _order(error: ValidationError) -> tuple[str, str]:
    return format_path(_key_path(error)), error.message


def _key_path(error: ValidationError) -> KeyPath:
    return tuple(part for part in error.absolute_path)


def _diagnostics(
    schema: Schema, error: ValidationError, config: ResolvedConfig, redactor: Redactor
) -> list[Diagnostic]:
    path = _key_path(error)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extras = _unexpected(error)
        if extras:
            # one problem per unexpected key, each at the place that wrote it
            return [
                _diagnostic(
                    schema, config, (*path, extra), "is not allowed here (additionalProperties is false)"
                )
                for extra in extras
            ]
    message = error.message
    original = repr(error.instance)
    if original in message:
        last = next((part for part in reversed(path) if isinstance(part, str)), None)
        message = message.replace(original, redactor.display(last, error.instance))
    return [_diagnostic(schema, config, path, redactor.redact(message))]


def _diagnostic(schema: Schema, config: ResolvedConfig, path: KeyPath, message: str) -> Diagnostic:
    return Diagnostic(
        check=Check.SCHEMA,
        severity=Severity.ERROR,
        target=str(config.target),
        key=format_path(path) or None,
        place=config.place_of(path) if path else None,
        message=f"{message} ({schema.path})",
    )


def _unexpected(error: ValidationError) -> list[str]:
    """The keys an ``additionalProperties: false`` error is about."""
    schema: Any = error.schema
    if not isinstance(schema, dict):
        return []
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return sorted(
        key
        for key in error.instance
        if key not in known and not any(re.search(pattern, key) for pattern in patterns)
    )
