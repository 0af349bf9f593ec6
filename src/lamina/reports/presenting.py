"""The one path config values take on their way to people.

Every command's output, every stored report (drift results) and every API answer builds what
it shows of a config through these functions, so a credential-like literal that slipped into
a layer (``api_key = "sk-..."`` without ``lamina: allow-plaintext``) is masked wherever config
is shown, and no new command or route can forget it. Only the credential is masked, not the
text around it (:mod:`lamina.core.credential_rules` finds where it sits). ``{secret = ...}``
references are names, not values, and are shown as written. The config hash and everything
shipped to clusters keep the real values; only what is shown is masked.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lamina.core import diffs
from lamina.core.paths import KeyPath
from lamina.resolve import values
from lamina.resolve.resolved import Explanation, ResolvedConfig
from lamina.validate import credentials


def leaf_key(path: KeyPath) -> str | None:
    """The innermost table key of path (what decides whether a literal is a credential)."""
    return next((part for part in reversed(path) if isinstance(part, str)), None)


def shown(value: Any, key: str | None = None) -> Any:
    """value as lamina shows it: builtin types, credential-like literals masked.

    Args:
        key: the table key value sits under (``api_key``), when it is a leaf.
    """
    if value is diffs.ABSENT:
        return value
    if key == values.SECRET_KEY and isinstance(value, str) and values.valid_secret_ref(value):
        return str(value)  # the inside of a {secret = ...} reference: a name, not a value
    return mask_tree(_plain(value), key)


def mask_tree(data: Any, key: str | None = None) -> Any:
    """A copy of data (builtin types) with every credential-like string masked.

    A string under a credential-like key (``api_key``) is masked whole; in any other string
    only the credentials found in it are (a prompt with a pasted key stays readable).
    """
    if values.is_secret_ref(data):
        return data  # a reference names a secret; it holds no value
    if key == values.SECRET_KEY and isinstance(data, str) and values.valid_secret_ref(data):
        return data  # the inside of such a reference
    if isinstance(data, dict):
        return {k: mask_tree(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_tree(item, key) for item in data]
    if isinstance(data, str) and credentials.looks_like_credential(key, data):
        return credentials.mask_value(key, data)
    return data


def shown_at(path: KeyPath, value: Any) -> Any:
    """The value at path of a config, as lamina shows it."""
    return shown(value, leaf_key(path))


def config(resolved: ResolvedConfig) -> dict[str, Any]:
    """A target's whole resolved config as lamina shows it."""
    data: dict[str, Any] = shown(resolved.data)
    return data


def explanation(found: Explanation) -> Explanation:
    """An explanation whose value and every layer's value are shown masked."""
    leaf = found.key.rsplit(".", 1)[-1]
    return msgspec.structs.replace(
        found,
        value=shown(found.value, leaf),
        layers=tuple(
            msgspec.structs.replace(setting, value=shown(setting.value, leaf)) for setting in found.layers
        ),
    )


def changes(a: Any, b: Any, identities: diffs.Identities | None = None) -> list[diffs.Change]:
    """The differences between two configs, computed on what is shown (so none can carry a
    credential); arrays paired by item as identities (``$merge_by``) or ``name`` say."""
    return diffs.diff(shown(a), shown(b), identities=identities)


def changes_between(a: ResolvedConfig, b: ResolvedConfig) -> list[diffs.Change]:
    """:func:`changes` of two targets' configs, arrays paired as either's layers merge them."""
    return changes(a.data, b.data, {**a.identities, **b.identities})


def _plain(value: Any) -> Any:
    """A deep copy made of builtin types only (file texts become plain strings)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value
