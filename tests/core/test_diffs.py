"""Field-level differences (``lamina diff``) and the config hash they are judged by."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from lamina.core import hashing
from lamina.core.diffs import ABSENT, Change, apply_changes, diff, is_multiline, text_diff
from lamina.core.paths import format_path, parse_path

# -- diff ---------------------------------------------------------------------------------------


def test_equal_configs_have_no_changes() -> None:
    config = {"agent": {"model": "gpt-4o", "tools": [{"name": "a"}]}, "flag": True}
    assert diff(config, {"agent": {"tools": [{"name": "a"}], "model": "gpt-4o"}, "flag": True}) == []


TOOLS = [
    {"name": "search", "timeout_seconds": 5},
    {"name": "kb", "timeout_seconds": 5},
]


@pytest.mark.parametrize(
    ("b", "expected"),
    [
        pytest.param(
            [*TOOLS, {"name": "crm", "timeout_seconds": 5}],
            [("tools[crm]", "added")],
            id="added-at-the-end",
        ),
        pytest.param(
            [TOOLS[0], {"name": "kb", "timeout_seconds": 9}, {"name": "crm"}],
            [("tools[kb].timeout_seconds", "changed"), ("tools[crm]", "added")],
            id="added-and-changed",
        ),
        pytest.param([TOOLS[1]], [("tools[search]", "removed")], id="removed-first"),
        pytest.param(
            [{"name": "search", "timeout_seconds": 5}, {"name": "1 x"}, TOOLS[1]],
            [("tools", "changed")],
            id="inserted-in-the-middle-is-one-value",
        ),
        pytest.param(list(reversed(TOOLS)), [("tools", "changed")], id="reordered-is-one-value"),
        pytest.param(
            [{"name": "search", "timeout_seconds": 5}, {"name": "kb", "timeout_seconds": 5}, {"x": 1}],
            [("tools", "changed")],
            id="an-item-without-name-compares-by-index",
        ),
        pytest.param(
            [*TOOLS, {"name": "a b"}],
            [('tools["a b"]', "added")],
            id="a-name-that-needs-quotes",
        ),
    ],
)
def test_arrays_of_named_tables_pair_items_by_name(b: list[Any], expected: list[tuple[str, str]]) -> None:
    a = {"tools": TOOLS}
    changes = diff(a, {"tools": b})
    assert [(format_path(change.path), change.kind) for change in changes] == expected
    assert apply_changes(a, changes) == {"tools": b}
    assert parse_path(format_path(changes[0].path)) == changes[0].path


def test_changes_are_leaves_in_sorted_key_order() -> None:
    a = {"z": 1, "agent": {"model": "small", "temperature": 0.2}, "topics": ["a", "b"], "gone": 1}
    b = {"z": 1, "agent": {"model": "big", "max_tokens": 10}, "topics": ["a", "c"], "new": {"x": 1}}
    assert diff(a, b) == [
        Change(("agent", "max_tokens"), ABSENT, 10),
        Change(("agent", "model"), "small", "big"),
        Change(("agent", "temperature"), 0.2, ABSENT),
        Change(("gone",), 1, ABSENT),
        Change(("new",), ABSENT, {"x": 1}),
        Change(("topics", 1), "b", "c"),
    ]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param([1, 2], [1, 2, 3], id="array-grows"),
        pytest.param([1, 2], [1], id="array-shrinks"),
        pytest.param({"x": 1}, [1], id="table-to-array"),
        pytest.param("1", 1, id="string-to-number"),
        pytest.param(1, 1.0, id="int-to-float"),
        pytest.param(True, 1, id="boolean-to-number"),
        pytest.param(None, 0, id="null-to-number"),
    ],
)
def test_changed_kind_or_length_is_one_whole_change(a: Any, b: Any) -> None:
    assert diff({"k": a}, {"k": b}) == [Change(("k",), a, b)]


def test_change_kinds_and_json_shape() -> None:
    changes = diff({"a": 1, "b": 2}, {"b": 3, "c": 4})
    assert [change.kind for change in changes] == ["removed", "changed", "added"]
    assert [change.to_json() for change in changes] == [
        {"path": "a", "a": 1},
        {"path": "b", "a": 2, "b": 3},
        {"path": "c", "b": 4},
    ]


def test_change_paths_are_formatted_like_keys() -> None:
    changes = diff({"tools": [{"a.b": 1}]}, {"tools": [{"a.b": 2}]})
    assert [change.to_json() for change in changes] == [{"path": 'tools[0]."a.b"', "a": 1, "b": 2}]


def test_file_texts_compare_as_their_text(example_repo: Path) -> None:
    with lamina.Repository(example_repo) as repo:
        staging = repo.resolve("staging/staging-us-1")
        production = repo.resolve("production/prod-us-1")
    paths = [change.path for change in diff(staging.data, production.data)]
    assert ("agent", "system_prompt") not in paths
    assert ("agent", "model") not in paths  # both run gpt-4o
    assert ("guardrails", "max_tool_calls") in paths


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param({"a": 1, "b": {"c": [1, 2]}}, {"b": {"c": [1, 3], "d": None}, "e": "x"}, id="tables"),
        pytest.param({"a": [{"x": 1}, {"y": 2}]}, {"a": [{"x": 2}, {"z": 2}]}, id="arrays-of-tables"),
        pytest.param({"a": {"b": 1}}, {"a": "flat"}, id="table-to-scalar"),
        pytest.param({"a": 1}, {}, id="to-empty"),
        pytest.param([1, {"a": 1}], [2, {"a": 2}], id="top-level-array"),
        pytest.param({"a": 1}, ["whole"], id="top-level-kind"),
    ],
)
def test_apply_changes_of_diff_gives_b(a: Any, b: Any) -> None:
    assert apply_changes(a, diff(a, b)) == b


def test_apply_changes_does_not_touch_a() -> None:
    a = {"agent": {"model": "small"}, "topics": ["a"]}
    apply_changes(a, diff(a, {"agent": {"model": "big"}, "topics": ["b"]}))
    assert a == {"agent": {"model": "small"}, "topics": ["a"]}


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["a", "b", "c", "d.e", "f"]), children, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, JSON_VALUES)
def test_diff_then_apply_changes_gives_b(a: Any, b: Any) -> None:
    result = apply_changes(a, diff(a, b))
    # compared as canonical JSON, so 1 and 1.0 or True and 1 count as different
    assert hashing.canonical_json(result) == hashing.canonical_json(b)


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES)
def test_diff_of_a_value_with_itself_is_empty(a: Any) -> None:
    assert diff(a, a) == []


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES, JSON_VALUES)
def test_every_change_names_a_differing_place(a: Any, b: Any) -> None:
    for change in diff(a, b):
        assert change.a is not ABSENT or change.b is not ABSENT
        if change.a is not ABSENT and change.b is not ABSENT:
            assert hashing.canonical_json(change.a) != hashing.canonical_json(change.b)


def test_text_diff_of_prompts() -> None:
    lines = text_diff("Be kind.\nBe brief.\n", "Be kind.\nBe very brief.\n", "a/prompt", "b/prompt")
    assert lines == [
        "--- a/prompt",
        "+++ b/prompt",
        "@@ -1,2 +1,2 @@",
        " Be kind.",
        "-Be brief.",
        "+Be very brief.",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("one line\n", False, id="one-line-with-newline"),
        pytest.param("two\nlines", True, id="two-lines"),
        pytest.param(12, False, id="number"),
    ],
)
def test_is_multiline(value: Any, expected: bool) -> None:
    assert is_multiline(value) is expected


# -- config hash --------------------------------------------------------------------------------


def test_canonical_json_sorts_keys_without_whitespace_in_utf8() -> None:
    data = {"max": [1, 2.5, True, None], "agent": {"name": "café", "model": "gpt-4o"}}
    assert hashing.canonical_json(data) == (
        b'{"agent":{"model":"gpt-4o","name":"caf\xc3\xa9"},"max":[1,2.5,true,null]}'
    )


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        pytest.param({}, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", id="empty"),
        pytest.param(
            {"max": [1, 2.5, True, None], "agent": {"name": "café", "model": "gpt-4o"}},
            "5209a52358c7495fcdfe6d8cb282f34c708c520ad08f8e1bd34f80e2ce97d5a2",
            id="nested",
        ),
    ],
)
def test_config_hash_is_sha256_of_canonical_json(data: Any, digest: str) -> None:
    assert lamina.config_hash(data) == digest
    assert hashing.short_hash(digest) == digest[:12]


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=6))
def test_config_hash_ignores_key_insertion_order(data: dict[str, Any]) -> None:
    reordered = dict(reversed(list(data.items())))
    assert lamina.config_hash(reordered) == lamina.config_hash(data)


def test_config_hash_tells_int_from_float() -> None:
    assert lamina.config_hash({"t": 1}) != lamina.config_hash({"t": 1.0})


def test_resolved_config_hash(example_repo: Path) -> None:
    with lamina.Repository(example_repo) as repo:
        config = repo.resolve("production-eu/prod-eu-1")
    canonical = hashing.canonical_json(config.plain())
    assert canonical.startswith(b'{"agent":{"api_key":{"secret":"openai/api-key"},"description":')
    assert config.config_hash == hashlib.sha256(canonical).hexdigest()
    assert config.short_hash == config.config_hash[:12]
    assert len(config.short_hash) == 12


# -- arrays paired by the key the layers merge them by ($merge_by) ------------------------------

AGENTS = {"agents": [{"id": "a1", "tools": [{"key": "crm", "timeout": 5}, {"key": "kb", "timeout": 5}]}]}


@pytest.mark.parametrize(
    ("identities", "b", "expected"),
    [
        pytest.param(
            {("agents",): "id", ("agents", "tools"): "key"},
            {"agents": [{"id": "a1", "tools": [{"key": "crm", "timeout": 9}, {"key": "kb", "timeout": 5}]}]},
            [("agents[a1].tools[crm].timeout", "changed")],
            id="nested-arrays-each-by-its-key",
        ),
        pytest.param(
            {("agents",): "id", ("agents", "tools"): "key"},
            {
                "agents": [
                    {
                        "id": "a1",
                        "tools": [{"key": "crm", "timeout": 5}, {"key": "kb", "timeout": 5}, {"key": "web"}],
                    }
                ]
            },
            [("agents[a1].tools[web]", "added")],
            id="an-added-item-is-one-change",
        ),
        pytest.param(
            {},
            {
                "agents": [
                    {
                        "id": "a1",
                        "tools": [{"key": "crm", "timeout": 5}, {"key": "kb", "timeout": 5}, {"key": "web"}],
                    }
                ]
            },
            [("agents[0].tools", "changed")],
            id="without-identities-by-index-and-whole",
        ),
    ],
)
def test_arrays_pair_items_by_their_merge_by_key(
    identities: dict[tuple[str, ...], str], b: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    changes = diff(AGENTS, b, identities=identities)
    assert [(format_path(change.path), change.kind) for change in changes] == expected
    assert apply_changes(AGENTS, changes) == b
