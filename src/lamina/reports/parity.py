"""Environments side by side: every key whose value differs, with each side's reason.

A difference is *undocumented* when an environment's winning value comes from an overlay
(not from ``base/``) whose line carries no reason. ``lamina parity --strict`` fails on those,
so every way production differs from staging is written down next to the override.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lamina.core import diffs
from lamina.core.paths import IDENTITY, Item, KeyPath, concrete, format_path
from lamina.reports import presenting
from lamina.resolve.repository import Repository
from lamina.resolve.resolved import ResolvedConfig

_ABSENT: Any = object()


@dataclass(frozen=True)
class Side:
    """One environment's value for a differing key."""

    environment: str
    present: bool
    value: Any
    layer: str | None
    where: str | None
    reason: str | None
    undocumented: bool


@dataclass(frozen=True)
class Difference:
    """A key whose resolved value is not the same in every environment."""

    path: KeyPath
    sides: tuple[Side, ...]

    @property
    def undocumented(self) -> tuple[str, ...]:
        """Environments whose differing override carries no reason."""
        return tuple(side.environment for side in self.sides if side.undocumented)

    def to_json(self) -> dict[str, Any]:
        """JSON form: values and reasons per environment."""
        return {
            "path": format_path(self.path),
            "values": {s.environment: s.value for s in self.sides if s.present},
            "reasons": {s.environment: s.reason for s in self.sides},
            "set_in": {s.environment: s.where for s in self.sides},
            "undocumented": list(self.undocumented),
        }


def parity(repo: Repository, environments: Sequence[str] = ()) -> list[Difference]:
    """Compare the environment-level configs of the fleet, key by key."""
    names = list(environments) or list(repo.fleet.ordered_environments())
    configs = [repo.resolve(name) for name in names]
    identities: dict[tuple[str, ...], str] = {}
    for config in configs:
        identities.update(config.identities)
    flat = [dict(_leaves(config.plain(), (), identities)) for config in configs]
    paths = sorted({path for leaves in flat for path in leaves}, key=_sort_key)
    differences = []
    for path in paths:
        values = [leaves.get(path, _ABSENT) for leaves in flat]
        if all(_same(values[0], value) for value in values[1:]):
            continue
        sides = tuple(_side(config, path, value) for config, value in zip(configs, values, strict=True))
        differences.append(Difference(path, sides))
    return differences


def _side(config: ResolvedConfig, path: KeyPath, value: Any) -> Side:
    try:  # provenance knows array items by index
        settings = config.settings(concrete(config.data, path))
    except KeyError:
        settings = []
    winner = settings[-1] if settings else None
    override = winner is not None and winner.kind != "base"
    return Side(
        environment=config.target.environment,
        present=value is not _ABSENT,
        value=None if value is _ABSENT else presenting.shown_at(path, value),
        layer=winner.layer if winner else None,
        where=f"{winner.file}:{winner.line}" if winner else None,
        reason=winner.reason if winner else None,
        undocumented=override and not (winner.reason if winner else None),
    )


def _leaves(node: Any, path: KeyPath, identities: diffs.Identities) -> Iterator[tuple[KeyPath, Any]]:
    # Arrays of tables (tools) are compared item by item, by their $merge_by key or name when
    # every item has a unique one (tools[crm]); arrays of plain values as a whole.
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, (*path, key), identities)
    elif isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        key = identities.get(diffs.shape(path), IDENTITY)
        named = diffs.names(node, key)
        if named is not None:
            for name, value in zip(named, node, strict=True):
                yield from _leaves(value, (*path, Item(key, name)), identities)
            return
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index), identities)
    else:
        yield path, node


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and bool(a == b)


def _sort_key(path: KeyPath) -> tuple[str, ...]:
    return tuple(str(part) for part in path)
