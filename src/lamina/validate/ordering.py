"""``[[ordered]]``: values that may only tighten along each promotion path.

For every environment with an upstream, the environment-level value at the key is compared
with the upstream environment's: with ``non-increasing`` the downstream value must be less
than or equal to the upstream one (``max_tool_calls`` 15 in staging, 10 in production).
A cluster layer can override the value for one cluster, so every cluster target of the
downstream environment whose value differs from its environment's is compared with the
upstream environment's value too.

Only numbers (and booleans, against booleans) are compared. Where either side lacks the
key there is nothing to compare and nothing is reported; a value of another kind is a
problem, since the constraint cannot hold.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from lamina.core.paths import format_path, get_path
from lamina.fleet.model import Fleet
from lamina.resolve import values
from lamina.resolve.resolved import ResolvedConfig
from lamina.validate.diagnostics import Check, Diagnostic, Severity
from lamina.validate.policy_files import Ordered

_ABSENT: Any = object()
_VERB = {"non-increasing": ("greater than", "decrease"), "non-decreasing": ("less than", "increase")}


def promotion_edges(fleet: Fleet, selected: Collection[str] = ()) -> list[tuple[str, str]]:
    """(upstream, downstream) for every promotion step touching a selected environment (all by default)."""
    edges = []
    for name in fleet.ordered_environments():
        upstream = fleet.environments[name].upstream
        if upstream is None:
            continue
        if not selected or name in selected or upstream in selected:
            edges.append((upstream, name))
    return edges


def check(
    constraints: Sequence[Ordered],
    edges: Sequence[tuple[str, str]],
    environment_configs: Mapping[str, ResolvedConfig],
    cluster_configs: Sequence[ResolvedConfig],
) -> list[Diagnostic]:
    """Every ordered constraint broken along the given promotion steps.

    Args:
        constraints: the ``[[ordered]]`` entries.
        edges: (upstream, downstream) environment pairs.
        environment_configs: the environment-level config of every environment in edges.
        cluster_configs: cluster targets whose overrides should be compared too.
    """
    found: list[Diagnostic] = []
    for constraint in constraints:
        for upstream, downstream in edges:
            up = environment_configs[upstream]
            down = environment_configs[downstream]
            up_value = _value(up, constraint)
            if up_value is _ABSENT:
                continue
            down_value = _value(down, constraint)
            if down_value is not _ABSENT:
                found.extend(_compare(constraint, up, up_value, down, down_value))
            for target in cluster_configs:
                if target.environment.name != downstream:
                    continue
                value = _value(target, constraint)
                if value is _ABSENT or _same(value, down_value):
                    continue  # no cluster override: the environment-level comparison covers it
                found.extend(_compare(constraint, up, up_value, target, value))
    return found


def _compare(
    constraint: Ordered, up: ResolvedConfig, up_value: Any, down: ResolvedConfig, down_value: Any
) -> list[Diagnostic]:
    key = format_path(constraint.path)
    place = down.place_of(constraint.path)
    if not _comparable(up_value, down_value):
        return [
            Diagnostic(
                check=Check.ORDERED,
                severity=Severity.ERROR,
                target=str(down.target),
                key=key,
                place=place,
                message=(
                    f"must be {constraint.direction} along the promotion path ({constraint.place}), "
                    f"but {down.target} has {_kind(down_value)} and its upstream {up.target} has "
                    f"{_kind(up_value)}, which cannot be compared"
                ),
            )
        ]
    worse, verb = _VERB[constraint.direction]
    broken = down_value > up_value if constraint.direction == "non-increasing" else down_value < up_value
    if not broken:
        return []
    return [
        Diagnostic(
            check=Check.ORDERED,
            severity=Severity.ERROR,
            target=str(down.target),
            key=key,
            place=place,
            message=(
                f"{down.target} has {_show(down_value)}, {worse} {_show(up_value)} in its upstream "
                f"{up.target}; along the promotion path it may only stay or {verb} "
                f"({constraint.direction}, {constraint.place})"
            ),
        )
    ]


def _value(config: ResolvedConfig, constraint: Ordered) -> Any:
    try:
        return get_path(config.data, constraint.path)
    except KeyError:
        return _ABSENT


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return isinstance(a, int | float) and isinstance(b, int | float)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and bool(a == b)


def _kind(value: Any) -> str:
    return values.with_article(values.category(value))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
