"""``policies/*.toml``: the CEL policies and ordered constraints a fleet declares.

::

    [[policy]]
    name    = "pii-redaction-in-production"
    when    = "env.stage == 'production'"        # optional
    rule    = "config.guardrails.pii_redaction == true"
    message = "production agents must redact PII"

    [[ordered]]                                  # along each promotion path the value may only tighten
    key       = "guardrails.max_tool_calls"
    direction = "non-increasing"                 # or non-decreasing
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lamina.core.paths import KeyPath, parse_path
from lamina.errors import InputError, Place
from lamina.source import documents
from lamina.source.trees import Tree

POLICY_FOLDER = "policies"
DIRECTIONS = ("non-increasing", "non-decreasing")


@dataclass(frozen=True)
class Policy:
    """A CEL rule, optionally guarded by a CEL condition."""

    name: str
    rule: str
    message: str
    when: str | None
    place: Place


@dataclass(frozen=True)
class Ordered:
    """A key whose value may only move one way along every promotion path."""

    key: str
    path: KeyPath
    direction: str
    place: Place


@dataclass(frozen=True)
class PolicySet:
    """Everything declared under policies/."""

    policies: tuple[Policy, ...] = ()
    ordered: tuple[Ordered, ...] = ()


def load_policies(tree: Tree) -> PolicySet:
    """Read every ``policies/*.toml`` of tree, checking each entry's fields.

    Raises:
        InputError: a policy file is malformed or an entry lacks a field (names file:line).
    """
    policies: list[Policy] = []
    ordered: list[Ordered] = []
    for entry in tree.list_dir(POLICY_FOLDER):
        if entry.is_dir or not entry.name.endswith(".toml"):
            continue
        path = f"{POLICY_FOLDER}/{entry.name}"
        doc = documents.parse_document(path, tree.read_bytes(path))
        for key in doc.data:
            if key not in ("policy", "ordered"):
                raise InputError(
                    f"unknown table {key!r} (expected [[policy]] or [[ordered]])", doc.place((key,))
                )
        for index, item in enumerate(_tables(doc, "policy")):
            at: KeyPath = ("policy", index)
            name = _string(doc, item, at, "name")
            rule = _string(doc, item, at, "rule")
            when = _string(doc, item, at, "when", required=False)
            message = _string(doc, item, at, "message", required=False) or f"policy {name} failed"
            policies.append(Policy(name, rule, message, when, doc.place(at)))
        for index, item in enumerate(_tables(doc, "ordered")):
            at = ("ordered", index)
            key = _string(doc, item, at, "key")
            direction = _string(doc, item, at, "direction")
            if direction not in DIRECTIONS:
                raise InputError(
                    f"direction must be {' or '.join(DIRECTIONS)}, not {direction!r}",
                    doc.place((*at, "direction")),
                )
            try:
                key_path = parse_path(key)
            except ValueError as exc:
                raise InputError(f"bad key: {exc}", doc.place((*at, "key"))) from None
            ordered.append(Ordered(key, key_path, direction, doc.place(at)))
    names = [p.name for p in policies]
    for policy in policies:
        if names.count(policy.name) > 1:
            raise InputError(f"two policies are named {policy.name!r}", policy.place)
    return PolicySet(tuple(policies), tuple(ordered))


def _tables(doc: documents.Document, key: str) -> list[dict[str, Any]]:
    items = doc.data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InputError(f"{key} must be written as [[{key}]] tables", doc.place((key,)))
    return items


def _string(
    doc: documents.Document, item: dict[str, Any], at: KeyPath, key: str, required: bool = True
) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{key} must be a non-empty string", doc.place((*at, key)))
    return value
