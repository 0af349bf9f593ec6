"""The merge laws of SPEC section 2 as hypothesis properties over generated configs."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from lamina.core.paths import KeyPath
from lamina.errors import MergeError

PROPERTY = settings(max_examples=60, deadline=None)

KEYS = st.sampled_from(["a", "b", "c", "model", "tools", "x-y", "name"])
SCALARS = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.text(max_size=8),
)


def plain_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Config values without directives or nulls: scalars, arrays of scalars, nested tables."""
    return st.recursive(
        st.one_of(SCALARS, st.lists(SCALARS, max_size=4)),
        lambda children: st.dictionaries(KEYS, children, max_size=4),
        max_leaves=max_leaves,
    )


PLAIN_TABLES = st.dictionaries(KEYS, plain_values(), max_size=5)


def directive_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Values a higher layer may write: plain values plus every directive, anywhere."""
    leaf = st.one_of(
        SCALARS,
        st.lists(SCALARS, max_size=3),
        st.none(),
        st.just({"$delete": True}),
        st.builds(lambda v: {"$replace": v}, plain_values(6)),
        st.builds(lambda v: {"$append": v}, st.lists(SCALARS, max_size=3)),
        st.builds(lambda v: {"$prepend": v}, st.lists(SCALARS, max_size=3)),
        st.builds(
            lambda items: {"$merge_by": "name", "$items": items},
            st.lists(
                st.fixed_dictionaries(
                    {"name": st.sampled_from(["s", "t", "u"])},
                    optional={"v": SCALARS, "$delete": st.just(True)},
                ),
                max_size=3,
            ),
        ),
    )
    return st.recursive(
        leaf, lambda children: st.dictionaries(KEYS, children, max_size=4), max_leaves=max_leaves
    )


HIGHER_TABLES = st.dictionaries(KEYS, directive_values(), max_size=5)
NAMED_ITEMS = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["s", "t", "u"])}, optional={"v": st.integers()}),
    max_size=4,
    unique_by=lambda item: item["name"],
)


def reversed_order(value: Any) -> Any:
    """The same value with every table's keys inserted in the opposite order."""
    if isinstance(value, dict):
        return {key: reversed_order(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_order(item) for item in value]
    return value


def table_paths(value: Any, path: KeyPath = ()) -> list[KeyPath]:
    """Every non-empty path that reaches a value through tables only."""
    found: list[KeyPath] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*path, key))
            found.extend(table_paths(item, (*path, key)))
    return found


def nest(path: KeyPath, leaf: Any) -> dict[str, Any]:
    """{"a": {"b": leaf}} for the path ("a", "b")."""
    result: Any = leaf
    for key in reversed(path):
        result = {key: result}
    return result


def set_at(value: dict[str, Any], path: KeyPath, leaf: Any) -> dict[str, Any]:
    result = copy.deepcopy(value)
    node = result
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = leaf
    return result


def delete_at(value: dict[str, Any], path: KeyPath) -> dict[str, Any]:
    result = copy.deepcopy(value)
    node = result
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return result


def merge_or_error(lower: Any, higher: Any) -> tuple[str, Any]:
    try:
        return "ok", lamina.merge(lower, higher)
    except MergeError:
        return "error", None


# -- laws ---------------------------------------------------------------------------------------


@PROPERTY
@given(PLAIN_TABLES)
def test_merging_an_empty_layer_on_top_changes_nothing(config: dict[str, Any]) -> None:
    assert lamina.merge(config, {}) == config


@PROPERTY
@given(PLAIN_TABLES)
def test_merging_over_an_empty_layer_changes_nothing(config: dict[str, Any]) -> None:
    assert lamina.merge({}, config) == config


@PROPERTY
@given(PLAIN_TABLES)
def test_merging_a_config_over_itself_changes_nothing(config: dict[str, Any]) -> None:
    assert lamina.merge(config, copy.deepcopy(config)) == config


@PROPERTY
@given(st.data(), PLAIN_TABLES.filter(bool), plain_values(8))
def test_replace_sets_the_value_at_any_nesting(
    data: st.DataObject, lower: dict[str, Any], value: Any
) -> None:
    path = data.draw(st.sampled_from(table_paths(lower)))
    merged = lamina.merge(lower, nest(path, {"$replace": value}))
    assert merged == set_at(lower, path, value)


@PROPERTY
@given(st.data(), PLAIN_TABLES.filter(bool))
def test_delete_removes_exactly_that_key_at_any_nesting(data: st.DataObject, lower: dict[str, Any]) -> None:
    path = data.draw(st.sampled_from(table_paths(lower)))
    assert lamina.merge(lower, nest(path, {"$delete": True})) == delete_at(lower, path)
    assert lamina.merge(lower, nest(path, None)) == delete_at(lower, path)


@PROPERTY
@given(PLAIN_TABLES, HIGHER_TABLES)
def test_result_does_not_depend_on_insertion_order(lower: dict[str, Any], higher: dict[str, Any]) -> None:
    forward = merge_or_error(lower, higher)
    backward = merge_or_error(reversed_order(lower), reversed_order(higher))
    assert forward == backward


@PROPERTY
@given(NAMED_ITEMS, st.data())
def test_merge_by_does_not_depend_on_key_order_inside_items(
    items: list[dict[str, Any]], data: st.DataObject
) -> None:
    patch = data.draw(NAMED_ITEMS)
    forward = lamina.merge({"tools": items}, {"tools": {"$merge_by": "name", "$items": patch}})
    backward = lamina.merge(
        {"tools": reversed_order(items)},
        {"tools": reversed_order({"$merge_by": "name", "$items": patch})},
    )
    assert forward == backward
    assert [item["name"] for item in forward["tools"]] == [
        *[item["name"] for item in items],
        *[item["name"] for item in patch if item["name"] not in {old["name"] for old in items}],
    ]


@PROPERTY
@given(PLAIN_TABLES, HIGHER_TABLES)
def test_merge_never_mutates_its_inputs(lower: dict[str, Any], higher: dict[str, Any]) -> None:
    lower_before = copy.deepcopy(lower)
    higher_before = copy.deepcopy(higher)
    merge_or_error(lower, higher)
    assert lower == lower_before
    assert higher == higher_before


@PROPERTY
@given(PLAIN_TABLES, HIGHER_TABLES, HIGHER_TABLES)
def test_merging_twice_never_mutates_earlier_results(
    base: dict[str, Any], first: dict[str, Any], second: dict[str, Any]
) -> None:
    status, middle = merge_or_error(base, first)
    if status == "error":
        return
    middle_before = copy.deepcopy(middle)
    merge_or_error(middle, second)
    assert middle == middle_before


@PROPERTY
@given(PLAIN_TABLES, PLAIN_TABLES)
def test_plain_leaves_of_the_higher_layer_always_win(lower: dict[str, Any], higher: dict[str, Any]) -> None:
    status, merged = merge_or_error(lower, higher)
    if status == "error":
        return
    for path in table_paths(higher):
        written = higher
        got = merged
        for key in path:
            written = written[key]
            got = got[key]
        if not isinstance(written, dict):
            assert got == written
