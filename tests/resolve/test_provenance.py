"""Provenance (SPEC section 2) and the ``explain`` JSON shape (SPEC section 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import lamina
from conftest import WriteRepo
from lamina.errors import UnknownTargetError

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[environments.prod-eu]
extends = "prod"
upstream = "dev"

[clusters.dev-1]
environment = "dev"

[clusters.eu-1]
environment = "prod-eu"
"""

LAYERS = {
    "base/agent.toml": """
        # Defaults for every target.

        [agent]
        model = "small"   # cheap default
        temperature = 0.2
        name = "${env.name}-agent"
        """,
    "overlays/prod/patch.yaml": """
        agent:
          # Production answers customers:
          # the quality bar was measured on the big model.
          model: big
        """,
    "overlays/prod-eu/patch.json": """
        {
          "agent": {
            "model": "big-eu"
          }
        }
        """,
    "clusters/eu-1.toml": """
        [agent]
        model = "big-eu-2"   # lamina: allow-plaintext; eu-1 runs the newer build
        temperature = 0.1
        """,
}


def resolve(
    write_repo: WriteRepo, files: dict[str, str], target: str = "prod-eu/eu-1"
) -> lamina.ResolvedConfig:
    root = write_repo({"lamina.toml": FLEET, **files})
    with lamina.Repository(root) as repo:
        return repo.resolve(target)


def explain(write_repo: WriteRepo, key: str, files: dict[str, str] | None = None) -> dict[str, Any]:
    return resolve(write_repo, LAYERS if files is None else files).explain(key).to_json()


def test_explain_lists_every_layer_lowest_first_winner_last(write_repo: WriteRepo) -> None:
    assert explain(write_repo, "agent.model") == {
        "target": "prod-eu/eu-1",
        "key": "agent.model",
        "value": "big-eu-2",
        "layers": [
            {
                "layer": "base",
                "file": "base/agent.toml",
                "line": 4,
                "value": "small",
                "reason": "cheap default",
            },
            {
                "layer": "overlays/prod",
                "file": "overlays/prod/patch.yaml",
                "line": 4,
                "value": "big",
                "reason": "Production answers customers: the quality bar was measured on the big model.",
            },
            {
                "layer": "overlays/prod-eu",
                "file": "overlays/prod-eu/patch.json",
                "line": 3,
                "value": "big-eu",
                "reason": None,
            },
            {
                "layer": "clusters/eu-1",
                "file": "clusters/eu-1.toml",
                "line": 2,
                "value": "big-eu-2",
                "reason": "eu-1 runs the newer build",
            },
        ],
    }


def test_explain_json_shape_is_stable(write_repo: WriteRepo) -> None:
    shape = explain(write_repo, "agent.temperature")
    text = json.dumps(shape)
    assert list(json.loads(text)) == ["target", "key", "value", "layers"]
    for layer in shape["layers"]:
        assert list(layer) == ["layer", "file", "line", "value", "reason"]


def test_explain_skips_layers_that_do_not_set_the_key(write_repo: WriteRepo) -> None:
    shape = explain(write_repo, "agent.temperature")
    assert [(item["file"], item["line"], item["value"]) for item in shape["layers"]] == [
        ("base/agent.toml", 5, 0.2),
        ("clusters/eu-1.toml", 3, 0.1),
    ]
    assert shape["value"] == 0.1


def test_explain_shows_written_values_and_the_resolved_one(write_repo: WriteRepo) -> None:
    shape = explain(write_repo, "agent.name")
    assert shape["value"] == "prod-eu-agent"
    assert [item["value"] for item in shape["layers"]] == ["${env.name}-agent"]


def test_explain_of_a_table_lists_the_tables_written(write_repo: WriteRepo) -> None:
    shape = explain(write_repo, "agent")
    assert shape["value"] == {"model": "big-eu-2", "temperature": 0.1, "name": "prod-eu-agent"}
    assert [(item["file"], item["line"]) for item in shape["layers"]] == [
        ("base/agent.toml", 3),
        ("overlays/prod/patch.yaml", 1),
        ("overlays/prod-eu/patch.json", 2),
        ("clusters/eu-1.toml", 1),
    ]
    # the file's opening comment is cut off from [agent] by a blank line
    assert shape["layers"][0]["reason"] is None


@pytest.mark.parametrize(
    ("text", "value", "reason"),
    [
        pytest.param('model = "big"  # bigger is better\n', "big", "bigger is better", id="trailing"),
        pytest.param('# bigger is better\nmodel = "big"\n', "big", "bigger is better", id="line-above"),
        pytest.param(
            '# bigger\n#\n# is better\nmodel = "big"\n', "big", "bigger is better", id="several-lines-above"
        ),
        pytest.param('# above\nmodel = "big"  # trailing\n', "big", "trailing", id="trailing-wins"),
        pytest.param('# detached\n\nmodel = "big"\n', "big", None, id="blank-line-detaches"),
        pytest.param('model = "big #1"\n', "big #1", None, id="hash-inside-string"),
        pytest.param("model = 'big # one'  # quoted\n", "big # one", "quoted", id="hash-inside-literal"),
        pytest.param('model = "big"\n', "big", None, id="none"),
        pytest.param("model = 'big' # lamina: allow-plaintext\n", "big", None, id="only-allow-plaintext"),
        pytest.param('x = 1  # about x\nmodel = "big"\n', "big", None, id="comment-of-another-key"),
    ],
)
def test_reason_is_the_comment_on_the_line_or_directly_above(
    write_repo: WriteRepo, text: str, value: str, reason: str | None
) -> None:
    files = {"base/agent.toml": 'model = "small"\n', "clusters/dev-1.toml": text}
    setting = resolve(write_repo, files, "dev/dev-1").explain("model").layers[-1]
    assert setting.file == "clusters/dev-1.toml"
    assert setting.value == value
    assert setting.reason == reason


def test_explain_deleted_key_shows_the_deletion(write_repo: WriteRepo) -> None:
    files = {
        "base/agent.toml": "[agent]\ntemperature = 0.2\n",
        "overlays/dev/patch.yaml": "agent:\n  temperature: null  # the model picks\n",
    }
    shape = resolve(write_repo, files, "dev/dev-1").explain("agent.temperature").to_json()
    assert shape == {
        "target": "dev/dev-1",
        "key": "agent.temperature",
        "value": None,
        "layers": [
            {"layer": "base", "file": "base/agent.toml", "line": 2, "value": 0.2, "reason": None},
            {
                "layer": "overlays/dev",
                "file": "overlays/dev/patch.yaml",
                "line": 2,
                "value": None,
                "reason": "the model picks",
            },
        ],
    }


def test_explain_item_inside_merge_by_array(write_repo: WriteRepo) -> None:
    files = {
        "base/tools.toml": '[[tools]]\nname = "search"\ntimeout = 5\n',
        "overlays/dev/tools.toml": (
            '# search is slow on dev clusters\ntools = { "$merge_by" = "name", "$items" = ['
            '{ name = "search", timeout = 9 }] }\n'
        ),
    }
    shape = resolve(write_repo, files, "dev/dev-1").explain("tools[0].timeout").to_json()
    assert shape["value"] == 9
    assert [(item["file"], item["line"], item["reason"]) for item in shape["layers"]] == [
        ("base/tools.toml", 3, None),
        ("overlays/dev/tools.toml", 2, "search is slow on dev clusters"),
    ]


def test_explain_file_reference_names_the_file(write_repo: WriteRepo) -> None:
    files = {
        "base/agent.toml": 'prompt = { file = "prompts/system.txt" }  # the support persona\n',
        "base/prompts/system.txt": "Be kind.\n",
    }
    shape = resolve(write_repo, files, "dev/dev-1").explain("prompt").to_json()
    assert shape == {
        "target": "dev/dev-1",
        "key": "prompt",
        "value": "Be kind.\n",
        "layers": [
            {
                "layer": "base",
                "file": "base/agent.toml",
                "line": 1,
                "value": {"file": "base/prompts/system.txt"},
                "reason": "the support persona",
            }
        ],
    }


def test_explain_example_fleet(example_repo: Path) -> None:
    with lamina.Repository(example_repo) as repo:
        shape = repo.resolve("production-eu/prod-eu-1").explain("guardrails.max_tool_calls").to_json()
    assert [(item["layer"], item["value"], item["reason"]) for item in shape["layers"]] == [
        ("base", 12, None),
        ("overlays/production", 10, "bounded cost per conversation"),
        ("overlays/production-eu", 8, "EU launch starts tighter than US production"),
    ]
    assert shape["value"] == 8


def test_explain_unknown_key_is_error(write_repo: WriteRepo) -> None:
    config = resolve(write_repo, LAYERS)
    with pytest.raises(UnknownTargetError) as info:
        config.explain("agent.modle")
    assert str(info.value) == "no layer of prod-eu/eu-1 sets 'agent.modle'"
