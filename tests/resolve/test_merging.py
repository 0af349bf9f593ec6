"""The merge rules of SPEC section 2, one small test per rule and per directive."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import lamina
from conftest import WriteRepo
from lamina.errors import InputError, MergeError

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[environments.prod-eu]
extends = "prod"
upstream = "dev"

[clusters.dev-1]
environment = "dev"

[clusters.prod-1]
environment = "prod"

[clusters.eu-1]
environment = "prod-eu"
"""


def resolve(write_repo: WriteRepo, files: dict[str, str], target: str = "dev/dev-1") -> dict[str, Any]:
    """Write a repository with the demo fleet plus files and resolve one target."""
    root = write_repo({"lamina.toml": FLEET, **files})
    with lamina.Repository(root) as repo:
        return repo.resolve(target).data


def resolve_error(write_repo: WriteRepo, files: dict[str, str], target: str = "dev/dev-1") -> str:
    """Write a repository, resolve one target, and return the message of the MergeError raised."""
    root = write_repo({"lamina.toml": FLEET, **files})
    with lamina.Repository(root) as repo, pytest.raises(MergeError) as info:
        repo.resolve(target)
    return str(info.value)


# -- precedence ---------------------------------------------------------------------------------


def test_environment_overlay_beats_base(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {"base/agent.toml": 'model = "small"\n', "overlays/dev/patch.toml": 'model = "big"\n'},
    )
    assert data == {"model": "big"}


def test_cluster_layer_beats_environment(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": 'model = "small"\n',
            "overlays/dev/patch.toml": 'model = "big"\n',
            "clusters/dev-1.toml": 'model = "huge"\n',
        },
    )
    assert data == {"model": "huge"}


def test_cluster_layer_applies_only_to_its_cluster(write_repo: WriteRepo) -> None:
    files = {
        "base/agent.toml": 'model = "small"\n',
        "clusters/dev-1.toml": 'model = "huge"\n',
    }
    assert resolve(write_repo, files, "prod/prod-1") == {"model": "small"}


def test_extends_chain_merges_root_first(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": 'a = "base"\nb = "base"\nc = "base"\nd = "base"\n',
            "overlays/prod/patch.toml": 'b = "prod"\nc = "prod"\nd = "prod"\n',
            "overlays/prod-eu/patch.toml": 'c = "prod-eu"\nd = "prod-eu"\n',
            "clusters/eu-1.toml": 'd = "eu-1"\n',
        },
        "prod-eu/eu-1",
    )
    assert data == {"a": "base", "b": "prod", "c": "prod-eu", "d": "eu-1"}


def test_files_in_one_layer_merge_in_sorted_name_order(write_repo: WriteRepo) -> None:
    # written out of order on purpose; "10-" sorts before "9-" by name
    data = resolve(
        write_repo,
        {
            "base/9-last.toml": 'order = "9-last"\n',
            "base/10-first.toml": 'order = "10-first"\nfirst = true\n',
            "base/5-middle.yaml": "order: 5-middle\n",
        },
    )
    assert data == {"order": "9-last", "first": True}


def test_cluster_layer_may_be_a_folder(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": 'model = "small"\ntemperature = 0.2\n',
            "clusters/dev-1/a.toml": 'model = "huge"\n',
            "clusters/dev-1/b.yaml": "temperature: 0.9\n",
        },
    )
    assert data == {"model": "huge", "temperature": 0.9}


# -- which files are config ---------------------------------------------------------------------


def test_kustomization_yaml_is_not_config(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": 'model = "small"\n',
            "overlays/dev/kustomization.yaml": "resources:\n  - deployment.yaml\nmodel: not-config\n",
        },
    )
    assert data == {"model": "small"}


def test_layers_exclude_globs_are_not_config(write_repo: WriteRepo) -> None:
    fleet = FLEET + '\n[layers]\nexclude = ["*.draft.toml", "overlays/dev/notes.yaml"]\n'
    root = write_repo(
        {
            "lamina.toml": fleet,
            "base/agent.toml": 'model = "small"\n',
            "base/agent.draft.toml": 'model = "draft"\n',
            "overlays/dev/notes.yaml": "model: notes\n",
            "overlays/dev/patch.yaml": "temperature: 0.5\n",
        }
    )
    with lamina.Repository(root) as repo:
        assert repo.resolve("dev/dev-1").data == {"model": "small", "temperature": 0.5}


def test_sub_folder_files_are_not_config(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": 'model = "small"\n',
            "base/tools/extra.toml": 'model = "from-sub-folder"\n',
        },
    )
    assert data == {"model": "small"}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("agent.toml", '[agent]\nmodel = "big"\ntools = ["a"]\n', id="toml"),
        pytest.param("agent.yaml", "agent:\n  model: big\n  tools: [a]\n", id="yaml"),
        pytest.param("agent.yml", "agent:\n  model: big\n  tools:\n    - a\n", id="yml"),
        pytest.param("agent.json", '{"agent": {"model": "big", "tools": ["a"]}}\n', id="json"),
    ],
)
def test_every_config_format_is_a_layer_file(write_repo: WriteRepo, name: str, text: str) -> None:
    data = resolve(
        write_repo,
        {"base/defaults.toml": '[agent]\nmodel = "small"\nmax_tokens = 10\n', f"overlays/dev/{name}": text},
    )
    assert data == {"agent": {"model": "big", "max_tokens": 10, "tools": ["a"]}}


def test_toml_yaml_json_layers_merge_together(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": '[agent]\nmodel = "small"\nmax_tokens = 10\ntemperature = 0.2\n',
            "overlays/dev/patch.yaml": "agent:\n  max_tokens: 20\n  temperature: null\n",
            "clusters/dev-1.json": '{"agent": {"model": "huge"}}\n',
        },
    )
    assert data == {"agent": {"model": "huge", "max_tokens": 20}}


# -- tables, scalars, arrays --------------------------------------------------------------------


def test_tables_merge_key_by_key() -> None:
    assert lamina.merge({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {"a": 1, "b": 3, "c": 4}


def test_tables_merge_recursively() -> None:
    lower = {"agent": {"model": "small", "limits": {"tokens": 10, "calls": 5}}}
    higher = {"agent": {"limits": {"calls": 7}}}
    assert lamina.merge(lower, higher) == {"agent": {"model": "small", "limits": {"tokens": 10, "calls": 7}}}


def test_tables_merge_key_by_key_across_layers(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": '[agent]\nmodel = "small"\n[agent.limits]\ntokens = 10\ncalls = 5\n',
            "overlays/dev/patch.toml": "[agent.limits]\ncalls = 7\n",
        },
    )
    assert data == {"agent": {"model": "small", "limits": {"tokens": 10, "calls": 7}}}


def test_higher_scalar_replaces_lower() -> None:
    assert lamina.merge({"model": "small"}, {"model": "big"}) == {"model": "big"}


def test_number_kinds_do_not_conflict() -> None:
    assert lamina.merge({"temperature": 1}, {"temperature": 0.5}) == {"temperature": 0.5}


def test_arrays_replace_whole() -> None:
    assert lamina.merge({"topics": ["a", "b", "c"]}, {"topics": ["z"]}) == {"topics": ["z"]}


def test_arrays_of_tables_replace_whole() -> None:
    lower = {"tools": [{"name": "a", "timeout": 1}, {"name": "b"}]}
    assert lamina.merge(lower, {"tools": [{"name": "a"}]}) == {"tools": [{"name": "a"}]}


def test_arrays_replace_whole_across_layers(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {"base/agent.toml": 'topics = ["a", "b", "c"]\n', "overlays/dev/patch.yaml": "topics: [z]\n"},
    )
    assert data == {"topics": ["z"]}


# -- $delete and YAML null ----------------------------------------------------------------------


def test_delete_removes_key() -> None:
    assert lamina.merge({"a": 1, "b": 2}, {"a": {"$delete": True}}) == {"b": 2}


def test_delete_removes_nested_key_and_keeps_siblings() -> None:
    lower = {"agent": {"model": "small", "limits": {"tokens": 10, "calls": 5}}}
    higher = {"agent": {"limits": {"tokens": {"$delete": True}}}}
    assert lamina.merge(lower, higher) == {"agent": {"model": "small", "limits": {"calls": 5}}}


def test_delete_removes_whole_table() -> None:
    assert lamina.merge({"memory": {"url": "x"}, "b": 1}, {"memory": {"$delete": True}}) == {"b": 1}


def test_delete_of_absent_key_changes_nothing() -> None:
    assert lamina.merge({"b": 1}, {"memory": {"url": {"$delete": True}}}) == {"b": 1}


def test_delete_removes_key_across_layers(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": '[agent]\nmodel = "small"\ntemperature = 0.2\n',
            "overlays/dev/patch.toml": '[agent]\ntemperature = { "$delete" = true }\n',
        },
    )
    assert data == {"agent": {"model": "small"}}


def test_yaml_null_removes_key() -> None:
    assert lamina.merge({"a": 1, "b": 2}, {"a": None}) == {"b": 2}


def test_yaml_null_removes_key_across_layers(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": '[agent]\nmodel = "small"\ntemperature = 0.2\n',
            "overlays/dev/patch.yaml": "agent:\n  temperature: null\n",
            "clusters/dev-1.yaml": "agent:\n  model: ~\n",
        },
    )
    assert data == {"agent": {}}


# -- $replace -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lower", "value"),
    [
        pytest.param({"x": 1}, "text", id="table-to-string"),
        pytest.param([1, 2], {"x": 1}, id="array-to-table"),
        pytest.param("text", [1, 2], id="string-to-array"),
        pytest.param(True, 3, id="boolean-to-number"),
        pytest.param({"x": 1}, 0.5, id="table-to-number"),
    ],
)
def test_replace_changes_type(lower: Any, value: Any) -> None:
    assert lamina.merge({"k": lower, "other": 1}, {"k": {"$replace": value}}) == {"k": value, "other": 1}


def test_replace_does_not_merge_tables() -> None:
    lower = {"memory": {"backend": "redis", "url": "redis://x"}}
    assert lamina.merge(lower, {"memory": {"$replace": {"backend": "in-memory"}}}) == {
        "memory": {"backend": "in-memory"}
    }


def test_replace_of_absent_key_sets_it() -> None:
    assert lamina.merge({"b": 1}, {"a": {"$replace": [1]}}) == {"a": [1], "b": 1}


def test_replace_changes_type_across_layers(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": '[memory]\nbackend = "redis"\nurl = "redis://x"\n',
            "overlays/dev/patch.toml": 'memory = { "$replace" = "none" }\n',
        },
    )
    assert data == {"memory": "none"}


# -- $append and $prepend -----------------------------------------------------------------------


def test_append() -> None:
    assert lamina.merge({"topics": ["a", "b"]}, {"topics": {"$append": ["c", "d"]}}) == {
        "topics": ["a", "b", "c", "d"]
    }


def test_append_to_absent_array_creates_it() -> None:
    assert lamina.merge({}, {"topics": {"$append": ["c"]}}) == {"topics": ["c"]}


def test_prepend() -> None:
    assert lamina.merge({"topics": ["a", "b"]}, {"topics": {"$prepend": ["y", "z"]}}) == {
        "topics": ["y", "z", "a", "b"]
    }


def test_append_and_prepend_across_layers(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/agent.toml": 'topics = ["b"]\n',
            "overlays/dev/patch.toml": 'topics = { "$append" = ["c"] }\n',
            "clusters/dev-1.yaml": "topics:\n  $prepend: [a]\n",
        },
    )
    assert data == {"topics": ["a", "b", "c"]}


# -- $merge_by ----------------------------------------------------------------------------------

TOOLS = [
    {"name": "search", "timeout": 5, "limits": {"rate": 10, "burst": 2}},
    {"name": "crm", "timeout": 10},
]


def test_merge_by_merges_matching_item() -> None:
    higher = {"tools": {"$merge_by": "name", "$items": [{"name": "search", "limits": {"rate": 99}}]}}
    assert lamina.merge({"tools": TOOLS}, higher) == {
        "tools": [
            {"name": "search", "timeout": 5, "limits": {"rate": 99, "burst": 2}},
            {"name": "crm", "timeout": 10},
        ]
    }


def test_merge_by_deletes_matching_item() -> None:
    higher = {"tools": {"$merge_by": "name", "$items": [{"name": "search", "$delete": True}]}}
    assert lamina.merge({"tools": TOOLS}, higher) == {"tools": [{"name": "crm", "timeout": 10}]}


def test_merge_by_delete_without_match_changes_nothing() -> None:
    higher = {"tools": {"$merge_by": "name", "$items": [{"name": "gone", "$delete": True}]}}
    assert lamina.merge({"tools": TOOLS}, higher) == {"tools": TOOLS}


def test_merge_by_appends_new_item() -> None:
    higher = {"tools": {"$merge_by": "name", "$items": [{"name": "calculator", "timeout": 1}]}}
    assert lamina.merge({"tools": TOOLS}, higher) == {"tools": [*TOOLS, {"name": "calculator", "timeout": 1}]}


def test_merge_by_applies_directives_inside_matching_item() -> None:
    lower = {"tools": [{"name": "search", "scopes": ["read"], "debug": True}]}
    higher = {
        "tools": {
            "$merge_by": "name",
            "$items": [{"name": "search", "scopes": {"$append": ["write"]}, "debug": {"$delete": True}}],
        }
    }
    assert lamina.merge(lower, higher) == {"tools": [{"name": "search", "scopes": ["read", "write"]}]}


def test_merge_by_across_layers(write_repo: WriteRepo) -> None:
    data = resolve(
        write_repo,
        {
            "base/tools.toml": """
                [[tools]]
                name = "search"
                timeout = 5

                [[tools]]
                name = "crm"
                timeout = 10

                [[tools]]
                name = "legacy"
                """,
            "overlays/dev/tools.toml": """
                [tools]
                "$merge_by" = "name"
                "$items" = [
                  { name = "crm", timeout = 30 },
                  { name = "legacy", "$delete" = true },
                  { name = "calculator", timeout = 1 },
                ]
                """,
        },
    )
    assert data == {
        "tools": [
            {"name": "search", "timeout": 5},
            {"name": "crm", "timeout": 30},
            {"name": "calculator", "timeout": 1},
        ]
    }


def test_example_fleet_directives(example_repo: Path) -> None:
    with lamina.Repository(example_repo) as repo:
        eu = repo.resolve("production-eu/prod-eu-1").data
    assert eu["guardrails"]["blocked_topics"] == [
        "medical diagnosis",
        "legal advice",
        "investment advice",
        "customer profiling",
    ]
    assert [tool["name"] for tool in eu["tools"]] == ["search", "calculator", "kb-retriever", "crm"]
    assert eu["tools"][3]["endpoint"] == "https://crm.eu.example.com/api"
    assert eu["tools"][3]["timeout_seconds"] == 10


@pytest.mark.parametrize(
    ("lower", "items", "message"),
    [
        pytest.param(
            [{"name": "a"}],
            [{"timeout": 1}],
            "<value>: tools: item 0 of $items must be a table carrying 'name'",
            id="higher-item-without-key",
        ),
        pytest.param(
            [{"name": "a"}],
            [{"name": "b"}, "c"],
            "<value>: tools: item 1 of $items must be a table carrying 'name'",
            id="higher-item-not-a-table",
        ),
        pytest.param(
            [{"name": "a"}, {"timeout": 1}],
            [{"name": "a"}],
            "<value>: tools[1]: every item merged by 'name' must be a table carrying 'name' "
            "(set in a lower layer)",
            id="lower-item-without-key",
        ),
        pytest.param(
            ["a"],
            [{"name": "a"}],
            "<value>: tools[0]: every item merged by 'name' must be a table carrying 'name' "
            "(set in a lower layer)",
            id="lower-item-not-a-table",
        ),
    ],
)
def test_merge_by_item_without_key_is_error(lower: list[Any], items: list[Any], message: str) -> None:
    with pytest.raises(MergeError) as info:
        lamina.merge({"tools": lower}, {"tools": {"$merge_by": "name", "$items": items}})
    assert str(info.value) == message


def test_merge_by_item_without_key_in_lower_layer_names_both_files(write_repo: WriteRepo) -> None:
    message = resolve_error(
        write_repo,
        {
            "base/tools.toml": '[[tools]]\nname = "search"\n\n[[tools]]\ntimeout = 1\n',
            "overlays/dev/tools.toml": '[tools]\n"$merge_by" = "name"\n"$items" = [{ name = "search" }]\n',
        },
    )
    assert message == (
        "overlays/dev/tools.toml:1: tools[1]: every item merged by 'name' must be a table "
        "carrying 'name' (set in base/tools.toml:1)"
    )


# -- errors -------------------------------------------------------------------------------------

REPLACE_HINT = '(use {"$replace" = ...} to change the type)'


@pytest.mark.parametrize(
    ("lower", "higher", "message"),
    [
        pytest.param(
            {"a": 1},
            {"a": {"b": 1}},
            f"<value>: type conflict at a: this sets a table, a lower layer sets a number {REPLACE_HINT}",
            id="table-over-number",
        ),
        pytest.param(
            {"a": {"b": {"c": 1}}},
            {"a": {"b": "x"}},
            f"<value>: type conflict at a.b: this sets a string, a lower layer sets a table {REPLACE_HINT}",
            id="string-over-table-nested",
        ),
        pytest.param(
            {"a": "x"},
            {"a": 1},
            f"<value>: type conflict at a: this sets a number, a lower layer sets a string {REPLACE_HINT}",
            id="number-over-string",
        ),
        pytest.param(
            {"a": True},
            {"a": "yes"},
            f"<value>: type conflict at a: this sets a string, a lower layer sets a boolean {REPLACE_HINT}",
            id="string-over-boolean",
        ),
        pytest.param(
            {"a": {"b": 1}},
            {"a": [1]},
            f"<value>: type conflict at a: this sets an array, a lower layer sets a table {REPLACE_HINT}",
            id="array-over-table",
        ),
        pytest.param(
            {"a": {"x": 1}},
            {"a": {"secret": "openai/api-key"}},
            f"<value>: type conflict at a: this sets a string, a lower layer sets a table {REPLACE_HINT}",
            id="secret-over-table",
        ),
        pytest.param(
            {"a": 1},
            {"a": {"$bogus": 1}},
            "<value>: unknown directive '$bogus' at a "
            "(known: $append, $delete, $merge_by with $items, $prepend, $replace)",
            id="unknown-directive",
        ),
        pytest.param(
            {},
            {"$schema": "https://example.com/s.json"},
            "<value>: unknown directive '$schema' at top level "
            "(known: $append, $delete, $merge_by with $items, $prepend, $replace)",
            id="unknown-directive-top-level",
        ),
        pytest.param(
            {"a": {"b": 1}},
            {"a": {"$delete": True, "b": 2}},
            "<value>: a: a directive cannot be mixed with ordinary keys",
            id="directive-mixed-with-keys",
        ),
        pytest.param(
            {"a": [1]},
            {"a": {"$append": [2], "$prepend": [0]}},
            "<value>: a: directives $append, $prepend cannot be combined",
            id="directives-combined",
        ),
        pytest.param(
            {"a": 1},
            {"a": {"$delete": False}},
            "<value>: a: $delete must be true",
            id="delete-false",
        ),
        pytest.param(
            {"a": [1]},
            {"a": {"$append": 2}},
            "<value>: a: $append takes an array",
            id="append-not-an-array",
        ),
        pytest.param(
            {"a": 1},
            {"a": {"$prepend": [2]}},
            "<value>: a: $prepend needs an array below, but a lower layer sets a number",
            id="prepend-over-number",
        ),
        pytest.param(
            {"a": [1]},
            {"a": [None]},
            "<value>: a[0]: an array item cannot be deleted here (use $merge_by to delete matching items)",
            id="null-array-item",
        ),
        pytest.param(
            {"a": []},
            {"a": {"$merge_by": "", "$items": []}},
            "<value>: a: $merge_by takes a key name",
            id="merge-by-empty-key",
        ),
        pytest.param(
            {"a": []},
            {"a": {"$merge_by": "name", "$items": {"name": "x"}}},
            "<value>: a: $items takes an array",
            id="items-not-an-array",
        ),
    ],
)
def test_merge_errors(lower: Any, higher: Any, message: str) -> None:
    with pytest.raises(MergeError) as info:
        lamina.merge(lower, higher)
    assert str(info.value) == message
    assert isinstance(info.value, InputError)
    assert info.value.exit_code == 2


def test_type_conflict_names_both_places(write_repo: WriteRepo) -> None:
    message = resolve_error(
        write_repo,
        {
            "base/agent.toml": '[agent]\nmodel = "small"\n',
            "overlays/dev/patch.toml": '[agent]\n# bigger\nmodel = { name = "big" }\n',
        },
    )
    assert message == (
        "overlays/dev/patch.toml:3: type conflict at agent.model: this sets a table, "
        f"base/agent.toml:2 sets a string {REPLACE_HINT}"
    )


def test_type_conflict_between_files_of_one_layer_names_both_files(write_repo: WriteRepo) -> None:
    message = resolve_error(
        write_repo,
        {
            "base/a.toml": "[limits]\ncalls = 5\n",
            "base/b.yaml": "limits:\n  calls:\n    max: 5\n",
        },
    )
    assert message == (
        "base/b.yaml:2: type conflict at limits.calls: this sets a table, "
        f"base/a.toml:2 sets a number {REPLACE_HINT}"
    )


def test_type_conflict_in_cluster_layer_names_the_overlay(write_repo: WriteRepo) -> None:
    message = resolve_error(
        write_repo,
        {
            "base/agent.toml": "max_tokens = 10\n",
            "overlays/dev/patch.toml": "max_tokens = 20\n",
            "clusters/dev-1.json": '{\n  "max_tokens": "many"\n}\n',
        },
    )
    assert message == (
        "clusters/dev-1.json:2: type conflict at max_tokens: this sets a string, "
        f"overlays/dev/patch.toml:1 sets a number {REPLACE_HINT}"
    )


def test_unknown_directive_is_error(write_repo: WriteRepo) -> None:
    message = resolve_error(
        write_repo,
        {
            "base/agent.toml": 'topics = ["a"]\n',
            "clusters/dev-1.toml": '# more topics\ntopics = { "$appendd" = ["b"] }\n',
        },
    )
    assert message == (
        "clusters/dev-1.toml:2: unknown directive '$appendd' at topics "
        "(known: $append, $delete, $merge_by with $items, $prepend, $replace)"
    )


def test_directive_mixed_with_keys_is_error(write_repo: WriteRepo) -> None:
    message = resolve_error(
        write_repo,
        {
            "base/agent.toml": '[memory]\nurl = "x"\n',
            "overlays/dev/patch.yaml": "memory:\n  $replace: {}\n  url: y\n",
        },
    )
    assert message == "overlays/dev/patch.yaml:1: memory: a directive cannot be mixed with ordinary keys"


def test_directive_on_whole_file_is_error(write_repo: WriteRepo) -> None:
    message = resolve_error(
        write_repo,
        {"base/agent.toml": 'model = "small"\n', "overlays/dev/patch.toml": '"$delete" = true\n'},
    )
    assert message == "overlays/dev/patch.toml: directives cannot apply to a whole file"


def test_merge_leaves_inputs_untouched() -> None:
    lower = {"tools": copy.deepcopy(TOOLS), "topics": ["a"], "memory": {"url": "x"}}
    higher = {
        "tools": {"$merge_by": "name", "$items": [{"name": "search", "limits": {"rate": 1}}]},
        "topics": {"$append": ["b"]},
        "memory": {"url": {"$delete": True}},
    }
    lower_before = copy.deepcopy(lower)
    higher_before = copy.deepcopy(higher)
    lamina.merge(lower, higher)
    assert lower == lower_before
    assert higher == higher_before
