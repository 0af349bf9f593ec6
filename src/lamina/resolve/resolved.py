"""What resolution hands on: one target's exact config, and where each of its values came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import msgspec

from lamina.core import hashing
from lamina.core.paths import KeyPath, format_path, get_path, parse_path
from lamina.core.targets import TargetRef
from lamina.errors import InputError, Place, UnknownTargetError
from lamina.fleet.model import Cluster, Environment
from lamina.resolve import merging, provenance, values
from lamina.resolve.provenance import Layer, Setting


class Explanation(msgspec.Struct, frozen=True):
    """Every layer that set a key, the winner last, and the resolved value."""

    target: str
    key: str
    value: Any
    layers: tuple[Setting, ...]

    def to_json(self) -> dict[str, Any]:
        """The SPEC ``explain`` shape."""
        return {
            "target": self.target,
            "key": self.key,
            "value": self.value,
            "layers": [setting.to_json() for setting in self.layers],
        }


@dataclass(frozen=True)
class ResolvedConfig:
    """One target's exact config and where each value came from.

    Attributes:
        target: the target, as ``ENV`` (environment level) or ``ENV/CLUSTER``.
        data: the resolved config; treat it as read-only (it shares unchanged tables with
            other targets).
        layers: the layers merged, lowest first.
        revision: the git commit the overlays were read at, or None for the working tree.
        base_revision: the commit ``base/`` was read at (the pin), or None.
        fleet_name: ``[fleet] name``.
    """

    target: TargetRef
    data: dict[str, Any]
    layers: tuple[Layer, ...]
    environment: Environment
    cluster: Cluster | None
    revision: str | None
    base_revision: str | None
    fleet_name: str
    # the file texts when the resolver already knows them (it finds them without a walk)
    _file_texts: dict[str, str] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of data."""
        return hashing.config_hash(self.data)

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the config hash."""
        return hashing.short_hash(self.config_hash)

    def plain(self) -> dict[str, Any]:
        """A deep copy of data made of builtin types only."""
        result: dict[str, Any] = values.plain(self.data)
        return result

    def files(self) -> dict[str, str]:
        """The texts of the ``{file = ...}`` references in the config, by repository path."""
        return self._files

    @cached_property
    def _files(self) -> dict[str, str]:
        if self._file_texts is not None:
            return self._file_texts
        found = {
            value.source: str(value) for value in values.walk(self.data) if isinstance(value, values.FileText)
        }
        return dict(sorted(found.items()))

    @cached_property
    def identities(self) -> dict[tuple[str, ...], str]:
        """The key each array is merged by in the layers (``$merge_by``), by the array's table
        keys; diffs pair those arrays' items by it (the others by ``name``)."""
        found: dict[tuple[str, ...], str] = {}
        for layer in self.layers:
            for doc in layer.documents:
                merging.merge_keys(doc.data, (), found)
        return found

    def secret_refs(self) -> list[tuple[KeyPath, str]]:
        """Every ``{secret = ...}`` in the config: its path and the reference (never a value)."""
        refs: list[tuple[KeyPath, str]] = []
        _collect_secrets(self.data, (), refs)
        return refs

    def place_of(self, path: KeyPath) -> Place | None:
        """file:line of the layer that set the value at path."""
        return provenance.place_of(self.layers, path, self.data)

    def settings(self, path: KeyPath) -> list[Setting]:
        """Every layer that set path, lowest first."""
        return provenance.settings(self.layers, path, self.data)

    def explain(self, key: str) -> Explanation:
        """Every layer that set key, the winner last.

        Raises:
            UnknownTargetError: no layer sets key and it is not in the config.
        """
        try:
            path = parse_path(key)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        layers = provenance.settings(self.layers, path, self.data)
        try:
            value = get_path(self.data, path)
        except KeyError:
            if not layers:
                raise UnknownTargetError(f"no layer of {self.target} sets {key!r}") from None
            value = None
        return Explanation(str(self.target), format_path(path), values.plain(value), tuple(layers))


def _collect_secrets(node: Any, path: KeyPath, out: list[tuple[KeyPath, str]]) -> None:
    if values.is_secret_ref(node):
        out.append((path, node[values.SECRET_KEY]))
    elif isinstance(node, dict):
        for key, value in node.items():
            _collect_secrets(value, (*path, key), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _collect_secrets(value, (*path, index), out)
