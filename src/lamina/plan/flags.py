"""The flags of a plan: the few kinds of change a reviewer must not miss in a long diff.

A field-level diff says *what* changed; a flag says *why a person should look*: another
model answers customers, the prompt reads differently, a guardrail was loosened, a tool
talks to another endpoint, a secret reference points elsewhere. Each flag is one small
rule over one leaf change, so a rule can be read, tested and argued about on its own.

The rules look at *leaf* changes (:func:`leaf_changes`), not at the display diff: a table
that appears or disappears counts as each of its leaves appearing or disappearing, a
``{secret = ...}`` reference is one leaf, an array of scalars is one leaf (so a blocklist
losing an item is seen whole), and arrays of tables carrying a ``name`` are matched by
name (so reordering tools flags nothing, and a new tool's endpoint is seen).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from lamina.core.diffs import ABSENT, Change, is_multiline
from lamina.core.paths import IDENTITY, Item, KeyPath, format_path
from lamina.fleet import settings as fleet_settings
from lamina.resolve.values import FileText, is_secret_ref
from lamina.validate.policy_files import Ordered

MODEL_CHANGED = "model-changed"
PROMPT_CHANGED = "prompt-changed"
GUARDRAIL_LOOSENED = "guardrail-loosened"
TOOL_ENDPOINT_CHANGED = "tool-endpoint-changed"
SECRET_REF_CHANGED = "secret-ref-changed"

DEFAULT_GUARDRAIL_GLOBS = fleet_settings.DEFAULT_GUARDRAIL_GLOBS

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True)
class GuardrailRules:
    """What counts as a guardrail, and which way it tightens.

    Attributes:
        ordered: the ``[[ordered]]`` keys of ``policies/``; their direction decides.
        globs: ``[plan] guardrails`` in lamina.toml: key paths (``fnmatch`` globs over the
            dotted path) judged by the default rules of :func:`default_loosened`.
    """

    ordered: tuple[Ordered, ...] = ()
    globs: tuple[str, ...] = DEFAULT_GUARDRAIL_GLOBS


@dataclass(frozen=True)
class Flag:
    """A raised flag and the leaf paths that raised it."""

    name: str
    paths: tuple[KeyPath, ...]


# -- leaf changes ---------------------------------------------------------------------------------


def leaf_changes(a: Any, b: Any, path: KeyPath = ()) -> Iterator[Change]:
    """Every changed leaf between two configs, as the flag rules see them (module docstring).

    A missing side is :data:`lamina.core.diffs.ABSENT`. Values compare with Python's ``==``
    (so ``1``, ``1.0`` and ``true`` are one value here; the plan's field diff still shows such
    a change), which lets equal subtrees be skipped in one C-level comparison.
    """
    if a == b:
        return
    if _is_table(a) or _is_table(b):
        left = a if _is_table(a) else {}
        right = b if _is_table(b) else {}
        if not _is_table(a) and a is not ABSENT:
            yield Change(path, a, ABSENT)  # a scalar became a table: the scalar is gone
        for key in sorted(left.keys() | right.keys(), key=str):
            yield from leaf_changes(left.get(key, ABSENT), right.get(key, ABSENT), (*path, key))
        if not _is_table(b) and b is not ABSENT:
            yield Change(path, ABSENT, b)
        return
    if _is_table_array(a) or _is_table_array(b):
        yield from _array_changes(
            a if isinstance(a, list) else [], b if isinstance(b, list) else [], path, a, b
        )
        return
    yield Change(path, a, b)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) and not is_secret_ref(value)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _array_changes(left: list[Any], right: list[Any], path: KeyPath, a: Any, b: Any) -> Iterator[Change]:
    if a is not ABSENT and not isinstance(a, list):
        yield Change(path, a, ABSENT)
    names_left, names_right = _names(left), _names(right)
    if names_left is not None and names_right is not None:
        for name in [*names_left, *(n for n in names_right if n not in names_left)]:
            yield from leaf_changes(
                left[names_left[name]] if name in names_left else ABSENT,
                right[names_right[name]] if name in names_right else ABSENT,
                (*path, Item(IDENTITY, name)),
            )
    else:
        for index in range(max(len(left), len(right))):
            yield from leaf_changes(
                left[index] if index < len(left) else ABSENT,
                right[index] if index < len(right) else ABSENT,
                (*path, index),
            )
    if b is not ABSENT and not isinstance(b, list):
        yield Change(path, ABSENT, b)


def _names(items: list[Any]) -> dict[str, int] | None:
    """Item index by ``name`` when every item is a table with a unique string name."""
    names: dict[str, int] = {}
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name in names:
            return None
        names[name] = index
    return names


# -- names ----------------------------------------------------------------------------------------


def _words(key: str) -> list[str]:
    """``max_tool_calls``, ``maxToolCalls`` and ``max-tool-calls`` are all [max, tool, calls]."""
    return [word.lower() for word in _WORD.findall(key)]


def _keys(path: KeyPath) -> list[str]:
    return [part for part in path if isinstance(part, str)]


def _leaf_words(path: KeyPath) -> list[str]:
    keys = _keys(path)
    return _words(keys[-1]) if keys else []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- the rules --------------------------------------------------------------------------------------


def model_changed(change: Change, rules: GuardrailRules) -> bool:
    """``model-changed``: a leaf named ``model`` or ``provider`` (or ``*_model``,
    ``*_provider``) changed, appeared or went away: another LLM answers."""
    words = _leaf_words(change.path)
    return bool(words) and words[-1] in ("model", "provider")


def prompt_changed(change: Change, rules: GuardrailRules) -> bool:
    """``prompt-changed``: the text of a ``{file = ...}`` changed, a multi-line string
    changed, or a key whose name contains ``prompt`` changed."""
    if isinstance(change.a, FileText) or isinstance(change.b, FileText):
        return True
    if is_multiline(change.a) or is_multiline(change.b):
        return True
    return any("prompt" in key.lower() for key in _keys(change.path))


def tool_endpoint_changed(change: Change, rules: GuardrailRules) -> bool:
    """``tool-endpoint-changed``: under a ``tools`` key, a leaf named ``endpoint`` or ``url``
    (or ``*_endpoint``, ``*_url``, ``uri``) changed; a tool added or removed counts."""
    keys = _keys(change.path)
    words = _leaf_words(change.path)
    if "tools" not in (key.lower() for key in keys[:-1]) or not words:
        return False
    return words[-1] in ("endpoint", "url", "uri")


def secret_ref_changed(change: Change, rules: GuardrailRules) -> bool:
    """``secret-ref-changed``: a ``{secret = ...}`` reference changed, appeared or went away
    (only the reference is compared; lamina never sees a secret's value)."""
    return is_secret_ref(change.a) or is_secret_ref(change.b)


def guardrail_loosened(change: Change, rules: GuardrailRules) -> bool:
    """``guardrail-loosened``: a guardrail moved the looser way.

    An ``[[ordered]]`` key follows its declared direction (for ``non-increasing`` a larger
    value, or the value removed, is looser). Other keys matching the ``[plan] guardrails``
    globs follow :func:`default_loosened`.
    """
    for ordered in rules.ordered:
        if change.path == ordered.path:
            return ordered_loosened(change.a, change.b, ordered.direction)
    dotted = format_path(change.path)
    if not any(fnmatchcase(dotted, glob) for glob in rules.globs):
        return False
    return default_loosened(change.path, change.a, change.b)


def ordered_loosened(a: Any, b: Any, direction: str) -> bool:
    """For an ``[[ordered]]`` key: b is looser than a along direction (removal is looser)."""
    if a is ABSENT:
        return False
    if b is ABSENT:
        return True
    if _is_number(a) != _is_number(b):
        return False
    try:
        return bool(b > a) if direction == "non-increasing" else bool(b < a)
    except TypeError:  # values that do not compare: nothing to say
        return False


_UPPER_BOUND_LAST = ("threshold", "limit", "limits", "cap", "ceiling")
_UPPER_BOUND_FIRST = ("max", "maximum")
_LOWER_BOUND_FIRST = ("min", "minimum")
_PERMISSIVE_FIRST = ("allow", "allowed", "permit", "permitted", "disable", "disabled", "skip", "bypass")
_BLOCKLIST_FIRST = ("block", "blocked", "blocklist", "deny", "denied", "denylist", "banned", "forbidden")
_ALLOWLIST_FIRST = ("allow", "allowed", "allowlist", "permitted")


def default_loosened(path: KeyPath, a: Any, b: Any) -> bool:
    """The default guardrail rules, by the leaf's name (``a``/``b`` may be ABSENT):

    - a boolean switch turned from true to false (or removed); for a permissive name
      (``allow_*``, ``disable_*``, ``skip_*``, ``bypass_*``) from false to true;
    - a number named ``*threshold``, ``max_*``, ``*_limit`` (or inside a ``*limits``
      table) raised or removed; one named ``min_*`` lowered or removed;
    - a list named ``blocked_*`` / ``deny*`` losing items; one named ``allow*`` gaining items.

    Anything else is not judged (no flag).
    """
    keys = _keys(path)
    words = _leaf_words(path)
    if not words:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        before, after = a is True, b is True
        if words[0] in _PERMISSIVE_FIRST:
            return not before and after
        return before and not after
    if _is_number(a) or _is_number(b):
        parent = _words(keys[-2]) if len(keys) > 1 else []
        if words[0] in _LOWER_BOUND_FIRST:
            return _is_number(a) and (b is ABSENT or (_is_number(b) and b < a))
        upper = (
            words[0] in _UPPER_BOUND_FIRST
            or words[-1] in _UPPER_BOUND_LAST
            or (bool(parent) and parent[-1] in ("limit", "limits"))
        )
        return upper and _is_number(a) and (b is ABSENT or (_is_number(b) and b > a))
    if isinstance(a, list) or isinstance(b, list):
        old = a if isinstance(a, list) else []
        new = b if isinstance(b, list) else []
        if words[0] in _BLOCKLIST_FIRST:
            return any(item not in new for item in old)
        if words[0] in _ALLOWLIST_FIRST:
            return any(item not in old for item in new)
    return False


Rule = Callable[[Change, GuardrailRules], bool]

RULES: tuple[tuple[str, Rule], ...] = (
    (MODEL_CHANGED, model_changed),
    (PROMPT_CHANGED, prompt_changed),
    (GUARDRAIL_LOOSENED, guardrail_loosened),
    (TOOL_ENDPOINT_CHANGED, tool_endpoint_changed),
    (SECRET_REF_CHANGED, secret_ref_changed),
)
"""Every flag in the order a plan lists them."""

FLAG_NAMES = tuple(name for name, _ in RULES)


def flags_between(a: Any, b: Any, rules: GuardrailRules) -> tuple[Flag, ...]:
    """The flags a change from config a to config b raises, in :data:`RULES` order."""
    return flags_of(list(leaf_changes(a, b)), rules)


def flags_of(changes: Sequence[Change], rules: GuardrailRules) -> tuple[Flag, ...]:
    """The flags raised by leaf changes (as from :func:`leaf_changes`), in :data:`RULES` order."""
    flags = []
    for name, rule in RULES:
        paths = tuple(change.path for change in changes if rule(change, rules))
        if paths:
            flags.append(Flag(name, paths))
    return tuple(flags)
